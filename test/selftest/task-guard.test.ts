import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMMANDS } from "../../src/cli/commands.ts";
import { dispatch } from "../../src/cli/dispatch.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import type { AuditRow } from "../../src/store/audit.ts";
import { defaultStorePath, openStore } from "../../src/store/open.ts";

// --selftest=task on a customer's guest: refused without --force, nothing sent to Proxmox,
// and an audit row for the refusal as for a run.

let sim: PveSimulator;
let root: string;

beforeAll(async () => {
  sim = await startPveSimulator({ taskMs: 20, authFailDelayMs: 5 });
  root = mkdtempSync(join(tmpdir(), "felhom-selftest-guard-"));
});
afterAll(async () => {
  await sim.stop();
  rmSync(root, { recursive: true, force: true });
});

function stateDir(): string {
  const d = join(root, `state-${Math.random().toString(36).slice(2)}`);
  return d;
}

function env(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    FELHOM_AGENT_PROXMOX_ENDPOINT: sim.endpoint,
    FELHOM_AGENT_PROXMOX_NODE: sim.node,
    FELHOM_AGENT_PROXMOX_TOKEN: sim.tokens.agent,
    FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT: sim.fingerprint,
    FELHOM_AGENT_STATE_DIR: dir,
    ...extra,
  };
}

async function run(argv: string[], e: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await dispatch(argv, COMMANDS, {
    env: e,
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
  });
  return { code, out: out.join(""), err: err.join("") };
}

function withStore<T>(dir: string, fn: (s: ReturnType<typeof openStore>) => T): T {
  const s = openStore({ path: defaultStorePath(dir), exclusive: false });
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

const selftestRows = (dir: string): AuditRow[] =>
  withStore(dir, (s) => s.audit.list().filter((r) => r.action === "selftest.task"));

const desired = (vmids: number[]) =>
  JSON.stringify({
    version: 1,
    guests: Object.fromEntries(vmids.map((v) => [String(v), { run: "running" }])),
  });

const snapshotsOf = (vmid: number) => [...(sim.state.guest(vmid)?.snapshots.keys() ?? [])];

describe("--selftest=task on a customer's guest", () => {
  test("a guest the persisted desired state manages: exit 2 naming --force, no request, audited", async () => {
    const dir = stateDir();
    withStore(dir, (s) => s.desired.put({ document: desired([101]), source: "hub" }));
    const tasks = sim.state.tasks().length;
    const requests = sim.requestCount;
    const r = await run(["--selftest=task", "--vmid", "101"], env(dir));
    expect(r.code).toBe(2);
    expect(r.err).toContain("--force");
    expect(r.err).toContain("desired state (hub) manages guest 101");
    expect(sim.state.tasks().length).toBe(tasks);
    expect(sim.requestCount).toBe(requests);
    const rows = selftestRows(dir);
    expect(rows.map((x) => [x.target, x.outcome])).toEqual([["guest:101", "refused"]]);
    expect(JSON.parse(rows[0]?.details ?? "{}").reasons[0]).toContain("manages guest 101");
  });

  test("a guest in desired_file is refused the same way", async () => {
    const dir = stateDir();
    const file = join(root, "desired.json");
    writeFileSync(file, desired([102]));
    const r = await run(
      ["--selftest=task", "--vmid", "102"],
      env(dir, { FELHOM_AGENT_DESIRED_FILE: file }),
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain(`desired_file ${file} manages guest 102`);
    expect(selftestRows(dir).map((x) => x.outcome)).toEqual(["refused"]);
  });

  test("a guest with a local-API token is refused; a revoked token no longer counts", async () => {
    const dir = stateDir();
    withStore(dir, (s) => s.guestTokens.mint(101));
    const r = await run(["--selftest=task", "--vmid", "101"], env(dir));
    expect(r.code).toBe(2);
    expect(r.err).toContain("local-API token");
    expect(r.err).not.toMatch(/[A-Za-z0-9_-]{43}/); // never the token itself
    withStore(dir, (s) => s.guestTokens.revoke(101));
    const again = await run(["--selftest=task", "--vmid", "101"], env(dir));
    expect(again.code).toBe(0);
    expect(selftestRows(dir).map((x) => x.outcome)).toEqual(["refused", "started", "ok"]);
  });

  test("--force runs it on a managed guest, and the run is audited with the reasons", async () => {
    const dir = stateDir();
    withStore(dir, (s) => s.desired.put({ document: desired([101]), source: "hub" }));
    const r = await run(["--selftest=task", "--vmid", "101", "--force"], env(dir));
    expect(r.code).toBe(0);
    expect(snapshotsOf(101).some((n) => n.startsWith("felhom-selftest-"))).toBe(false);
    const rows = selftestRows(dir);
    expect(rows.map((x) => x.outcome)).toEqual(["started", "ok"]);
    const started = JSON.parse(rows[0]?.details ?? "{}");
    expect(started.force).toBe(true);
    expect(started.reasons[0]).toContain("manages guest 101");
  });

  test("a guest nobody claims runs without --force, audited", async () => {
    const dir = stateDir();
    withStore(dir, (s) => s.desired.put({ document: desired([102]), source: "hub" }));
    const r = await run(["--selftest=task", "--vmid", "101"], env(dir));
    expect(r.code).toBe(0);
    expect(selftestRows(dir).map((x) => x.outcome)).toEqual(["started", "ok"]);
  });

  test("--force is a usage error with the read-only selftest", async () => {
    const r = await run(["--selftest", "--force"], env(stateDir()));
    expect(r.code).toBe(2);
    expect(r.err).toContain("--force");
  });
});
