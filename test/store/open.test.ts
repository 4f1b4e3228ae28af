import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { SCHEMA_VERSION } from "../../src/store/migrations.ts";
import { defaultStorePath, openStore } from "../../src/store/open.ts";
import { recordingLogger, spawnWriter, storeError, TempStateDir } from "./support.ts";

let tmp: TempStateDir;
beforeEach(() => {
  tmp = new TempStateDir();
});
afterEach(() => tmp.cleanup());

describe("openStore", () => {
  test("creates state.db 0600 with WAL, FULL sync, foreign keys and the initialization marker", () => {
    expect(defaultStorePath("/var/lib/felhom-agent")).toBe("/var/lib/felhom-agent/state.db");
    const store = tmp.open();
    expect(store.info).toMatchObject({
      path: tmp.dbPath,
      created: true,
      initializedAt: tmp.clock.now(),
      schemaVersion: SCHEMA_VERSION,
      exclusive: true,
    });
    expect(store.info.storeId).toMatch(/^[0-9a-f]{32}$/);
    expect(store.info.migrated).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    store.journal.recordIntent({ op: "guest.start", vmid: 101, origin: "reconcile" });
    for (const file of [tmp.dbPath, `${tmp.dbPath}-wal`]) {
      expect(statSync(file).mode & 0o777).toBe(0o600);
    }
    const pragma = (name: string) =>
      Object.values(store.db.query(`PRAGMA ${name}`).get() as object)[0];
    expect(pragma("journal_mode")).toBe("wal");
    expect(pragma("synchronous")).toBe(2);
    expect(pragma("foreign_keys")).toBe(1);
    expect(pragma("busy_timeout")).toBe(5000);
  });

  test("reopening keeps the store: not created, same id and marker", () => {
    const first = tmp.open();
    const { storeId, initializedAt } = first.info;
    first.close();
    tmp.clock.advance(60_000);
    const second = tmp.open();
    expect(second.info).toMatchObject({ created: false, storeId, initializedAt, migrated: [] });
  });

  test("a wiped state dir is a new store: created again, with a new id", () => {
    const first = tmp.open();
    const id = first.info.storeId;
    first.close();
    tmp.cleanup();
    tmp = new TempStateDir();
    const again = tmp.open();
    expect(again.info.created).toBe(true);
    expect(again.info.storeId).not.toBe(id);
  });

  test("mustExist refuses to create a missing database and leaves no file behind", () => {
    const err = storeError(() => tmp.open({ mustExist: true }));
    expect(err.kind).toBe("missing");
    expect(err.message).toContain("does not exist");
    expect(() => statSync(tmp.dbPath)).toThrow();
  });

  test("mustExist refuses a 0-byte state.db", () => {
    writeFileSync(tmp.dbPath, "");
    const err = storeError(() => tmp.open({ mustExist: true }));
    expect(err.kind).toBe("missing");
    expect(statSync(tmp.dbPath).size).toBe(0);
  });

  test("mustExist refuses state.db copied without its -wal (a header page and no schema)", () => {
    const live = tmp.open();
    live.journal.recordIntent({ op: "guest.start", vmid: 101, origin: "reconcile" });
    const copy = join(tmp.dir, "copy", "state.db");
    mkdirSync(join(tmp.dir, "copy"));
    copyFileSync(tmp.dbPath, copy);
    expect(statSync(copy).size).toBeGreaterThan(0);
    const err = storeError(() => openStore({ path: copy, mustExist: true }));
    expect(err.kind).toBe("missing");
    expect(err.message).toContain("without its -wal");
    // Nothing was created in it: the copy still has no schema.
    const raw = new Database(copy, { readonly: true });
    expect(raw.query("SELECT count(*) AS n FROM sqlite_master").get()).toEqual({ n: 0 });
    raw.close();
  });

  test("a database whose initialization marker was deleted is refused", () => {
    tmp.open().close();
    const raw = new Database(tmp.dbPath);
    raw.run("DELETE FROM meta WHERE key = 'initialized_at'");
    raw.close();
    const err = storeError(() => tmp.open());
    expect(err.kind).toBe("not_initialized");
    expect(err.message).toContain("restore it from a backup");
  });

  test("a group/world-readable existing file is made 0600 with a warning", () => {
    tmp.open().close();
    chmodSync(tmp.dbPath, 0o644);
    const logger = recordingLogger();
    tmp.open({ logger });
    expect(statSync(tmp.dbPath).mode & 0o777).toBe(0o600);
    const warning = logger.records.find((r) => r.level === "warn");
    expect(warning?.msg).toContain("readable by other users");
    expect(warning?.fields).toMatchObject({ file: tmp.dbPath, was: "644" });
  });

  test("a missing state dir is created 0700", () => {
    const path = join(tmp.dir, "nested", "deeper", "state.db");
    const store = openStore({ path, clock: tmp.clock });
    store.close();
    expect(statSync(join(tmp.dir, "nested", "deeper")).mode & 0o777).toBe(0o700);
  });

  test("an unusable path is a clear path error", () => {
    writeFileSync(join(tmp.dir, "plain-file"), "x");
    const underFile = storeError(() =>
      openStore({ path: join(tmp.dir, "plain-file", "state.db") }),
    );
    expect(underFile.kind).toBe("path");
    expect(underFile.message).toContain("check state_dir");
    mkdirSync(join(tmp.dir, "a-directory"));
    const isDir = storeError(() => openStore({ path: join(tmp.dir, "a-directory") }));
    expect(isDir.kind).toBe("path");
    expect(isDir.message).toContain("not a regular file");
  });
});

