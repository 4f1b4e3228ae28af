import { describe, expect, test } from "bun:test";
import { encodeBase64 } from "../../src/authz/base64.ts";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import { parseSshPublicKey, sshFingerprint } from "../../src/authz/ssh-public-key.ts";
import {
  encodeSshsigBlob,
  OP_NAMESPACE,
  parseArmoredSshsig,
  SshsigFormatError,
  signSshsig,
  verifySshsig,
} from "../../src/authz/sshsig.ts";
import { fixture, fixtureBytes, operatorKey } from "./support.ts";

const payload = fixtureBytes("payload.op");

describe.each(["sync", "async"] as const)("SSHSIG with %s ed25519", (mode) => {
  const ed = createEd25519(mode);

  test("a signature made by ssh-keygen -Y sign verifies", async () => {
    const sig = parseArmoredSshsig(fixture("payload.op.sig"));
    expect(sig.namespace).toBe(OP_NAMESPACE);
    expect(sig.hashAlgorithm).toBe("sha512");
    expect(sig.publicKey.fingerprint).toBe(
      parseSshPublicKey(fixture("operator_ed25519.pub")).fingerprint,
    );
    expect(await verifySshsig(ed, sig, payload, OP_NAMESPACE)).toBe(true);
  });

  test("the sha256 variant (ssh-keygen -O hashalg=sha256) verifies too", async () => {
    const sig = parseArmoredSshsig(fixture("payload.op.sha256.sig"));
    expect(sig.hashAlgorithm).toBe("sha256");
    expect(await verifySshsig(ed, sig, payload, OP_NAMESPACE)).toBe(true);
  });

  test("our signature is byte-identical to ssh-keygen's (ed25519 is deterministic)", async () => {
    expect(await signSshsig(ed, operatorKey(), payload, OP_NAMESPACE)).toBe(
      fixture("payload.op.sig"),
    );
  });

  test("a changed message or another namespace does not verify", async () => {
    const sig = parseArmoredSshsig(fixture("payload.op.sig"));
    const changed = new Uint8Array(payload);
    changed[10] = (changed[10] as number) ^ 1;
    expect(await verifySshsig(ed, sig, changed, OP_NAMESPACE)).toBe(false);
    const git = parseArmoredSshsig(fixture("payload.op.git-namespace.sig"));
    expect(git.namespace).toBe("git");
    expect(await verifySshsig(ed, git, payload, OP_NAMESPACE)).toBe(false);
    // Even relabelled, a git signature does not cover a felhom.op/v1 message.
    expect(await verifySshsig(ed, { ...git, namespace: OP_NAMESPACE }, payload, OP_NAMESPACE)).toBe(
      false,
    );
  });
});

describe("SSHSIG parsing", () => {
  test("fingerprints are the ssh-keygen -l form", () => {
    const key = parseSshPublicKey(fixture("operator_ed25519.pub"));
    expect(key.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(sshFingerprint(key.blob)).toBe(key.fingerprint);
    expect(key.comment).toBe("operator@example");
  });

  test("an ECDSA signature is refused: only ssh-ed25519", () => {
    expect(() => parseArmoredSshsig(fixture("payload.op.ecdsa.sig"))).toThrow(
      /not supported, only ssh-ed25519/,
    );
  });

  test("a non-empty reserved field is refused (one byte form per signature)", () => {
    const sig = parseArmoredSshsig(fixture("payload.op.sig"));
    const blob = encodeSshsigBlob(sig);
    // magic(6) version(4) string(pubkey: 4+51) string(namespace: 4+12) then reserved length.
    const at = 6 + 4 + 4 + 51 + 4 + OP_NAMESPACE.length;
    const withReserved = new Uint8Array(blob.length + 1);
    withReserved.set(blob.subarray(0, at));
    withReserved.set([0, 0, 0, 1, 0x78], at);
    withReserved.set(blob.subarray(at + 4), at + 5);
    const armored = `-----BEGIN SSH SIGNATURE-----\n${encodeBase64(withReserved)}\n-----END SSH SIGNATURE-----\n`;
    expect(() => parseArmoredSshsig(armored)).toThrow("reserved field not empty");
  });

  test.each([
    ["no armor", "U1NIU0lH"],
    ["empty body", "-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----"],
    ["junk body", "-----BEGIN SSH SIGNATURE-----\n!!\n-----END SSH SIGNATURE-----"],
    [
      "wrong magic",
      `-----BEGIN SSH SIGNATURE-----\n${btoa("SSHSIX\0\0\0\x01")}\n-----END SSH SIGNATURE-----`,
    ],
    [
      "truncated",
      `-----BEGIN SSH SIGNATURE-----\n${btoa("SSHSIG\0\0\0\x01\0\0")}\n-----END SSH SIGNATURE-----`,
    ],
    [
      "version 2",
      `-----BEGIN SSH SIGNATURE-----\n${btoa("SSHSIG\0\0\0\x02")}\n-----END SSH SIGNATURE-----`,
    ],
  ])("%s is a format error", (_, text) => {
    expect(() => parseArmoredSshsig(text)).toThrow(SshsigFormatError);
  });

  test("CRLF line ends and surrounding blank lines are tolerated", async () => {
    const text = `\n${fixture("payload.op.sig").replaceAll("\n", "\r\n")}\r\n`;
    const sig = parseArmoredSshsig(text);
    expect(await verifySshsig(createEd25519(), sig, payload, OP_NAMESPACE)).toBe(true);
  });
});
