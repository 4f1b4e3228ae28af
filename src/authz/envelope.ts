import { z } from "zod";
import { decodeBase64Strict } from "./base64.ts";
import { isGuestOp, opNameSchema } from "./operations.ts";

/**
 * The signed-operation envelope and its payload (docs/architecture.md#signed-operations):
 *   {"payload": "<base64 of JSON bytes>", "signature": "<armored SSHSIG>"}
 * The signature covers the exact payload bytes, so the payload travels as base64 and is
 * parsed only after the signature verified.
 */

/** Bounds keep a hostile envelope from costing more than a normal one. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;
const MAX_SIGNATURE_CHARS = 4096;

export const envelopeSchema = z.strictObject({
  payload: z
    .string()
    .min(1)
    .max(Math.ceil(MAX_PAYLOAD_BYTES / 3) * 4),
  signature: z.string().min(1).max(MAX_SIGNATURE_CHARS),
});

export type Envelope = z.infer<typeof envelopeSchema>;

/** ≥128 bits: 32+ lowercase hex digits or 22+ unpadded base64url characters. */
export const nonceSchema = z
  .string()
  .max(128)
  .refine((n) => /^[0-9a-f]{32,}$/.test(n) || /^[A-Za-z0-9_-]{22,}$/.test(n), {
    message: "nonce must carry at least 128 bits (32+ hex digits or 22+ base64url characters)",
  });

const seconds = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const guestRefSchema = z.strictObject({
  // Proxmox vmids are 100..999999999 (docs/proxmox-behaviour.md#api-schema-source, pve-vmid).
  vmid: z.number().int().min(100).max(999_999_999),
  /** The agent-assigned guest identity; binds the signature to one guest across vmid reuse. */
  uid: z.string().min(1).max(128).optional(),
});

export type GuestRef = z.infer<typeof guestRefSchema>;

/**
 * `guest` is present exactly for `guest.*` operations. A host-level operation (`storage.*`,
 * `signers.rotate`, `agent.update`) acts on no guest, and a signature must not be readable as
 * approving it "on" one; a guest operation without a guest would approve it on any. Either
 * mismatch is a property of the signed bytes alone, so it is `malformed` (also for `op check`,
 * which has no action to bind to), never a `binding_mismatch`.
 */
export const opPayloadSchema = z
  .strictObject({
    v: z.literal(1),
    op: opNameSchema,
    host: z.string().min(1).max(253),
    guest: guestRefSchema.optional(),
    params: z.record(z.string(), z.json()),
    iat: seconds,
    exp: seconds,
    nonce: nonceSchema,
    job: z.string().min(1).max(128).optional(),
  })
  .refine((p) => p.exp > p.iat, { message: "exp must be after iat", path: ["exp"] })
  .refine((p) => !isGuestOp(p.op) || p.guest !== undefined, {
    message: "a guest.* operation must name its guest",
    path: ["guest"],
  })
  .refine((p) => isGuestOp(p.op) || p.guest === undefined, {
    message: "a host-level operation must not name a guest",
    path: ["guest"],
  });

export type OpPayload = z.infer<typeof opPayloadSchema>;

export type DecodedEnvelope =
  | { ok: true; envelope: Envelope; payloadBytes: Uint8Array }
  | { ok: false; problem: string };

/** Shape and base64 only; nothing inside the payload is looked at. */
export function decodeEnvelope(input: unknown): DecodedEnvelope {
  const parsed = envelopeSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "envelope";
    return { ok: false, problem: `${where}: ${issue?.message ?? "invalid"}` };
  }
  const payloadBytes = decodeBase64Strict(parsed.data.payload);
  if (!payloadBytes) return { ok: false, problem: "payload: not canonical base64" };
  if (payloadBytes.length > MAX_PAYLOAD_BYTES) {
    return { ok: false, problem: `payload: larger than ${MAX_PAYLOAD_BYTES} bytes` };
  }
  return { ok: true, envelope: parsed.data, payloadBytes };
}

/**
 * A signed "__proto__" member would be dropped by object validation, so the agent would run
 * params other than the signed ones; such a payload is refused instead.
 */
function refuseProtoKey(key: string, value: unknown): unknown {
  if (key === "__proto__") throw new SyntaxError('member "__proto__" is not allowed');
  return value;
}

export type ParsedPayload = { ok: true; payload: OpPayload } | { ok: false; problem: string };

/** Strict UTF-8, JSON, then the schema. Call only on bytes whose signature verified. */
export function parsePayload(bytes: Uint8Array): ParsedPayload {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes), refuseProtoKey);
  } catch (e) {
    return { ok: false, problem: `payload is not UTF-8 JSON: ${(e as Error).message}` };
  }
  const parsed = opPayloadSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `payload.${issue.path.join(".")}` : "payload";
    return { ok: false, problem: `${where}: ${issue?.message ?? "invalid"}` };
  }
  return { ok: true, payload: parsed.data };
}
