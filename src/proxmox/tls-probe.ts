import { isIP } from "node:net";
import { connect } from "node:tls";
import { sha256Fingerprint } from "../tls/fingerprint.ts";

/** The leaf certificate a server presents, read without sending any application data. */
export interface PresentedLeaf {
  /** SHA-256, colon form. */
  fingerprint: string;
  pem: string;
  validFrom: Date;
  validTo: Date;
}

export class TlsProbeError extends Error {
  override readonly name = "TlsProbeError";
  constructor(
    readonly code: string | undefined,
    readonly timedOut: boolean,
    detail: string,
  ) {
    super(detail);
  }
}

/**
 * Completes a TLS handshake with verification off, reads the leaf and closes. Nothing is
 * written after the handshake, so a wrong server never sees a request or the token
 * (docs/bun-runtime.md#tls-pinning: fetch's own checkServerIdentity cannot pin a self-signed leaf).
 */
export function probeLeaf(host: string, port: number, timeoutMs: number): Promise<PresentedLeaf> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      // SNI must be a host name, never an address (RFC 6066 §3).
      servername: isIP(host) ? undefined : host,
      rejectUnauthorized: false,
    });
    const fail = (err: TlsProbeError) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () =>
      fail(new TlsProbeError("ETIMEDOUT", true, `TLS probe timed out after ${timeoutMs} ms`)),
    );
    socket.once("error", (e: NodeJS.ErrnoException) =>
      fail(new TlsProbeError(e.code, false, e.message)),
    );
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      socket.destroy();
      if (!cert?.raw) {
        reject(new TlsProbeError(undefined, false, "server presented no certificate"));
        return;
      }
      const der = new Uint8Array(cert.raw);
      resolve({
        fingerprint: sha256Fingerprint(der),
        pem: derToPem(cert.raw),
        validFrom: new Date(cert.valid_from),
        validTo: new Date(cert.valid_to),
      });
    });
  });
}

function derToPem(der: Buffer): string {
  const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n");
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
}
