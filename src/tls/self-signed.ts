import { isIP } from "node:net";
import {
  bitString,
  boolean,
  type Der,
  explicit,
  implicitPrimitive,
  namedBits,
  objectIdentifier,
  octetString,
  sequence,
  set,
  smallInteger,
  time,
  toPem,
  unsignedInteger,
  utf8String,
} from "./der.ts";

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

const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN_ALG = { name: "ECDSA", hash: "SHA-256" } as const;

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
} as const;

/** KeyUsage bit numbers (RFC 5280 §4.2.1.3). */
const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

export interface CertificateSpec {
  commonName: string;
  /** subjectAltName entries; IPs are detected. None: no subjectAltName extension. */
  altNames?: string[];
  /** A CA certificate (keyCertSign, cRLSign) instead of a TLS server one. */
  ca?: boolean;
  notBefore: Date;
  notAfter: Date;
  /** The certified key. */
  publicKey: CryptoKey;
  /** Who signs: its name and P-256 key pair. Absent: self-signed with `selfKey`. */
  issuer?: { commonName: string; privateKey: CryptoKey; publicKey: CryptoKey };
  /** The private half of `publicKey`, for a self-signed certificate. */
  selfKey?: CryptoKey;
  /** Big-endian serial; default 16 random bytes, positive (RFC 5280 §4.1.2.2). */
  serial?: Uint8Array;
}

/**
 * An X.509 v3 certificate for an ECDSA P-256 key, signed with ECDSA-SHA256, encoded by hand
 * (src/tls/der.ts) and signed with WebCrypto, so it needs neither the openssl command line,
 * which a host need not have, nor an ASN.1 library
 * (docs/bun-runtime.md#local-api-certificate-without-an-x509-library).
 */
export async function issueCertificate(spec: CertificateSpec): Promise<string> {
  const signingKey = spec.issuer?.privateKey ?? spec.selfKey;
  if (!signingKey) throw new Error("a certificate needs an issuer key or its own private key");
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", spec.publicKey));
  const keyId = await keyIdentifier(spec.publicKey);
  const algorithm = sequence(objectIdentifier(OID.ecdsaWithSha256));
  const extensions: Der[] = [
    extension(OID.basicConstraints, true, spec.ca ? sequence(boolean(true)) : sequence()),
    extension(
      OID.keyUsage,
      true,
      namedBits(
        spec.ca ? [KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign] : [KEY_USAGE.digitalSignature],
      ),
    ),
    ...(spec.ca
      ? []
      : [extension(OID.extKeyUsage, false, sequence(objectIdentifier(OID.serverAuth)))]),
    ...(spec.altNames && spec.altNames.length > 0
      ? [extension(OID.subjectAltName, false, sequence(...spec.altNames.map(generalName)))]
      : []),
    extension(OID.subjectKeyIdentifier, false, octetString(keyId)),
    // Required on a certificate a CA signed (RFC 5280 §4.2.1.1): `[0] keyIdentifier`.
    ...(spec.issuer
      ? [
          extension(
            OID.authorityKeyIdentifier,
            false,
            sequence(implicitPrimitive(0, await keyIdentifier(spec.issuer.publicKey))),
          ),
        ]
      : []),
  ];
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(spec.serial ?? randomSerial()),
    algorithm,
    name(spec.issuer?.commonName ?? spec.commonName),
    sequence(time(spec.notBefore), time(spec.notAfter)),
    name(spec.commonName),
    spki,
    explicit(3, sequence(...extensions)),
  );
  const raw = new Uint8Array(await crypto.subtle.sign(SIGN_ALG, signingKey, tbs));
  return toPem(sequence(tbs, algorithm, bitString(ecdsaSignatureDer(raw))), "CERTIFICATE");
}

/** A fresh P-256 key pair, exportable (its private half is written to the PEM file). */
export async function generateP256(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ECDSA_P256, true, ["sign", "verify"])) as CryptoKeyPair;
}

export async function privateKeyPem(key: CryptoKey): Promise<string> {
  return toPem(new Uint8Array(await crypto.subtle.exportKey("pkcs8", key)), "PRIVATE KEY");
}

/**
 * An ECDSA P-256 self-signed server certificate (docs/bun-runtime.md#local-api-tls), valid from
 * an hour ago, so a guest with a slightly slow clock still accepts it.
 */
export async function createSelfSignedCert(opts: SelfSignedOptions): Promise<SelfSignedCert> {
  const keys = await generateP256();
  const now = opts.now ?? new Date();
  const cert = await issueCertificate({
    commonName: opts.commonName,
    altNames: opts.altNames,
    notBefore: new Date(now.getTime() - 60 * 60 * 1000),
    notAfter: new Date(now.getTime() + (opts.days ?? 3650) * 24 * 60 * 60 * 1000),
    publicKey: keys.publicKey,
    selfKey: keys.privateKey,
  });
  return { cert, key: await privateKeyPem(keys.privateKey) };
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits (the EC point). */
async function keyIdentifier(publicKey: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  const point = await crypto.subtle.exportKey("raw", publicKey);
  return new Uint8Array(await crypto.subtle.digest("SHA-1", point));
}

function extension(oid: string, critical: boolean, value: Der): Der {
  // `critical` is DEFAULT FALSE: DER leaves a default value out.
  return critical
    ? sequence(objectIdentifier(oid), boolean(true), octetString(value))
    : sequence(objectIdentifier(oid), octetString(value));
}

/** `CN=<name>` as a one-attribute distinguished name. */
function name(commonName: string): Der {
  return sequence(set(sequence(objectIdentifier(OID.commonName), utf8String(commonName))));
}

/** dNSName `[2]` (IA5String) or iPAddress `[7]` (the address bytes), RFC 5280 §4.2.1.6. */
function generalName(n: string): Der {
  const family = isIP(n);
  if (family === 4) return implicitPrimitive(7, Uint8Array.from(n.split(".").map(Number)));
  if (family === 6) return implicitPrimitive(7, ipv6Bytes(n));
  if (!/^[\x21-\x7e]+$/.test(n)) throw new Error(`'${n}' is not a host name for a certificate`);
  return implicitPrimitive(2, new TextEncoder().encode(n));
}

/** The 16 bytes of an IPv6 address `isIP` accepted (`::` and a trailing dotted quad included). */
export function ipv6Bytes(text: string): Uint8Array {
  let s = text.replace(/%.*$/, "");
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** WebCrypto signs ECDSA as r‖s; X.509 wants `SEQUENCE { INTEGER r, INTEGER s }` (RFC 3279). */
function ecdsaSignatureDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return sequence(unsignedInteger(raw.subarray(0, half)), unsignedInteger(raw.subarray(half)));
}

function randomSerial(): Uint8Array {
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = ((serial[0] as number) & 0x7f) | 0x40; // positive, and 16 bytes long
  return serial;
}
