import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import { CommandFailure, UsageError } from "../../src/cli/context.ts";
import { type Command, dispatch } from "../../src/cli/dispatch.ts";
import { type OpDeps, parseTtl, runOp } from "../../src/cli/op.ts";
import { fixture, privateKeyCopy, sshKeygen } from "../authz/support.ts";
import { ManualClock } from "../support/manual-clock.ts";

const dir = mkdtempSync(join(tmpdir(), "felhom-op-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOW_MS = 1_800_000_000_000;
/** The `op` command as dispatch runs it, bound to this test's ssh-keygen and clock. */
const opCommand: Command = {
  name: "op",
  summary: "",
  run: (argv, ctx) => runOp(argv, ctx, deps()),
};

/** op sign runs the real ssh-keygen; without it (outside CI) the signing tests skip. */
const keygen = sshKeygen();
const deps = (ms = NOW_MS): OpDeps => ({
  clock: new ManualClock(ms),
  ed25519: createEd25519(),
  ...(keygen ? { sshKeygen: keygen } : {}),
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    ctx: { env: {}, stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s) },
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

const operatorKey = privateKeyCopy("operator_ed25519", dir);
const lockedKey = privateKeyCopy("locked_ed25519", dir);
const signersFile = join(dir, "signers.json");
writeFileSync(
  signersFile,
  JSON.stringify([
    { name: "alice", key: fixture("operator_ed25519.pub").trim(), role: "operational" },
    { name: "rescue", key: fixture("locked_ed25519.pub").trim(), role: "recovery" },
  ]),
);

async function sign(extra: string[] = [], key = operatorKey, ms = NOW_MS): Promise<string> {
  const c = capture();
  const argv = ["sign", "--key", key, "--op", "guest.destroy", "--vmid", "101", "--host", "host-a"];
  expect(await runOp([...argv, ...extra], c.ctx, deps(ms))).toBe(0);
  expect(c.err()).toMatch(/^signed [a-z.]+ on guest \d+ for host host-a with SHA256:/);
  return save(c.out());
}

function save(text: string): string {
  const file = join(dir, `env-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, text);
  return file;
}

/** A host-level operation: no --vmid. */
async function signHost(op: string, extra: string[] = [], key = operatorKey): Promise<string> {
  const c = capture();
  const argv = ["sign", "--key", key, "--op", op, "--host", "host-a", ...extra];
  expect(await runOp(argv, c.ctx, deps())).toBe(0);
  expect(c.err()).toMatch(
    new RegExp(`^signed ${op.replace(".", "\\.")} for host host-a with SHA256:`),
  );
  return save(c.out());
}

async function check(file: string, host = "host-a", ms = NOW_MS) {
  const c = capture();
  const code = await runOp(
    ["check", file, "--host", host, "--signers", signersFile],
    c.ctx,
    deps(ms),
  );
  return { code, report: JSON.parse(c.out()), stderr: c.err() };
}

describe.skipIf(keygen === null)("felhom-agent op", () => {
  test("--help for op, sign and check", async () => {
    for (const [argv, text] of [
      [["--help"], "op <sign|check>"],
      [["sign", "--help"], "--passphrase-file FILE"],
      [["check", "--help"], "--signers FILE"],
    ] as const) {
      const c = capture();
      expect(await runOp([...argv], c.ctx, deps())).toBe(0);
      expect(c.out()).toContain(text);
    }
  });

  test("sign writes an envelope that check reports valid, with its payload", async () => {
    const file = await sign(["--params", '{"purge":1}', "--job", "job-42", "--ttl", "5m"]);
    const { code, report } = await check(file);
    expect(code).toBe(0);
    expect(report.verdict).toBe("valid");
    expect(report.signer).toMatchObject({ name: "alice", role: "operational" });
    expect(report.signer.key_id).toMatch(/^SHA256:/);
    expect(report.payload).toMatchObject({
      v: 1,
      op: "guest.destroy",
      host: "host-a",
      guest: { vmid: 101 },
      params: { purge: 1 },
      job: "job-42",
      iat: NOW_MS / 1000,
      exp: NOW_MS / 1000 + 300,
    });
    expect(report.nonce_checked).toBe(false);
    // Checking does not consume the nonce.
    expect((await check(file)).code).toBe(0);
  });

  test("check takes host id and signers from a config that has no proxmox section", async () => {
    const file = await sign();
    const config = join(dir, "agent-no-proxmox.json");
    writeFileSync(
      config,
      JSON.stringify({
        host_id: "host-a",
        signers: [
          { name: "alice", key: fixture("operator_ed25519.pub").trim(), role: "operational" },
        ],
      }),
    );
    const c = capture();
    const code = await runOp(["check", file], { ...c.ctx, configPath: config }, deps());
    expect(c.err()).toBe("");
    expect(code).toBe(0);
    expect(JSON.parse(c.out())).toMatchObject({ verdict: "valid", signer: { name: "alice" } });
  });

  test("a passphrase-protected key signs with --passphrase-file", async () => {
    const pass = join(dir, "pass");
    writeFileSync(pass, "fixture passphrase\n");
    const file = await sign(["--op", "guest.stop", "--passphrase-file", pass], lockedKey);
    const { report } = await check(file);
    expect(report.payload.op).toBe("guest.stop");
    expect(report.signer.name).toBe("rescue");
  });

  test("host-level ops sign without --vmid; the payload names no guest", async () => {
    const file = await signHost("storage.remove", ["--params", '{"id":"usb1"}', "--job", "j-9"]);
    const { code, report } = await check(file);
    expect(code).toBe(0);
    expect(report.verdict).toBe("valid");
    expect(report.payload).toMatchObject({
      op: "storage.remove",
      host: "host-a",
      params: { id: "usb1" },
      job: "j-9",
    });
    expect(report.payload).not.toHaveProperty("guest");
  });

  test("the recovery key: signers.rotate is valid, storage.remove is role_denied", async () => {
    const pass = join(dir, "pass-rotate");
    writeFileSync(pass, "fixture passphrase\n");
    const rotate = await check(
      await signHost("signers.rotate", ["--passphrase-file", pass], lockedKey),
    );
    expect(rotate.code).toBe(0);
    expect(rotate.report.signer).toMatchObject({ name: "rescue", role: "recovery" });
    expect(rotate.report.payload).not.toHaveProperty("guest");
    const remove = await check(
      await signHost("storage.remove", ["--passphrase-file", pass], lockedKey),
    );
    expect(remove.code).toBe(1);
    expect(remove.report.reason).toBe("role_denied");
  });

  test.each([
    ["wrong host", "host-b", NOW_MS, "wrong_host"],
    ["expired", "host-a", NOW_MS + 11 * 60_000, "expired"],
    ["not yet valid", "host-a", NOW_MS - 5 * 60_000, "not_yet_valid"],
  ])("check exits 1 with the typed reason: %s", async (_, host, ms, reason) => {
    const { code, report } = await check(await sign(), host as string, ms as number);
    expect(code).toBe(1);
    expect(report.verdict).toBe("rejected");
    expect(report.reason).toBe(reason);
  });

  test("check: a recovery key on a destroy is role_denied", async () => {
    const pass = join(dir, "pass2");
    writeFileSync(pass, "fixture passphrase");
    const { code, report } = await check(await sign(["--passphrase-file", pass], lockedKey));
    expect(code).toBe(1);
    expect(report.reason).toBe("role_denied");
  });

  test("check: an unknown signer, a swapped payload, and a non-JSON file", async () => {
    const ecdsaless = join(dir, "only-rescue.json");
    writeFileSync(
      ecdsaless,
      JSON.stringify([
        { name: "rescue", key: fixture("locked_ed25519.pub").trim(), role: "recovery" },
      ]),
    );
    const env = await sign();
    const c = capture();
    expect(
      await runOp(["check", env, "--host", "host-a", "--signers", ecdsaless], c.ctx, deps()),
    ).toBe(1);
    expect(JSON.parse(c.out()).reason).toBe("unknown_signer");

    const a = JSON.parse(await Bun.file(await sign()).text());
    const b = JSON.parse(await Bun.file(await sign(["--vmid", "102"])).text());
    const swapped = join(dir, "swapped.json");
    writeFileSync(swapped, JSON.stringify({ payload: b.payload, signature: a.signature }));
    const r = await check(swapped);
    expect(r.report.reason).toBe("bad_signature");
    expect(r.report.payload).toBeNull();
    expect(r.report.unverified_payload.guest.vmid).toBe(102);

    const junk = join(dir, "junk.txt");
    writeFileSync(junk, "not an envelope");
    expect((await check(junk)).report.reason).toBe("malformed");
  });

  test.each([
    [
      ["sign", "--key", operatorKey, "--op", "guest.explode", "--vmid", "101", "--host", "h"],
      "--op 'guest.explode'",
    ],
    [
      ["sign", "--key", operatorKey, "--op", "guest.stop", "--vmid", "99", "--host", "h"],
      "--vmid must be",
    ],
    [
      ["sign", "--key", operatorKey, "--op", "guest.stop", "--vmid", "1x1", "--host", "h"],
      "--vmid must be",
    ],
    [["sign", "--key", operatorKey, "--op", "guest.stop", "--vmid", "101"], "--host is required"],
    [["sign", "--op", "guest.stop", "--vmid", "101", "--host", "h"], "--key is required"],
    [
      [
        "sign",
        "--key",
        operatorKey,
        "--op",
        "guest.stop",
        "--vmid",
        "101",
        "--host",
        "h",
        "--params",
        "[1]",
      ],
      "JSON object",
    ],
    [
      [
        "sign",
        "--key",
        operatorKey,
        "--op",
        "guest.stop",
        "--vmid",
        "101",
        "--host",
        "h",
        "--params",
        "{",
      ],
      "not JSON",
    ],
    [
      [
        "sign",
        "--key",
        operatorKey,
        "--op",
        "guest.stop",
        "--vmid",
        "101",
        "--host",
        "h",
        "--ttl",
        "2h",
      ],
      "--ttl must be between",
    ],
    [
      ["sign", "--key", join(dir, "absent"), "--op", "guest.stop", "--vmid", "101", "--host", "h"],
      "cannot read key file",
    ],
    [
      ["sign", "--key", operatorKey, "--op", "storage.remove", "--vmid", "101", "--host", "h"],
      "--vmid applies to guest.* operations only; storage.remove acts on the host",
    ],
    [
      ["sign", "--key", operatorKey, "--op", "signers.rotate", "--uid", "g-1", "--host", "h"],
      "--uid applies to guest.* operations only",
    ],
    [
      ["sign", "--key", operatorKey, "--op", "guest.destroy", "--host", "h"],
      "--vmid is required for guest.destroy",
    ],
    [
      ["sign", "--key", operatorKey, "--op", "guest.destroy", "--vmid", "101", "--uid", ""],
      "--uid must not be empty",
    ],
    [["sign", "--bogus"], "bogus"],
    [["check"], "exactly one envelope FILE"],
    [["check", "x.json", "--host", "h"], "--signers is required"],
    [["frobnicate"], "unknown op subcommand"],
    [[], "missing subcommand"],
  ])("usage error %p", async (argv, text) => {
    const c = capture();
    const run = runOp(argv as string[], c.ctx, deps());
    await expect(run).rejects.toThrow(UsageError);
    await expect(runOp(argv as string[], c.ctx, deps())).rejects.toThrow(text as string);
    expect(c.out()).toBe("");
  });

  test("a wrong passphrase fails with ssh-keygen's reason and a hint, never the passphrase", async () => {
    const pass = join(dir, "wrong");
    writeFileSync(pass, "guess-123");
    const c = capture();
    const argv = [
      "sign",
      "--key",
      lockedKey,
      "--passphrase-file",
      pass,
      "--op",
      "guest.stop",
      "--vmid",
      "101",
      "--host",
      "h",
    ];
    const err = await runOp(argv, c.ctx, deps()).catch((e: Error) => e);
    expect(err).toBeInstanceOf(CommandFailure);
    expect((err as CommandFailure).message).toContain("incorrect passphrase");
    expect((err as CommandFailure).hint).toContain("--passphrase-file");
    expect(`${(err as Error).message}${c.err()}`).not.toContain("guess-123");
    expect(c.out()).toBe("");
  });

  test("a key held by ssh-agent signs when --key names its .pub", async () => {
    const agentBin = Bun.which("ssh-agent");
    const addBin = Bun.which("ssh-add");
    if (!agentBin || !addBin) {
      console.warn("ssh-agent not found: skipping the agent test (install openssh-client)");
      if (process.env.CI) throw new Error("ssh-agent is required in CI (openssh-client)");
      return;
    }
    const sock = join(dir, "agent.sock");
    const agent = Bun.spawn([agentBin, "-D", "-a", sock], { stdout: "ignore", stderr: "ignore" });
    try {
      const env = { SSH_AUTH_SOCK: sock };
      for (let i = 0; i < 100 && !(await Bun.file(sock).exists()); i++) await Bun.sleep(20);
      const add = Bun.spawnSync([addBin, "-q", operatorKey], { env, stderr: "pipe" });
      expect(add.exitCode).toBe(0);
      const pub = join(dir, "agent-only.pub");
      writeFileSync(pub, fixture("operator_ed25519.pub"));
      const c = capture();
      const argv = [
        "sign",
        "--key",
        pub,
        "--op",
        "guest.stop",
        "--vmid",
        "101",
        "--host",
        "host-a",
      ];
      expect(await runOp(argv, { ...c.ctx, env }, deps())).toBe(0);
      const { code, report } = await check(save(c.out()));
      expect(code).toBe(0);
      expect(report.signer.name).toBe("alice");
    } finally {
      agent.kill();
      await agent.exited;
    }
  });

  test("an encrypted key without a terminal or --passphrase-file fails and names the flag", async () => {
    const c = capture();
    const argv = ["sign", "--key", lockedKey, "--op", "guest.stop", "--vmid", "101", "--host", "h"];
    const err = await runOp(argv, c.ctx, deps()).catch((e: Error) => e);
    expect(err).toBeInstanceOf(CommandFailure);
    expect((err as CommandFailure).hint).toContain("--passphrase-file");
    expect(c.out()).toBe("");
  });

  test("a .pub whose key no agent holds: the one error line, naming op sign and ssh-add", async () => {
    const pub = join(dir, "no-agent.pub");
    writeFileSync(pub, fixture("operator_ed25519.pub"));
    let err = "";
    const argv = ["op", "sign", "--key", pub, "--op", "guest.stop", "--vmid", "101", "--host", "h"];
    const code = await dispatch(argv, [opCommand], {
      env: { SSH_AUTH_SOCK: join(dir, "no-such-agent.sock") },
      stdout: () => {},
      stderr: (t) => {
        err += t;
      },
    });
    expect(code).toBe(1);
    expect(err.trimEnd().split("\n").at(-1)).toMatch(
      /^felhom-agent: op sign: ssh-keygen could not sign with '.*no-agent\.pub': .+; load the key with ssh-add/,
    );
  });

  test("a key type the agents refuse (ecdsa) fails at signing, not on the host", async () => {
    const ecdsa = privateKeyCopy("ecdsa_key", dir);
    const c = capture();
    const argv = ["sign", "--key", ecdsa, "--op", "guest.stop", "--vmid", "101", "--host", "h"];
    const err = await runOp(argv, c.ctx, deps()).catch((e: Error) => e);
    expect(err).toBeInstanceOf(CommandFailure);
    expect((err as CommandFailure).hint).toContain("ssh-ed25519");
    expect(c.out()).toBe("");
  });

  test("no ssh-keygen on PATH: a failure that says what to install", async () => {
    const c = capture();
    const argv = [
      "sign",
      "--key",
      operatorKey,
      "--op",
      "guest.stop",
      "--vmid",
      "101",
      "--host",
      "h",
    ];
    const noKeygen: OpDeps = { clock: new ManualClock(NOW_MS), ed25519: createEd25519() };
    const err = await runOp(argv, { ...c.ctx, env: { PATH: dir } }, noKeygen).catch(
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(CommandFailure);
    expect((err as CommandFailure).hint).toContain("openssh-client");
  });

  test("a bad signers file is a usage error naming the entry", async () => {
    const bad = join(dir, "bad-signers.json");
    writeFileSync(bad, JSON.stringify([{ name: "x", key: "ssh-rsa AAAA", role: "operational" }]));
    await expect(
      runOp(["check", "e.json", "--host", "h", "--signers", bad], capture().ctx, deps()),
    ).rejects.toThrow("signers[0].key");
  });

  test("ttl durations", () => {
    expect(parseTtl("90s")).toBe(90);
    expect(parseTtl("10m")).toBe(600);
    expect(parseTtl("600")).toBe(600);
    expect(() => parseTtl("0s")).toThrow(UsageError);
    expect(() => parseTtl("10 m")).toThrow(UsageError);
  });
});
