import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runDaemon } from "../../src/cli/run.ts";

const dir = mkdtempSync(join(tmpdir(), "felhom-run-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ctx(extra: Record<string, string> = {}) {
  let out = "";
  let err = "";
  return {
    c: {
      env: { ...extra },
      stdout: (t: string) => {
        out += t;
      },
      stderr: (t: string) => {
        err += t;
      },
    },
    out: () => out,
    err: () => err,
  };
}

function config(extra: Record<string, unknown>): string {
  const path = join(dir, `agent-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      proxmox: {
        endpoint: "https://127.0.0.1:1",
        node: "pve1",
        token: "felhom-agent@pve!agent=00000000-0000-0000-0000-000000000000",
        tls: { fingerprint: "AA".repeat(32) },
      },
      state_dir: join(dir, "state"),
      ...extra,
    }),
  );
  return path;
}

describe("felhom-agent run", () => {
  test("--help prints usage and exits 0", async () => {
    const t = ctx();
    expect(await runDaemon(["run", "--help"], t.c)).toBe(0);
    expect(t.out()).toContain("Usage: felhom-agent [--config PATH] run");
  });

  test("a relative desired_file is a configuration error (exit 2) naming the key", async () => {
    const t = ctx();
    const code = await runDaemon(["run"], {
      ...t.c,
      configPath: config({ desired_file: "desired.json" }),
    });
    expect(code).toBe(2);
    expect(t.err()).toContain("desired_file");
  });

  test("an unknown reconcile key is refused (exit 2)", async () => {
    const t = ctx();
    const code = await runDaemon(["run"], {
      ...t.c,
      configPath: config({ reconcile: { intervall_s: 5 } }),
    });
    expect(code).toBe(2);
    expect(t.err()).toContain("intervall_s");
  });

  test("a corrupt state database is a clear start-up error (exit 1), not an empty store", async () => {
    const stateDir = join(dir, "corrupt");
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, "state.db"), "this is not a database".repeat(200));
    const t = ctx();
    const code = await runDaemon(["run"], { ...t.c, configPath: config({ state_dir: stateDir }) });
    expect(code).toBe(1);
    expect(t.err()).toContain("state.db");
  });

  test("an enrolled host whose state database is gone is refused (exit 1), saying what to do", async () => {
    const stateDir = join(dir, "enrolled-wiped");
    mkdirSync(stateDir, { recursive: true });
    // Only existence of the identity matters here: the store is checked before it is read.
    writeFileSync(join(stateDir, "hub-identity.json"), "{}", { mode: 0o600 });
    writeFileSync(
      join(stateDir, "hub-acks.json"),
      JSON.stringify({
        version: 1,
        store_id: "0123456789abcdef0123456789abcdef",
        report_seq: 7,
        audit_seq: 3,
        updated_at: 0,
      }),
      { mode: 0o600 },
    );
    const t = ctx();
    const code = await runDaemon(["run"], { ...t.c, configPath: config({ state_dir: stateDir }) });
    expect(code).toBe(1);
    expect(t.err()).toContain("felhom-agent state restore");
    expect(t.err()).toContain("--new-state");
    expect(existsSync(join(stateDir, "state.db"))).toBe(false);
  });

  test("--help documents --new-state", async () => {
    const t = ctx();
    expect(await runDaemon(["run", "--help"], t.c)).toBe(0);
    expect(t.out()).toContain("--new-state");
  });

  test("an unknown flag is a usage error", async () => {
    await expect(runDaemon(["run", "--bogus"], ctx().c)).rejects.toThrow();
  });
});
