import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { Ed25519 } from "../authz/ed25519.ts";

/**
 * How every agent → hub request is signed (docs/hub-protocol.md "Request signing"). The bearer
 * credential says which host claims to speak; the ed25519 signature, made with the host key
 * whose private half never leaves the box, proves it, and binds method, path, body, time and a
 * fresh nonce so a captured request cannot be replayed or re-targeted.
 */
export const SIGNING_SCHEME = "felhom-hub-request/v1";

export const SIGNATURE_HEADERS = {
  host: "x-felhom-host",
  timestamp: "x-felhom-timestamp",
  nonce: "x-felhom-nonce",
  signature: "x-felhom-signature",
} as const;

/** During enrollment there is no host id yet; the request proves possession of the new key. */
export const ENROLL_SIGNER = "enroll";

/** How far the hub accepts the agent's clock to be off, and how long it remembers nonces. */
export const MAX_CLOCK_SKEW_S = 300;

export interface SignedParts {
  method: string;
  /** Path and query exactly as sent, e.g. `/v1/hosts/h1/jobs`. */
  pathAndQuery: string;
  hostId: string;
  /** Unix seconds. */
  timestamp: number;
  nonce: string;
  body: Uint8Array;
}

/** The exact bytes that are signed: one field per line, the body as its SHA-256 hex. */
export function signingInput(p: SignedParts): Uint8Array {
  const text = [
    SIGNING_SCHEME,
    p.method.toUpperCase(),
    p.pathAndQuery,
    p.hostId,
    String(p.timestamp),
    p.nonce,
    bytesToHex(sha256(p.body)),
  ].join("\n");
  return new TextEncoder().encode(text);
}

export function newNonce(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64url");
}

export async function signRequest(
  ed: Ed25519,
  seed: Uint8Array,
  p: SignedParts,
): Promise<Record<string, string>> {
  const sig = await ed.sign(signingInput(p), seed);
  return {
    [SIGNATURE_HEADERS.host]: p.hostId,
    [SIGNATURE_HEADERS.timestamp]: String(p.timestamp),
    [SIGNATURE_HEADERS.nonce]: p.nonce,
    [SIGNATURE_HEADERS.signature]: Buffer.from(sig).toString("base64"),
  };
}

export type SignatureCheck =
  | { ok: true; nonce: string; timestamp: number }
  | { ok: false; reason: "missing" | "malformed" | "clock_skew" | "bad_signature" };

/** The hub side of the scheme (used by the simulator); nonce memory is the caller's. */
export async function checkRequestSignature(
  ed: Ed25519,
  publicKey: Uint8Array,
  req: {
    method: string;
    pathAndQuery: string;
    headers: { get(name: string): string | null };
    body: Uint8Array;
  },
  expectedHostId: string,
  nowMs: number,
): Promise<SignatureCheck> {
  const host = req.headers.get(SIGNATURE_HEADERS.host);
  const ts = req.headers.get(SIGNATURE_HEADERS.timestamp);
  const nonce = req.headers.get(SIGNATURE_HEADERS.nonce);
  const sig = req.headers.get(SIGNATURE_HEADERS.signature);
  if (host === null || ts === null || nonce === null || sig === null) {
    return { ok: false, reason: "missing" };
  }
  if (host !== expectedHostId || !/^\d{1,12}$/.test(ts) || !/^[A-Za-z0-9_-]{22,64}$/.test(nonce)) {
    return { ok: false, reason: "malformed" };
  }
  const sigBytes = Buffer.from(sig, "base64");
  if (sigBytes.length !== 64) return { ok: false, reason: "malformed" };
  const timestamp = Number(ts);
  if (Math.abs(nowMs / 1000 - timestamp) > MAX_CLOCK_SKEW_S) {
    return { ok: false, reason: "clock_skew" };
  }
  const input = signingInput({
    method: req.method,
    pathAndQuery: req.pathAndQuery,
    hostId: host,
    timestamp,
    nonce,
    body: req.body,
  });
  const good = await ed.verify(new Uint8Array(sigBytes), input, publicKey);
  return good ? { ok: true, nonce, timestamp } : { ok: false, reason: "bad_signature" };
}
