import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  namedBits,
  objectIdentifier,
  sequence,
  time,
  tlv,
  unsignedInteger,
} from "../../src/tls/der.ts";
import {
  createSelfSignedCert,
  generateP256,
  ipv6Bytes,
  issueCertificate,
} from "../../src/tls/self-signed.ts";

const dir = mkdtempSync(join(tmpdir(), "felhom-tls-der-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** openssl is the independent reader of our DER; without it (outside CI) those tests skip. */
function findOpenssl(): string | null {
  const found = spawnSync("sh", ["-c", "command -v openssl"], { encoding: "utf8" });
  if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  if (process.env.CI) throw new Error("openssl is required in CI to check generated certificates");
  console.warn("openssl not found: skipping the certificate DER checks (install openssl)");
  return null;
}
const openssl = findOpenssl();

function run(args: string[]) {
  const r = spawnSync(openssl as string, args, { encoding: "utf8", timeout: 20_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("DER pieces", () => {
  test("lengths: short form below 128, long form from 128", () => {
    expect(hex(tlv(0x04, new Uint8Array(127))).slice(0, 4)).toBe("047f");
    expect(hex(tlv(0x04, new Uint8Array(128))).slice(0, 6)).toBe("048180");
    expect(hex(tlv(0x04, new Uint8Array(300))).slice(0, 8)).toBe("0482012c");
  });

  test("integers are minimal and positive", () => {
    expect(hex(unsignedInteger(Uint8Array.of(0, 0, 5)))).toBe("020105");
    expect(hex(unsignedInteger(Uint8Array.of(0x80)))).toBe("02020080");
    expect(hex(unsignedInteger(Uint8Array.of(0, 0)))).toBe("020100");
  });

  test("object identifiers, with arcs past 127", () => {
    expect(hex(objectIdentifier("1.2.840.10045.4.3.2"))).toBe("06082a8648ce3d040302");
    expect(hex(objectIdentifier("2.5.29.17"))).toBe("0603551d11");
  });

  test("named bits drop trailing zeros (digitalSignature; keyCertSign + cRLSign)", () => {
    expect(hex(namedBits([0]))).toBe("03020780");
    expect(hex(namedBits([5, 6]))).toBe("03020106");
  });

  test("UTCTime through 2049, GeneralizedTime from 2050", () => {
    expect(new TextDecoder().decode(time(new Date(Date.UTC(2049, 11, 31, 23, 59, 59))))).toBe(
      "\x17\x0d491231235959Z",
    );
    expect(new TextDecoder().decode(time(new Date(Date.UTC(2050, 0, 1))))).toBe(
      "\x18\x0f20500101000000Z",
    );
  });

  test("an empty SEQUENCE", () => {
    expect(hex(sequence())).toBe("3000");
  });

  test("IPv6 addresses as 16 bytes", () => {
    expect(hex(ipv6Bytes("::1"))).toBe(`${"00".repeat(15)}01`);
    expect(hex(ipv6Bytes("fe80::1:2"))).toBe(`fe80${"0000".repeat(5)}00010002`);
    expect(hex(ipv6Bytes("::ffff:10.0.0.1"))).toBe(`${"0000".repeat(5)}ffff0a000001`);
    expect(hex(ipv6Bytes("2001:db8:0:0:1:0:0:1"))).toBe("20010db8000000000001000000000001");
  });
});

describe("certificates", () => {
  test("a self-signed server certificate Node reads: names, key match, signature", async () => {
    const made = await createSelfSignedCert({
      commonName: "felhom-agent local API",
      altNames: ["10.0.0.1", "fe80::1", "host.example"],
      now: new Date(Date.UTC(2026, 5, 1)),
    });
    const x = new X509Certificate(made.cert);
    expect(x.subject).toBe("CN=felhom-agent local API");
    expect(x.checkIP("10.0.0.1")).toBe("10.0.0.1");
    expect(x.checkHost("host.example")).toBe("host.example");
    expect(x.checkPrivateKey(createPrivateKey(made.key))).toBe(true);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.ca).toBe(false);
    expect(new Date(x.validFrom).toISOString()).toBe("2026-05-31T23:00:00.000Z");
  });

  test.skipIf(openssl === null)("openssl reads every field of the DER", async () => {
    const made = await createSelfSignedCert({
      commonName: "felhom-agent local API",
      altNames: ["10.0.0.1", "fe80::1", "host.example"],
    });
    const file = join(dir, "self.pem");
    writeFileSync(file, made.cert);
    const text = run(["x509", "-noout", "-text", "-in", file]);
    expect(text.status).toBe(0);
    for (const part of [
      "Version: 3 (0x2)",
      "Signature Algorithm: ecdsa-with-SHA256",
      "Subject: CN = felhom-agent local API",
      "NIST CURVE: P-256",
      "X509v3 Basic Constraints: critical",
      "CA:FALSE",
      "X509v3 Key Usage: critical",
      "Digital Signature",
      "TLS Web Server Authentication",
      "IP Address:10.0.0.1",
      "IP Address:FE80:0:0:0:0:0:0:1",
      "DNS:host.example",
      "X509v3 Subject Key Identifier",
    ]) {
      expect(text.out).toContain(part);
    }
    // The signature verifies over the TBS bytes, by openssl's own strict checks.
    const verified = run(["verify", "-x509_strict", "-CAfile", file, file]);
    expect(verified.out).toContain(": OK");
  });

  test.skipIf(openssl === null)("a CA and a leaf it signed verify as a chain", async () => {
    const caKeys = await generateP256();
    const leafKeys = await generateP256();
    const notBefore = new Date(Date.now() - 3_600_000);
    const notAfter = new Date(Date.now() + 86_400_000);
    const ca = await issueCertificate({
      commonName: "Test CA",
      ca: true,
      notBefore,
      notAfter,
      publicKey: caKeys.publicKey,
      selfKey: caKeys.privateKey,
    });
    const leaf = await issueCertificate({
      commonName: "pve.local",
      altNames: ["127.0.0.1"],
      notBefore,
      notAfter,
      publicKey: leafKeys.publicKey,
      issuer: { commonName: "Test CA", ...caKeys },
    });
    writeFileSync(join(dir, "ca.pem"), ca);
    writeFileSync(join(dir, "leaf.pem"), leaf);
    const caText = run(["x509", "-noout", "-text", "-in", join(dir, "ca.pem")]);
    expect(caText.out).toContain("CA:TRUE");
    expect(caText.out).toContain("Certificate Sign, CRL Sign");
    const chain = run([
      "verify",
      "-x509_strict",
      "-CAfile",
      join(dir, "ca.pem"),
      join(dir, "leaf.pem"),
    ]);
    expect(chain.out).toContain(": OK");
    // Signed by another key, the leaf does not verify against this CA.
    const stranger = await generateP256();
    const forged = await issueCertificate({
      commonName: "pve.local",
      notBefore,
      notAfter,
      publicKey: leafKeys.publicKey,
      // Names the CA and its key id, but the signature is not the CA's.
      issuer: {
        commonName: "Test CA",
        publicKey: caKeys.publicKey,
        privateKey: stranger.privateKey,
      },
    });
    writeFileSync(join(dir, "forged.pem"), forged);
    const bad = run(["verify", "-CAfile", join(dir, "ca.pem"), join(dir, "forged.pem")]);
    expect(bad.status).not.toBe(0);
    expect(bad.out).toContain("certificate signature failure");
  });
});
