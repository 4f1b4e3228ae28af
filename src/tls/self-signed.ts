// @peculiar/x509 relies on decorator metadata; it must be loaded first (docs/bun-runtime.md#local-api-tls).
import "reflect-metadata";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";

export interface SelfSignedCert {
  /** PEM certificate. */
  cert: string;
  /** PEM PKCS#8 private key. Secret. */
  key: string;
}

export interface SelfSignedOptions {
  commonName: string;
  /** Host names and IP addresses to put in the subjectAltName; IPs are detected. */
  altNames: string[];
  /** Validity in days from now (default 3650). */
  days?: number;
  now?: Date;
}

/**
 * An ECDSA P-256 self-signed server certificate, made with WebCrypto so it works inside a
 * compiled binary with no openssl CLI (docs/bun-runtime.md#local-api-tls).
 */
export async function createSelfSignedCert(opts: SelfSignedOptions): Promise<SelfSignedCert> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
  const keys = (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const now = opts.now ?? new Date();
  // Backdate a little so a guest with a slightly slow clock still accepts the certificate.
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(now.getTime() + (opts.days ?? 3650) * 24 * 60 * 60 * 1000);
  const serial = Buffer.from(crypto.getRandomValues(new Uint8Array(16)));
  serial[0] = (serial[0] ?? 0) & 0x7f; // positive serial number (RFC 5280 §4.1.2.2)
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString("hex"),
    name: `CN=${opts.commonName.replace(/[,=+<>#;\\"]/g, "_")}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        opts.altNames.map((n) => ({
          type: isIP(n) ? ("ip" as const) : ("dns" as const),
          value: n,
        })),
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  const key = x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
  return { cert: cert.toString("pem"), key };
}
