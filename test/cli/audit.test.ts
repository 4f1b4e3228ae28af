import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSince, runAudit } from "../../src/cli/audit.ts";
import {
  type CliContext,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  UsageError,
} from "../../src/cli/context.ts";
import { defaultStorePath, openStore } from "../../src/store/open.ts";
import { ManualClock } from "../support/manual-clock.ts";

class AuditTemp {
  readonly dir = mkdtempSync(join(tmpdir(), "felhom-cli-audit-"));
  readonly stateDir = join(this.dir, "state");
  readonly configPath = join(this.dir, "agent.json");
  out = "";
  err = "";

  constructor() {
    writeFileSync(
      this.configPath,
      JSON.stringify({
        proxmox: {
          endpoint: "https://127.0.0.1:8006",
          node: "pve1",
          token: "felhom-agent@pve!agent=00000000-0000-4000-8000-000000000000",
          tls: { fingerprint: `${"AA:".repeat(31)}AA` },
        },
        state_dir: this.stateDir,
        host_id: "box-1",
        signers: [],
      }),
    );
  }

  ctx(now = Date.UTC(2026, 5, 2)): CliContext & { deps: { clock: ManualClock } } {
    this.out = "";
    this.err = "";
    return {
      env: {},
      configPath: this.configPath,
      stdout: (t) => {
        this.out += t;
      },
      stderr: (t) => {
        this.err += t;
      },
      deps: { clock: new ManualClock(now) },
    };
  }

