import { z } from "zod";
import { SIGNER_ROLES, type SignerRole } from "./roles.ts";
import { type Ed25519PublicKey, parseSshPublicKey, SshKeyError } from "./ssh-public-key.ts";

/**
 * Operator signers as configured (the `signers` config key):
 *   [{"name": "alice", "key": "ssh-ed25519 AAAA… comment", "role": "operational",
 *     "expires": "2027-06-01T00:00:00Z"}]
 * The schema is the file form; `toSigners` turns a validated list into keys ready to verify.
 */

export interface Signer {
  name: string;
  role: SignerRole;
  publicKey: Ed25519PublicKey;
  /** The OpenSSH SHA256 fingerprint, the id audit rows and messages use. */
  keyId: string;
  /** Milliseconds since the epoch; absent = no expiry. */
  expiresAt?: number;
}

function keyProblem(text: string): string | null {
  try {
    parseSshPublicKey(text);
    return null;
  } catch (e) {
    if (e instanceof SshKeyError) return e.message;
    throw e;
  }
}

export const signerEntrySchema = z.strictObject({
  name: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/,
      "must be 1-64 letters, digits, '.', '_', '@', '-'",
    ),
  key: z.string().superRefine((text, ctx) => {
    const problem = keyProblem(text);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
  role: z.enum(SIGNER_ROLES),
  expires: z.iso.datetime({ offset: true }).optional(),
});

export type SignerEntry = z.infer<typeof signerEntrySchema>;

/** A list where every name and every key appears once, so audit rows name one person. */
export const signersSchema = z.array(signerEntrySchema).superRefine((list, ctx) => {
  const names = new Map<string, number>();
  const keys = new Map<string, number>();
  list.forEach((entry, i) => {
    const prevName = names.get(entry.name);
    if (prevName !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [i, "name"],
        message: `duplicate signer name (also entry ${prevName})`,
      });
    }
    names.set(entry.name, i);
    if (keyProblem(entry.key) !== null) return;
    const id = parseSshPublicKey(entry.key).fingerprint;
    const prevKey = keys.get(id);
    if (prevKey !== undefined) {
      // One key with two roles would make role checks depend on which entry matched first.
      ctx.addIssue({
        code: "custom",
        path: [i, "key"],
        message: `key ${id} is already configured (entry ${prevKey})`,
      });
    }
    keys.set(id, i);
  });
});

export function toSigners(entries: readonly SignerEntry[]): Signer[] {
  return entries.map((e) => {
    const publicKey = parseSshPublicKey(e.key);
    const signer: Signer = {
      name: e.name,
      role: e.role,
      publicKey: { key: publicKey.key, blob: publicKey.blob, fingerprint: publicKey.fingerprint },
      keyId: publicKey.fingerprint,
    };
    if (e.expires !== undefined) signer.expiresAt = Date.parse(e.expires);
    return signer;
  });
}

/** The signer list failed validation; `path` points into the list (e.g. [1, "key"]). */
export class SignersConfigError extends Error {
  override readonly name = "SignersConfigError";
  constructor(
    readonly path: readonly (string | number)[],
    readonly problem: string,
  ) {
    super(
      `signers${path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("")}: ${problem}`,
    );
  }
}

/** Validates an untrusted value (config file, `--signers` file) into signers. */
export function parseSigners(input: unknown): Signer[] {
  const parsed = signersSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SignersConfigError(
      (issue?.path ?? []).filter((p) => typeof p !== "symbol") as (string | number)[],
      issue?.message ?? "invalid",
    );
  }
  return toSigners(parsed.data);
}
