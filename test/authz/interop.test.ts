import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeBase64Strict, encodeBase64 } from "../../src/authz/base64.ts";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import { buildPayload, signEnvelope } from "../../src/authz/sign.ts";
import { parseSigners } from "../../src/authz/signers.ts";
import { formatSshPublicKey } from "../../src/authz/ssh-public-key.ts";
import { verifyEnvelope } from "../../src/authz/verify.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { keyFromSeed, operatorKey, privateKeyCopy, sshKeygen } from "./support.ts";

/**
 * Both directions against the stock OpenSSH tool (docs/architecture.md#signed-operations): what an operator signs with
 * `ssh-keygen -Y sign` verifies here, and what the agent signs verifies with
 * `ssh-keygen -Y verify`.
 */
const keygen = sshKeygen();
const dir = mkdtempSync(join(tmpdir(), "felhom-authz-interop-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOW = 1_800_000_000;
const ed = createEd25519();

function run(args: string[], input?: Uint8Array) {
  const r = spawnSync(keygen as string, args, { input, cwd: dir, timeout: 20_000 });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function keypair(name: string, passphrase = "") {
  const file = join(dir, name);
  const r = run(["-q", "-t", "ed25519", "-N", passphrase, "-C", `${name}@interop`, "-f", file]);
  expect(r.status).toBe(0);
  return { file, pub: readFileSync(`${file}.pub`, "utf8").trim() };
}

function payloadBytes(vmid: number): Uint8Array {
  const p = buildPayload({
    op: "guest.destroy",
    host: "host-a",
    guest: { vmid },
    now: NOW,
    ttlSeconds: 300,
    job: "job-9",
  });
  // Pretty-printed on purpose: the signature covers bytes, whatever their layout.
  return new TextEncoder().encode(`${JSON.stringify(p, null, 2)}\n`);
}

function verifyWithKeygen(pub: string, message: Uint8Array, signature: string) {
  const allowed = join(dir, "allowed_signers");
  writeFileSync(allowed, `alice ${pub}\n`);
  const sig = join(dir, "candidate.sig");
  writeFileSync(sig, signature);
  return run(
    ["-Y", "verify", "-f", allowed, "-I", "alice", "-n", "felhom.op/v1", "-s", sig],
    message,
  );
}

describe.skipIf(keygen === null)("OpenSSH interoperability (real ssh-keygen)", () => {
  test("ssh-keygen -Y sign → our verifier accepts", async () => {
    const { file, pub } = keypair("alice");
    const message = payloadBytes(101);
    const msgFile = join(dir, "op.json");
    writeFileSync(msgFile, message);
    expect(run(["-q", "-Y", "sign", "-n", "felhom.op/v1", "-f", file, msgFile]).status).toBe(0);
    const envelope = {
      payload: encodeBase64(message),
      signature: readFileSync(`${msgFile}.sig`, "utf8"),
    };
    const signers = parseSigners([{ name: "alice", key: pub, role: "operational" }]);
    const r = await verifyEnvelope(
      envelope,
      {
        hostId: "host-a",
        signers,
        clock: new ManualClock(NOW * 1000),
        ed25519: ed,
        isNonceUsed: () => false,
      },
      { op: "guest.destroy", guest: { vmid: 101 }, params: {}, job: "job-9" },
    );
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.signer.name).toBe("alice");
  });

  test("our signature → ssh-keygen -Y verify says Good; a changed message fails", async () => {
    const key = await keyFromSeed(7, "bob@interop");
    const pub = formatSshPublicKey(key.publicKey);
    const env = await signEnvelope(
      ed,
      key,
      buildPayload({
        op: "guest.rollback",
        host: "host-a",
        guest: { vmid: 102 },
        params: { snapname: "before-deploy" },
        now: NOW,
        ttlSeconds: 300,
      }),
    );
    const message = decodeBase64Strict(env.payload) as Uint8Array;
    const good = verifyWithKeygen(pub, message, env.signature);
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('Good "felhom.op/v1" signature for alice');
    const changed = new Uint8Array(message);
    changed[5] = (changed[5] as number) ^ 0x20;
    expect(verifyWithKeygen(pub, changed, env.signature).status).not.toBe(0);
  });

  test("the in-process signer is byte-identical to ssh-keygen -Y sign for the same key", async () => {
    const file = privateKeyCopy("operator_ed25519", dir);
    const message = payloadBytes(103);
    const env = await signEnvelope(
      ed,
      operatorKey(),
      JSON.parse(new TextDecoder().decode(message)),
    );
    const bytes = decodeBase64Strict(env.payload) as Uint8Array;
    const msgFile = join(dir, "carol.json");
    writeFileSync(msgFile, bytes);
    expect(run(["-q", "-Y", "sign", "-n", "felhom.op/v1", "-f", file, msgFile]).status).toBe(0);
    expect(env.signature).toBe(readFileSync(`${msgFile}.sig`, "utf8"));
  });

  test("a host-level envelope (no guest) round-trips both ways", async () => {
    const file = privateKeyCopy("operator_ed25519", dir);
    const pub = formatSshPublicKey(operatorKey().publicKey);
    const signers = parseSigners([{ name: "alice", key: pub, role: "operational" }]);
    const ctx = {
      hostId: "host-a",
      signers,
      clock: new ManualClock(NOW * 1000),
      ed25519: ed,
      isNonceUsed: () => false,
    };
    const action = { op: "storage.remove" as const, params: { storage: "usb1" } };
    const payload = buildPayload({ ...action, host: "host-a", now: NOW, ttlSeconds: 300 });
    expect(payload).not.toHaveProperty("guest");

    // Ours → ssh-keygen -Y verify.
    const ours = await signEnvelope(ed, operatorKey(), payload);
    const bytes = decodeBase64Strict(ours.payload) as Uint8Array;
    const good = verifyWithKeygen(pub, bytes, ours.signature);
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('Good "felhom.op/v1" signature for alice');

    // ssh-keygen -Y sign → ours, bound to the host-level action and to nothing else.
    const msgFile = join(dir, "host-op.json");
    writeFileSync(msgFile, bytes);
    expect(run(["-q", "-Y", "sign", "-n", "felhom.op/v1", "-f", file, msgFile]).status).toBe(0);
    const theirs = { payload: ours.payload, signature: readFileSync(`${msgFile}.sig`, "utf8") };
    const r = await verifyEnvelope(theirs, ctx, action);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.payload).toMatchObject({ op: "storage.remove", host: "host-a" });
    const onGuest = await verifyEnvelope(theirs, ctx, { ...action, guest: { vmid: 101 } });
    expect(onGuest.ok ? "accepted" : onGuest.rejection.reason).toBe("binding_mismatch");
  });

  test("our key ids are the fingerprints ssh-keygen -l prints", () => {
    const { file, pub } = keypair("dave");
    const listed = run(["-l", "-f", `${file}.pub`]);
    const [signer] = parseSigners([{ name: "dave", key: pub, role: "recovery" }]);
    expect(listed.stdout.split(" ")[1]).toBe(signer?.keyId);
  });
});
