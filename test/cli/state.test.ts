import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runState } from "../../src/cli/state.ts";
import { writeHubAcks } from "../../src/daemon/hub-acks.ts";
import { SCHEMA_VERSION } from "../../src/store/migrations.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import { TempStateDir } from "../store/support.ts";

let tmp: TempStateDir;
beforeEach(() => {
  tmp = new TempStateDir();
});
afterEach(() => tmp.cleanup());

function cli(...argv: string[]) {
  const configPath = join(tmp.dir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      proxmox: {
        endpoint: "https://127.0.0.1:1",
        node: "pve1",
        token: "felhom-agent@pve!agent=00000000-0000-0000-0000-000000000000",
        tls: { fingerprint: "AA".repeat(32) },
      },
      state_dir: join(tmp.dir, "state"),
    }),
  );
  let out = "";
  let err = "";
  const run = runState(argv, {
    env: {},
    configPath,
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
    deps: { clock: tmp.clock },
  });
  return run.then((code) => ({ code, out, err }));
}

const dbPath = () => join(tmp.dir, "state", "state.db");
const daemon = (): Store => openStore({ path: dbPath(), clock: tmp.clock });

function journalCount(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.query("SELECT count(*) AS n FROM journal").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe("state backup", () => {
  test("while the daemon runs: a consistent 0600 copy, with rows still only in the WAL", async () => {
    const live = daemon();
    for (let i = 0; i < 3; i++) {
      live.journal.recordIntent({ op: "guest.start", vmid: 101 + i, origin: "reconcile" });
    }
    // The main file alone lacks them: they are in state.db-wal.
    expect(statSync(`${dbPath()}-wal`).size).toBeGreaterThan(0);
    const file = join(tmp.dir, "backup.db");
    const r = await cli("backup", file, "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({
      written: file,
      store_id: live.info.storeId,
      schema_version: SCHEMA_VERSION,
      journal_entries: 3,
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(journalCount(file)).toBe(3);
    // The daemon goes on writing.
    live.journal.recordIntent({ op: "guest.stop", vmid: 101, origin: "reconcile" });
    live.close();
  });

  test("never overwrites a file, and no temporary file is left", async () => {
    daemon().close();
    const file = join(tmp.dir, "exists.db");
    writeFileSync(file, "keep me");
    const r = await cli("backup", file);
    expect(r.code).toBe(1);
    expect(r.err).toContain("already exists");
    expect(Bun.file(file).size).toBe(7);
    expect(readdirSync(tmp.dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  test("with no store there is nothing to back up, and none is created", async () => {
    const r = await cli("backup", join(tmp.dir, "b.db"));
    expect(r.code).toBe(1);
    expect(existsSync(dbPath())).toBe(false);
  });
});

describe("state restore", () => {
  async function backupOf(store: Store): Promise<string> {
    const file = join(tmp.dir, `backup-${Math.random().toString(36).slice(2)}.db`);
    store.db.query("VACUUM INTO $p").run({ p: file });
    return file;
  }

  test("puts the backup in place, keeps the replaced database aside, audits it", async () => {
    const live = daemon();
    live.journal.recordIntent({ op: "guest.start", vmid: 101, origin: "reconcile" });
    const file = await backupOf(live);
    live.journal.recordIntent({ op: "guest.stop", vmid: 101, origin: "reconcile" });
    live.close();
    const r = await cli("restore", file);
    expect(r.code).toBe(0);
    expect(r.out).toContain("the replaced database is kept at");
    const kept = readdirSync(join(tmp.dir, "state")).find((f) =>
      /^state\.db\.before-restore-[^.]*$/.test(f),
    );
    expect(kept).toBeDefined();
    expect(journalCount(join(tmp.dir, "state", kept as string))).toBe(2);
    const back = daemon();
    expect(back.journal.recent(10)).toHaveLength(1);
    expect(back.audit.list({ limit: 10 }).map((a) => a.action)).toContain("state.restore");
    expect(statSync(dbPath()).mode & 0o777).toBe(0o600);
    back.close();
  });

  test("onto a host with no state yet (the state dir is missing): restored, nothing kept aside", async () => {
    const source = new TempStateDir();
    try {
      const s = source.open();
      s.journal.recordIntent({ op: "guest.start", vmid: 101, origin: "reconcile" });
      const file = join(tmp.dir, "from-elsewhere.db");
      s.db.query("VACUUM INTO $p").run({ p: file });
      const r = await cli("restore", file, "--json");
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ store_id: s.info.storeId, journal_entries: 1 });
      expect(JSON.parse(r.out).replaced_kept_at).toBeUndefined();
      expect(statSync(join(tmp.dir, "state")).mode & 0o777).toBe(0o700);
      expect(journalCount(dbPath())).toBe(1);
    } finally {
      source.cleanup();
    }
  });

  test("refused while the daemon holds the store; nothing changes", async () => {
    const live = daemon();
    const file = await backupOf(live);
    live.journal.recordIntent({ op: "guest.start", vmid: 101, origin: "reconcile" });
    const r = await cli("restore", file);
    expect(r.code).toBe(1);
    expect(r.err).toContain("stop it");
    expect(live.journal.recent(10)).toHaveLength(1);
    live.checkIntact();
    live.close();
  });

  test("refuses what is not our store, or a newer schema; nothing changes", async () => {
    const live = daemon();
    live.journal.recordIntent({ op: "guest.start", vmid: 101, origin: "reconcile" });
    live.close();
    const junk = join(tmp.dir, "junk.db");
    writeFileSync(junk, "not a database at all".repeat(100));
    const other = join(tmp.dir, "other.db");
    const o = new Database(other);
    o.run("CREATE TABLE t (x)");
    o.close();
    const newer = join(tmp.dir, "newer.db");
    const src = daemon();
    src.db.query("VACUUM INTO $p").run({ p: newer });
    src.close();
    const n = new Database(newer);
    n.run(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    n.close();
    for (const [file, says] of [
      [junk, "not a readable SQLite database"],
      [other, "not a felhom-agent state database"],
      [newer, "newer than this felhom-agent"],
    ] as const) {
      const r = await cli("restore", file);
      expect(r.code).toBe(1);
      expect(r.err).toContain(says);
    }
    expect(readdirSync(join(tmp.dir, "state")).filter((f) => f.includes("before-restore"))).toEqual(
      [],
    );
    expect(journalCount(dbPath())).toBe(1);
  });

  test("on an enrolled host, a backup of another store is refused", async () => {
    const mine = daemon();
    writeHubAcks(join(tmp.dir, "state", "hub-acks.json"), {
      version: 1,
      store_id: mine.info.storeId,
      report_seq: 0,
      audit_seq: 0,
      updated_at: 0,
    });
    mine.close();
    const foreign = new TempStateDir();
    try {
      const s = foreign.open();
      const file = join(tmp.dir, "foreign.db");
      s.db.query("VACUUM INTO $p").run({ p: file });
      const r = await cli("restore", file);
      expect(r.code).toBe(1);
      expect(r.err).toContain("this enrolled host runs on store");
    } finally {
      foreign.cleanup();
    }
  });

  test("usage: exactly one FILE; --help explains both", async () => {
    await expect(cli("restore")).rejects.toThrow("exactly one FILE");
    await expect(cli("backup", "a", "b")).rejects.toThrow("exactly one FILE");
    await expect(cli("copy", "a")).rejects.toThrow("unknown state subcommand");
    const h = await cli("--help");
    expect(h.code).toBe(0);
    expect(h.out).toContain("state backup FILE");
    expect(h.out).toContain("state restore FILE");
  });
});
