import { encodeBase64, encodeBase64Url } from "./base64.ts";
import type { Ed25519 } from "./ed25519.ts";
import type { Envelope, GuestRef, OpPayload } from "./envelope.ts";
import { opPayloadSchema } from "./envelope.ts";
import type { OpName } from "./operations.ts";
import type { Ed25519SeedKey } from "./sshsig.ts";
import { OP_NAMESPACE, signSshsig } from "./sshsig.ts";

/** 128 bits, the minimum the payload schema accepts, as unpadded base64url. */
export function newNonce(random: (n: number) => Uint8Array = randomBytes): string {
  return encodeBase64Url(random(16));
}

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

export interface OpRequest {
  op: OpName;
  host: string;
  /** The guest of a `guest.*` operation; absent for host-level operations (and required so). */
  guest?: GuestRef;
  params?: Record<string, unknown>;
  job?: string;
  /** Seconds since the epoch. */
  now: number;
  ttlSeconds: number;
  nonce?: string;
}

/**
 * The payload an operator signs, checked against the same schema the verifier uses; throws
 * its ZodError when, among others, a guest operation names no guest or a host-level one does.
 */
export function buildPayload(req: OpRequest): OpPayload {
  const payload = {
    v: 1,
    op: req.op,
    host: req.host,
    ...(req.guest === undefined ? {} : { guest: req.guest }),
    params: req.params ?? {},
    iat: req.now,
    exp: req.now + req.ttlSeconds,
    nonce: req.nonce ?? newNonce(),
    ...(req.job === undefined ? {} : { job: req.job }),
  };
  return opPayloadSchema.parse(payload);
}

/**
 * Serialises the payload once and signs exactly those bytes, like
 * `ssh-keygen -Y sign -n felhom.op/v1` over the same file would.
 */
export async function signEnvelope(
  ed: Ed25519,
  key: Ed25519SeedKey,
  payload: OpPayload,
): Promise<Envelope> {
  return signPayloadBytes(ed, key, new TextEncoder().encode(JSON.stringify(payload)));
}

/** For payload bytes produced elsewhere (tests, other tools); the bytes are not checked. */
export async function signPayloadBytes(
  ed: Ed25519,
  key: Ed25519SeedKey,
  bytes: Uint8Array,
): Promise<Envelope> {
  const signature = await signSshsig(ed, key, bytes, OP_NAMESPACE);
  return { payload: encodeBase64(bytes), signature };
}
