import { z } from "zod";

/**
 * An `ssh-ed25519` public key line whose blob is exactly the 51 bytes of an Ed25519 key
 * (length-prefixed "ssh-ed25519", then the 32-byte key), with an optional comment. The prefix
 * is that fixed header in base64; 68 characters hold 51 bytes with no padding bits, so one key
 * has exactly one spelling and two entries with the same key text are the same key.
 */
export const ED25519_KEY_LINE =
  /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}(?: [ -~]{1,200})?$/;

/** The same names the `signers` config key takes, so audit rows name one person. */
export const SIGNER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** At most this many enrolled signers: a set an operator can still read and check by eye. */
export const MAX_ROTATED_SIGNERS = 32;

const keyBlob = (line: string): string => line.split(" ")[1] ?? "";

const rotatedSigner = z.strictObject({
  name: z.string().regex(SIGNER_NAME, "must be 1-64 letters, digits, '.', '_', '@', '-'"),
  key: z.string().regex(ED25519_KEY_LINE, "not an ssh-ed25519 public key line"),
  role: z.enum(["operational", "recovery"]),
  expires: z.iso.datetime({ offset: true }).optional(),
});

/**
 * `signers.rotate`: the complete new set of enrolled signers (docs/architecture.md#operator-key-rotation).
 * It replaces the set the agent holds in its store; the configured signers are not part of it
 * and stay in force whatever it says.
 */
export const signersRotateParams = z.strictObject({
  signers: z
    .array(rotatedSigner)
    .max(MAX_ROTATED_SIGNERS)
    .superRefine((list, ctx) => {
      const names = new Map<string, number>();
      const keys = new Map<string, number>();
      list.forEach((s, i) => {
        const sameName = names.get(s.name);
        if (sameName !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [i, "name"],
            message: `duplicate signer name (also entry ${sameName})`,
          });
        }
        names.set(s.name, i);
        const blob = keyBlob(s.key);
        const sameKey = keys.get(blob);
        if (sameKey !== undefined) {
          // One key under two names or roles would make the role checks order-dependent.
          ctx.addIssue({
            code: "custom",
            path: [i, "key"],
            message: `the same key as entry ${sameKey}`,
          });
        }
        keys.set(blob, i);
      });
    }),
});

export type SignersRotateParams = z.output<typeof signersRotateParams>;
export type RotatedSigner = SignersRotateParams["signers"][number];