describe("a second agent on the same database", () => {
  test("in the same process: refused with the holder's pid; works again after close", () => {
    const first = tmp.open();
    const err = storeError(() => openStore({ path: tmp.dbPath }));
    expect(err.kind).toBe("locked");
    expect(err.holderPid).toBe(process.pid);
    expect(err.message).toContain(`pid ${process.pid}`);
    expect(err.message).toContain("stop it");
    first.journal.recordIntent({ op: "guest.start", vmid: 101, origin: "reconcile" });
    first.close();
    const second = tmp.open();
    expect(second.journal.inFlight()).toHaveLength(1);
  });

  test("a holder row naming a dead process is not passed off as the holder", () => {
    const first = tmp.open();
    first.db.run(`UPDATE meta SET value = '{"pid":2147483646,"since":0}' WHERE key = 'holder'`);
    const err = storeError(() => openStore({ path: tmp.dbPath }));
    expect(err.kind).toBe("locked");
    expect(err.holderPid).toBeUndefined();
    expect(err.message).toContain("another felhom-agent process;");
  });

  test.skipIf(Bun.which("flock") === null)(
    "a lock held for a moment by another process (a side command opening) is waited for, within lockWaitMs",
    async () => {
      tmp.open().close();
      // util-linux flock takes the same exclusive flock on the directory for 300 ms.
      const holder = Bun.spawn(["flock", "-x", tmp.dir, "sleep", "0.3"]);
      try {
        const held = Date.now() + 2000;
        while (Date.now() < held) {
          const probe = storeErrorOrStore(() => openStore({ path: tmp.dbPath }));
          if (probe === "locked") break;
          Bun.sleepSync(5);
        }
        expect(storeError(() => openStore({ path: tmp.dbPath })).kind).toBe("locked");
        const waited = openStore({ path: tmp.dbPath, lockWaitMs: 5000 });
        expect(waited.info.exclusive).toBe(true);
        waited.close();
      } finally {
        holder.kill();
        await holder.exited;
      }
    },
  );

  test("in another process: refused naming that process; free again once it dies", async () => {
    tmp.open().close();
    const child = await spawnWriter(tmp.dbPath, "hold");
    try {
      const err = storeError(() => openStore({ path: tmp.dbPath }));
      expect(err.kind).toBe("locked");
      expect(err.holderPid).toBe(child.pid);
      expect(err.message).toContain(`pid ${child.pid}`);
    } finally {
      await child.kill();
    }
    expect(tmp.open().info.exclusive).toBe(true);
  });

  test("side commands open non-exclusively next to the daemon and share its data", () => {
    const daemon = tmp.open();
    const cli = tmp.open({ exclusive: false });
    expect(cli.info.exclusive).toBe(false);
    const minted = cli.guestTokens.mint(101);
    expect(daemon.guestTokens.resolve(minted.token)).toEqual({
      id: minted.id,
      vmid: 101,
      guestUid: minted.guestUid,
    });
    cli.close();
    daemon.journal.recordIntent({ op: "guest.start", vmid: 101, origin: "reconcile" });
  });

  test("a side command never creates or migrates a database the daemon holds", () => {
    const daemon = tmp.open();
    daemon.db.run(`PRAGMA user_version = ${SCHEMA_VERSION - 1}`);
    const err = storeError(() => tmp.open({ exclusive: false }));
    expect(err.kind).toBe("schema_behind");
    expect(err.message).toContain("restart the running felhom-agent");
    daemon.db.run(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  });
});

describe("damaged or foreign files", () => {
  test("a file that is not a database is corrupt, and is left as it was", () => {
    writeFileSync(tmp.dbPath, "this is not sqlite ".repeat(400), { mode: 0o600 });
    const err = storeError(() => tmp.open());
    expect(err.kind).toBe("corrupt");
    expect(err.message).toContain("restore it from a backup");
    expect(statSync(tmp.dbPath).size).toBe(19 * 400);
  });

  test("a database with a damaged page fails its integrity check", () => {
    const store = tmp.open();
    for (let i = 0; i < 300; i++) store.outbox.enqueue("telemetry", { i, pad: "x".repeat(200) });
    store.close();
    // Fold the WAL into the main file so the damage below hits live pages.
    const raw = new Database(tmp.dbPath);
    raw.run("PRAGMA wal_checkpoint(TRUNCATE)");
    raw.run("PRAGMA journal_mode = DELETE");
    raw.close();
    const pageSize = 4096;
    const fd = openSync(tmp.dbPath, "r+");
    const size = statSync(tmp.dbPath).size;
    writeSync(fd, Buffer.alloc(300, 0xab), 0, 300, size - 3 * pageSize + 100);
    closeSync(fd);
    const err = storeError(() => tmp.open());
    expect(err.kind).toBe("corrupt");
  });

  test("a schema from a newer agent is refused: upgrade the agent", () => {
    tmp.open().close();
    const raw = new Database(tmp.dbPath);
    raw.run(`PRAGMA user_version = ${SCHEMA_VERSION + 3}`);
    raw.close();
    const err = storeError(() => tmp.open());
    expect(err.kind).toBe("newer_schema");
    expect(err.foundVersion).toBe(SCHEMA_VERSION + 3);
    expect(err.knownVersion).toBe(SCHEMA_VERSION);
    expect(err.message).toContain("upgrade felhom-agent");
  });

  test("an SQLite database of something else is refused, not adopted", () => {
    const raw = new Database(tmp.dbPath);
    raw.run("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)");
    raw.close();
    const err = storeError(() => tmp.open());
    expect(err.kind).toBe("foreign");
    const check = new Database(tmp.dbPath);
    expect(check.query("SELECT name FROM sqlite_master WHERE type = 'table'").all()).toEqual([
      { name: "photos" },
    ]);
    check.close();
  });

  test("a failed open holds no lock", () => {
    writeFileSync(tmp.dbPath, "garbage".repeat(1000));
    expect(storeError(() => tmp.open()).kind).toBe("corrupt");
    writeFileSync(tmp.dbPath, "");
    expect(tmp.open().info.created).toBe(true);
  });
});

/** "locked" when the open is refused for the lock; otherwise the store is closed at once. */
function storeErrorOrStore(open: () => { close(): void }): "locked" | "opened" | "other" {
  try {
    open().close();
    return "opened";
  } catch (err) {
    return (err as { kind?: string }).kind === "locked" ? "locked" : "other";
  }
}
