import { parseSshPublicKey } from "../authz/ssh-public-key.ts";
import { escapeUnsafeText } from "../store/audit-text.ts";
import type { WireSigner } from "./protocol.ts";

/**
 * The operator signers a hub hands over at enrollment decide who may approve destructive
 * operations on this host, so they are trusted only when the operator at the console accepted
 * them by fingerprint (docs/hub-protocol.md#enrollment). A hub that lies about the signers is
 * caught here, before anything is written.
 */
export interface OfferedSigner {
  name: string;
  role: WireSigner["role"];
  /** OpenSSH form, `SHA256:<base64 of SHA-256 of the key blob, no padding>`. */
  fingerprint: string;
}

/** Decides on the signers a hub offered; true = write the identity with them. */
export type SignerAcceptance = (offered: readonly OfferedSigner[]) => boolean | Promise<boolean>;

/** The form `--accept-signers` takes, one fingerprint. */
export const FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** Fingerprints of the signers in an enrollment answer; an unusable key is a SshKeyError. */
export function offeredSigners(signers: readonly WireSigner[]): OfferedSigner[] {
  return signers.map((s) => ({
    name: s.name,
    role: s.role,
    fingerprint: parseSshPublicKey(s.public_key).fingerprint,
  }));
}

/** Accepts exactly this set of fingerprints: none missing, none extra. */
export function acceptExactly(fingerprints: readonly string[]): SignerAcceptance {
  const wanted = new Set(fingerprints);
  return (offered) => {
    const got = new Set(offered.map((o) => o.fingerprint));
    return got.size === wanted.size && [...got].every((f) => wanted.has(f));
  };
}

/** One line per signer: fingerprint, role, name (names come from the hub: shown escaped). */
export function describeSigners(offered: readonly OfferedSigner[]): string {
  if (offered.length === 0) return "  (none)\n";
  return offered
    .map((o) => `  ${o.fingerprint}  ${o.role.padEnd(11)}  ${escapeUnsafeText(o.name)}\n`)
    .join("");
}

/** The exact flag that accepts these signers. */
export function acceptFlag(offered: readonly OfferedSigner[]): string {
  return `--accept-signers ${offered.map((o) => o.fingerprint).join(",")}`;
}
