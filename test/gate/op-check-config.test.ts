import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import { buildPayload, signEnvelope } from "../../src/authz/sign.ts";
import { UsageError } from "../../src/cli/context.ts";
import { type OpDeps, runOp } from "../../src/cli/op.ts";
import { fixture, operatorKey } from "../authz/support.ts";
import { ManualClock } from "../support/manual-clock.ts";

// `op check` without --host/--signers takes them from the config (host_id, signers).

const dir = mkdtempSync(join(tmpdir(), "felhom-op-check-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOW_MS = 1_800_000_000_000;
const deps = (): OpDeps => ({ clock: new ManualClock(NOW_MS), ed25519: createEd25519() });

function capture(configPath?: string) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    ctx: {
      env: {},
      ...(configPath === undefined ? {} : { configPath }),
      stdout: (s: string) => out.push(s),
      stderr: (s: string) => err.push(s),
    },
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

function writeConfig(name: string, extra: Record<string, unknown>): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    JSON.stringify({
      proxmox: {
        endpoint: "https://127.0.0.1:8006",
        node: "pve1",
        token: "felhom-agent@pve!agent=00000000-0000-4000-8000-000000000000",
        tls: { fingerprint: `${"AA:".repeat(31)}AA` },
      },
      state_dir: join(dir, "state"),
      ...extra,
    }),
  );
  return path;
}

const alice = {
  name: "alice",
  key: fixture("operator_ed25519.pub").trim(),
  role: "operational",
};

/** An envelope signed in-process with the fixture operator key (op sign itself needs ssh-keygen). */
async function envelopeFile(host: string): Promise<string> {
  const payload = buildPayload({
    op: "guest.destroy",
    host,
    guest: { vmid: 101 },
    now: NOW_MS / 1000,
    ttlSeconds: 600,
  });
  const envelope = await signEnvelope(createEd25519(), operatorKey(), payload);
  const file = join(dir, `env-${host}.json`);
  writeFileSync(file, JSON.stringify(envelope));
  return file;
}

test("host_id and signers come from the config when the flags are absent", async () => {
  const config = writeConfig("a.json", { host_id: "box-1", signers: [alice] });
  const file = await envelopeFile("box-1");
  const c = capture(config);
  expect(await runOp(["check", file], c.ctx, deps())).toBe(0);
  const report = JSON.parse(c.out());
  expect(report).toMatchObject({ verdict: "valid", signer: { name: "alice" } });
});

test("the config's host id is checked like the flag's", async () => {
  const config = writeConfig("b.json", { host_id: "box-2", signers: [alice] });
  const c = capture(config);
  expect(await runOp(["check", await envelopeFile("box-1")], c.ctx, deps())).toBe(1);
  expect(JSON.parse(c.out())).toMatchObject({ verdict: "rejected", reason: "wrong_host" });
});

test("a flag overrides the config; a config without host_id needs --host", async () => {
  const config = writeConfig("c.json", { signers: [alice] });
  const file = await envelopeFile("box-9");
  await expect(runOp(["check", file], capture(config).ctx, deps())).rejects.toThrow(
    /--host is required: the config has no host_id/,
  );
  const c = capture(config);
  expect(await runOp(["check", file, "--host", "box-9"], c.ctx, deps())).toBe(0);
});

test("no signers in the config: the check says so and rejects as unknown_signer", async () => {
  const config = writeConfig("d.json", { host_id: "box-1" });
  const c = capture(config);
  expect(await runOp(["check", await envelopeFile("box-1")], c.ctx, deps())).toBe(1);
  expect(JSON.parse(c.out()).reason).toBe("unknown_signer");
  expect(c.err()).toContain("the config lists no signers");
});

test("an unreadable config names the missing flag", async () => {
  const config = join(dir, "absent.json");
  const err = await runOp(["check", "x.json"], capture(config).ctx, deps()).catch((e) => e);
  expect(err).toBeInstanceOf(UsageError);
  expect((err as Error).message).toMatch(/^--host is required when the config cannot be read/);
});
