import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../src/store/open.ts";
import { spawnWriter, storeError, TempStateDir } from "./support.ts";

let tmp: TempStateDir;
beforeEach(() => {
  tmp = new TempStateDir();
});
afterEach(() => tmp.cleanup());

describe("the one-agent lock survives unlinks", () => {
  test("every file in the state dir unlinked under a running agent: a second one still refuses", async () => {
    tmp.open().close();
    const child = await spawnWriter(tmp.dbPath, "hold");
    try {
      for (const name of readdirSync(tmp.dir)) rmSync(join(tmp.dir, name), { force: true });
      const err = storeError(() => openStore({ path: tmp.dbPath }));
      expect(err.kind).toBe("locked");
      expect(err.message).toContain("stop it before starting another");
    } finally {
      await child.kill();
    }
  });

  test("in one process: unlinking what used to be the lock file frees nothing", () => {
    const first = tmp.open();
    rmSync(`${tmp.dbPath}.lock`, { force: true });
    expect(storeError(() => openStore({ path: tmp.dbPath })).kind).toBe("locked");
    first.close();
  });
});

describe("checkIntact: the file held open is still the one at the path", () => {
  test("holds while nothing moved", () => {
    const store = tmp.open();
    store.journal.recordIntent({ op: "guest.start", vmid: 101, origin: "reconcile" });
    expect(() => store.checkIntact()).not.toThrow();
  });

  test("state.db unlinked under the store: replaced, naming the path and what to do", () => {
    const store = tmp.open();
    rmSync(tmp.dbPath);
    const err = storeError(() => store.checkIntact());
    expect(err.kind).toBe("replaced");
    expect(err.path).toBe(tmp.dbPath);
    expect(err.message).toContain("is gone");
    expect(err.message).toContain("state restore");
  });

  test("state.db replaced by a copy (another inode): replaced", () => {
    const store = tmp.open();
    store.db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    copyFileSync(tmp.dbPath, `${tmp.dbPath}.copy`);
    renameSync(`${tmp.dbPath}.copy`, tmp.dbPath);
    const err = storeError(() => store.checkIntact());
    expect(err.kind).toBe("replaced");
    expect(err.message).toContain("a different file");
  });

  test("the state directory moved away and recreated: replaced", () => {
    const store = tmp.open();
    renameSync(tmp.dir, `${tmp.dir}.old`);
    try {
      mkdirSync(tmp.dir);
      copyFileSync(join(`${tmp.dir}.old`, "state.db"), tmp.dbPath);
      const err = storeError(() => store.checkIntact());
      expect(err.kind).toBe("replaced");
    } finally {
      rmSync(`${tmp.dir}.old`, { recursive: true, force: true });
    }
  });
});
