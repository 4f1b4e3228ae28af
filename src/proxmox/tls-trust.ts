import { normalizeFingerprint } from "../tls/fingerprint.ts";
import { ProxmoxConfigError, type TlsFailure } from "./transport-errors.ts";

/**
 * How the Proxmox server certificate is trusted (docs/architecture.md#tls-is-never-disabled):
 * - `fingerprint`: SHA-256 of the leaf certificate, the value `GET /nodes` shows as
 *   `ssl_fingerprint` (docs/proxmox-behaviour.md#ssl-fingerprint); the model PVE's own API client uses.
 * - `ca`: full verification against a CA, including the host or IP subjectAltName.
 * - `insecure`: no verification at all; explicit, and warned about.
 */
export type TlsTrust =
  | { kind: "fingerprint"; sha256: string }
  | { kind: "ca"; caPem: string }
  | { kind: "insecure" };

/** Validates a trust setting; the fingerprint comes back in canonical `AA:BB:…` form. */
export function normalizeTrust(trust: TlsTrust): TlsTrust {
  switch (trust?.kind) {
    case "fingerprint": {
      const fp = typeof trust.sha256 === "string" ? normalizeFingerprint(trust.sha256) : null;
      if (!fp) {
        throw new ProxmoxConfigError(
          "trust.sha256",
          "not a SHA-256 fingerprint (64 hex digits, optionally as AA:BB:… pairs)",
        );
      }
      return { kind: "fingerprint", sha256: fp };
    }
    case "ca":
      if (typeof trust.caPem !== "string" || !trust.caPem.includes("-----BEGIN CERTIFICATE-----")) {
        throw new ProxmoxConfigError("trust.caPem", "no PEM certificate found");
      }
      return { kind: "ca", caPem: trust.caPem };
    case "insecure":
      return { kind: "insecure" };
    default:
      throw new ProxmoxConfigError("trust.kind", "must be fingerprint, ca or insecure");
  }
}

const UNTRUSTED_CODES = new Set([
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
]);

/** Maps a TLS library error code to a failure kind, or undefined for non-TLS errors. */
export function classifyTlsCode(code: string | undefined): TlsFailure | undefined {
  if (!code) return undefined;
  if (code === "CERT_HAS_EXPIRED") return "expired";
  if (code === "CERT_NOT_YET_VALID") return "not_yet_valid";
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH") return "hostname";
  if (UNTRUSTED_CODES.has(code)) return "untrusted";
  if (/^(ERR_SSL|ERR_TLS|SSL_|TLS_)|CERT/.test(code)) return "handshake";
  return undefined;
}
