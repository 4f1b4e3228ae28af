import { createHash, X509Certificate } from "node:crypto";

/**
 * SHA-256 certificate fingerprints in the form Proxmox shows them: uppercase hex pairs joined
 * by colons (`GET /nodes` ssl_fingerprint, docs/proxmox-behaviour.md#ssl-fingerprint), which is also what
 * `cert.fingerprint256` gives in Bun and Node.
 */
const COLON_FORM = /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31}$/;
const BARE_FORM = /^[0-9A-Fa-f]{64}$/;

/** Returns the canonical `AA:BB:…` form, or null when `text` is not a SHA-256 fingerprint. */
export function normalizeFingerprint(text: string): string | null {
  const t = text.trim();
  let hex: string;
  if (COLON_FORM.test(t)) hex = t.replaceAll(":", "");
  else if (BARE_FORM.test(t)) hex = t;
  else return null;
  return hex.toUpperCase().match(/../g)?.join(":") ?? null;
}

export function sha256Fingerprint(der: Uint8Array): string {
  return createHash("sha256")
    .update(der)
    .digest("hex")
    .toUpperCase()
    .match(/../g)
    ?.join(":") as string;
}

/** Leaf SHA-256 of a PEM certificate, colon form. */
export function pemFingerprint(pem: string): string {
  return sha256Fingerprint(new X509Certificate(pem).raw);
}

/** SPKI pin in the `sha256//BASE64` form `curl --pinnedpubkey` takes. */
export function pemSpkiPin(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
  return `sha256//${createHash("sha256").update(spki).digest("base64")}`;
}
