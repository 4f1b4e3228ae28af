import { createPrivateKey, X509Certificate } from "node:crypto";
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { pemFingerprint, pemSpkiPin } from "../tls/fingerprint.ts";
import { createSelfSignedCert } from "../tls/self-signed.ts";
import { isWildcardAddress } from "./listen-address.ts";

/** Key and certificate in one file, so a reader never sees a key from one run and a cert from another. */
export const LOCAL_API_TLS_FILE = "local-api-tls.pem";

export interface LocalApiCertificate {
  cert: string;
  /** Secret; never logged. */
  key: string;
  path: string;
  /** True when this call made it. */
  created: boolean;
  /** `AA:BB:…`, SHA-256 of the leaf (the agent's pin convention). */
  leafSha256: string;
  /** `sha256//BASE64` of the SPKI (what `curl --pinnedpubkey` takes). */
  spkiSha256: string;
  /** False when the kept certificate does not name the current listen address. */
  coversListen: boolean;
  /** True when the file was readable by others and was narrowed to 0600. */
  modeRepaired: boolean;
}

export class LocalApiCertError extends Error {
  override readonly name = "LocalApiCertError";
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/;
const KEY_BLOCK = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n?/;

function altNamesFor(listen: string): string[] {
  return isWildcardAddress(listen) ? [osHostname(), "localhost", "127.0.0.1"] : [listen];
}

function parse(path: string, text: string, listen: string) {
  const cert = CERT_BLOCK.exec(text)?.[0];
  const key = KEY_BLOCK.exec(text)?.[0];
  if (!cert || !key) {
    throw new LocalApiCertError(
      path,
      `${path} does not hold a certificate and a private key; remove it to make a new one (guests must then be given the new pins)`,
    );
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error("key does not match");
  } catch (err) {
    throw new LocalApiCertError(
      path,
      `${path} is unusable (${(err as Error).message}); remove it to make a new one (guests must then be given the new pins)`,
    );
  }
  const covers =
    isWildcardAddress(listen) ||
    x509.checkIP(listen) !== undefined ||
    x509.checkHost(listen) !== undefined;
  return { cert, key, covers };
}

/**
 * The local API's own certificate: made on first use (ECDSA P-256, SAN = the listen address),
 * kept 0600 in the state dir and reused, because guests pin it (docs/architecture.md#local-api) and a new one
 * would lock every controller out. A certificate that does not name a changed listen address is
 * still kept (pinning clients do not check names); `coversListen` says so.
 */
export async function ensureLocalApiCertificate(opts: {
  stateDir: string;
  listen: string;
  now?: Date;
}): Promise<LocalApiCertificate> {
  const path = join(opts.stateDir, LOCAL_API_TLS_FILE);
  let created = false;
  if (!existsSync(path)) {
    mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
    const made = await createSelfSignedCert({
      commonName: "felhom-agent local API",
      altNames: altNamesFor(opts.listen),
      ...(opts.now ? { now: opts.now } : {}),
    });
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, `${made.key.trimEnd()}\n${made.cert.trimEnd()}\n`, {
      mode: 0o600,
      flag: "wx",
    });
    try {
      // link() refuses to replace: when `run` and `localapi pins` race, the first file wins
      // and both go on with it.
      linkSync(tmp, path);
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      unlinkSync(tmp);
    }
  }
  let modeRepaired = false;
  if ((statSync(path).mode & 0o077) !== 0) {
    chmodSync(path, 0o600);
    modeRepaired = true;
  }
  const { cert, key, covers } = parse(path, readFileSync(path, "utf8"), opts.listen);
  return {
    cert,
    key,
    path,
    created,
    leafSha256: pemFingerprint(cert),
    spkiSha256: pemSpkiPin(cert),
    coversListen: covers,
    modeRepaired,
  };
}