  /** Writes rows at 2026-06-01T00:00Z + i hours, like the daemon would. */
  seed(n: number): void {
    const clock = new ManualClock(Date.UTC(2026, 5, 1));
    const store = openStore({ path: defaultStorePath(this.stateDir), clock });
    try {
      for (let i = 0; i < n; i++) {
        clock.t = Date.UTC(2026, 5, 1) + i * 3_600_000;
        store.audit.append({
          actor: i % 2 ? "signer:alice" : "hub",
          action: "guest.destroy",
          target: "guest:101",
          outcome: i % 2 ? "accepted" : "pending_signature",
          details: { job: `job-${i}` },
        });
      }
    } finally {
      store.close();
    }
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let t: AuditTemp;
beforeEach(() => {
  t = new AuditTemp();
});
afterEach(() => t.cleanup());

test("list prints every row oldest first, and --verify confirms the chain", async () => {
  t.seed(3);
  expect(await runAudit(["--verify"], t.ctx())).toBe(EXIT_OK);
  const lines = t.out.trim().split("\n");
  expect(lines).toHaveLength(4);
  expect(lines[0]).toMatch(
    /^\s*1 {2}2026-06-01T00:00:00\.000Z {2}hub {2}guest\.destroy {2}guest:101 {2}pending_signature/,
  );
  expect(lines[1]).toContain("signer:alice");
  expect(lines[3]).toMatch(/^chain verified: 3 rows, head [0-9a-f]{64}$/);
});

test("--json is the customer export: rows with parsed details, hashes, and the chain verdict", async () => {
  t.seed(2);
  expect(await runAudit(["list", "--json", "--verify"], t.ctx())).toBe(EXIT_OK);
  const doc = JSON.parse(t.out);
  expect(doc.rows).toHaveLength(2);
  expect(doc.rows[0]).toMatchObject({
    seq: 1,
    time: "2026-06-01T00:00:00.000Z",
    actor: "hub",
    details: { job: "job-0" },
    prev_hash: "0".repeat(64),
  });
  expect(doc.rows[1].prev_hash).toBe(doc.rows[0].hash);
  expect(doc.chain).toEqual({ ok: true, count: 2, head_hash: doc.rows[1].hash });
});

test("--after follows the log; --since filters by time or age; --limit bounds it", async () => {
  t.seed(5);
  await runAudit(["--json", "--after", "3"], t.ctx());
  expect(JSON.parse(t.out).rows.map((r: { seq: number }) => r.seq)).toEqual([4, 5]);
  await runAudit(["--json", "--since", "2026-06-01T02:00:00Z"], t.ctx());
  expect(JSON.parse(t.out).rows.map((r: { seq: number }) => r.seq)).toEqual([3, 4, 5]);
  // now = 2026-06-02T00:00Z; 21 h ago is 03:00.
  await runAudit(["--json", "--since", "21h"], t.ctx());
  expect(JSON.parse(t.out).rows.map((r: { seq: number }) => r.seq)).toEqual([4, 5]);
  await runAudit(["--json", "--limit", "2"], t.ctx());
  expect(JSON.parse(t.out).rows).toHaveLength(2);
});

test("verify reports a changed row and exits 1", async () => {
  t.seed(3);
  const store = openStore({ path: defaultStorePath(t.stateDir), exclusive: false });
  try {
    store.db.run("DROP TRIGGER audit_append_only_update");
    store.db.run("UPDATE audit SET outcome = 'allowed' WHERE seq = 2");
  } finally {
    store.close();
  }
  expect(await runAudit(["verify"], t.ctx())).toBe(EXIT_FAILURE);
  expect(t.out).toBe("chain BROKEN at row 2: row 2 was changed after it was written\n");
  expect(await runAudit(["verify", "--json"], t.ctx())).toBe(EXIT_FAILURE);
  expect(JSON.parse(t.out)).toMatchObject({ ok: false, first_bad_seq: 2 });
  expect(await runAudit(["--verify"], t.ctx())).toBe(EXIT_FAILURE);
});

test("an empty log says so and verifies", async () => {
  t.seed(0);
  expect(await runAudit([], t.ctx())).toBe(EXIT_OK);
  expect(t.out).toBe("no audit rows\n");
  expect(await runAudit(["verify"], t.ctx())).toBe(EXIT_OK);
  expect(t.out).toMatch(/^chain verified: 0 rows/);
});

test("before the daemon has run: no audit rows yet, exit 0, and no database is created", async () => {
  expect(await runAudit(["verify"], t.ctx())).toBe(EXIT_OK);
  expect(t.out).toStartWith("no audit rows yet");
  expect(await runAudit(["verify", "--json"], t.ctx())).toBe(EXIT_OK);
  expect(JSON.parse(t.out)).toEqual({ ok: true, count: 0, database: "absent" });
  expect(await runAudit(["list"], t.ctx())).toBe(EXIT_OK);
  expect(t.out).toStartWith("no audit rows yet");
  expect(await runAudit(["--json"], t.ctx())).toBe(EXIT_OK);
  expect(JSON.parse(t.out)).toEqual({ rows: [] });
  expect(t.err).toBe("");
  expect(existsSync(defaultStorePath(t.stateDir))).toBe(false);
});

test("a database file without a schema is still an error (a copy without its -wal file)", async () => {
  mkdirSync(t.stateDir, { recursive: true });
  writeFileSync(defaultStorePath(t.stateDir), "x".repeat(4096));
  expect(await runAudit(["verify"], t.ctx())).toBe(EXIT_FAILURE);
  expect(t.err).toMatch(/^felhom-agent: audit verify: /);
});

test("a config without a proxmox section, or no config file at all, is enough", async () => {
  writeFileSync(t.configPath, JSON.stringify({ state_dir: t.stateDir }));
  t.seed(2);
  expect(await runAudit(["verify"], t.ctx())).toBe(EXIT_OK);
  expect(t.out).toMatch(/^chain verified: 2 rows/);
  // Proxmox variables in the environment are not an error for a command that ignores them.
  const withEnv = { ...t.ctx(), env: { FELHOM_AGENT_PROXMOX_NODE: "pve1" } };
  expect(await runAudit(["verify"], withEnv)).toBe(EXIT_OK);
  // No --config and nothing at the default path: the defaults, and FELHOM_AGENT_STATE_DIR.
  const { configPath: _none, ...noConfig } = t.ctx();
  const ctx = { ...noConfig, env: { FELHOM_AGENT_STATE_DIR: t.stateDir } };
  expect(await runAudit(["verify"], ctx)).toBe(EXIT_OK);
  expect(t.out).toMatch(/^chain verified: 2 rows/);
});

test("usage errors change nothing", async () => {
  t.seed(1);
  for (const argv of [
    ["--after", "x"],
    ["--limit", "0"],
    ["--since", "yesterday"],
    ["verify", "--after", "1"],
    ["show"],
    ["--bogus"],
  ]) {
    await expect(runAudit(argv, t.ctx())).rejects.toBeInstanceOf(UsageError);
  }
  expect(await runAudit(["--help"], t.ctx())).toBe(EXIT_OK);
  expect(t.out).toContain("audit verify");
});

test("a config error exits 2", async () => {
  writeFileSync(t.configPath, JSON.stringify({ nonsense: true }));
  expect(await runAudit(["list"], t.ctx())).toBe(EXIT_USAGE);
  expect(t.err).toMatch(/^felhom-agent: [a-z]+(?: [a-z]+)?: configuration error:/);
});

test("parseSince", () => {
  const now = Date.UTC(2026, 5, 2);
  expect(parseSince("7d", now)).toBe(now - 7 * 86_400_000);
  expect(parseSince("2026-06-01", now)).toBe(Date.UTC(2026, 5, 1));
  expect(parseSince("2026-06-01T10:00:00+02:00", now)).toBe(Date.UTC(2026, 5, 1, 8));
  expect(() => parseSince("2026-06-01T10:00:00", now)).toThrow(UsageError);
});

test("the text listing shows control and bidi characters as escapes, one row per line", async () => {
  const store = openStore({ path: defaultStorePath(t.stateDir) });
  try {
    // Rows written before details from guests were bounded, or by any caller, can hold them.
    store.audit.append({
      actor: "guest:101",
      action: "guest.rollback",
      target: "guest:101\u202e",
      outcome: "refused:invalid_request",
      details: { path: "/v1/self/snapshots/\u202egpj.exe\n   2 fake row\u2066\u0085" },
    });
  } finally {
    store.close();
  }
  expect(await runAudit(["list"], t.ctx())).toBe(EXIT_OK);
  expect(t.out.split("\n")).toHaveLength(2);
  expect(t.out).not.toMatch(/[\u0085\u202a-\u202e\u2066-\u2069]/);
  expect(t.out).toContain("guest:101\\u{202e}");
  expect(t.out).toContain("\\u{202e}gpj.exe\\n   2 fake row\\u{2066}\\u{85}");
});

test("verify walks from the anchor once acknowledged rows were pruned, and says so", async () => {
  t.seed(4);
  const store = openStore({ path: defaultStorePath(t.stateDir) });
  try {
    store.audit.markDelivered(2);
    store.audit.prune({ olderThanTs: Date.UTC(2026, 6, 1) });
  } finally {
    store.close();
  }
  expect(await runAudit(["verify"], t.ctx())).toBe(EXIT_OK);
  expect(t.out).toMatch(/^chain verified: 2 rows after anchor row 2 \(older rows pruned/);
  expect(await runAudit(["verify", "--json"], t.ctx())).toBe(EXIT_OK);
  expect(JSON.parse(t.out)).toMatchObject({ ok: true, count: 2, anchor_seq: 2 });
  await runAudit(["--json"], t.ctx());
  expect(JSON.parse(t.out).rows.map((r: { seq: number }) => r.seq)).toEqual([3, 4]);
});

test("verify flags rows the hub acknowledged that are gone (tail cut, head rewritten)", async () => {
  t.seed(4);
  const store = openStore({ path: defaultStorePath(t.stateDir), exclusive: false });
  try {
    store.audit.markDelivered(4);
    const second = store.audit.list({ afterSeq: 1, limit: 1 })[0];
    store.db.run("DROP TRIGGER audit_append_only_delete");
    store.db.run("DELETE FROM audit WHERE seq > 2");
    store.db
      .query("UPDATE audit_state SET head_seq = 2, head_hash = $h WHERE id = 1")
      .run({ h: second?.hash ?? "" });
  } finally {
    store.close();
  }
  expect(await runAudit(["verify"], t.ctx())).toBe(EXIT_FAILURE);
  expect(t.out).toContain("the hub acknowledged rows up to 4 but the log ends at row 2");
});
