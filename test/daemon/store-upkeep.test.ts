import { Database } from "bun:sqlite";
import { afterEach, beforeEach, expect, test } from "bun:test";
import { copyFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { StoreUpkeep } from "../../src/daemon/store-upkeep.ts";
import { silentLogger } from "../../src/log/types.ts";
import { StoreError } from "../../src/store/errors.ts";
import type { Store } from "../../src/store/store.ts";
import { TempStateDir, thrown } from "../store/support.ts";

const DAY = 86_400_000;
let tmp: TempStateDir;
let store: Store;
let upkeep: StoreUpkeep;
beforeEach(() => {
  tmp = new TempStateDir();
  store = tmp.open();
  upkeep = new StoreUpkeep({
    store,
    config: { journal_retention_days: 30 },
    clock: tmp.clock,
    logger: silentLogger,
  });
});
afterEach(() => tmp.cleanup());

test("after a pass the WAL is checkpointed: a plain copy of state.db alone holds every row", () => {
  for (let i = 0; i < 5; i++) {
    store.journal.recordIntent({ op: "guest.start", vmid: 101 + i, origin: "reconcile" });
  }
  expect(statSync(`${tmp.dbPath}-wal`).size).toBeGreaterThan(0);
  upkeep.afterPass();
  expect(statSync(`${tmp.dbPath}-wal`).size).toBe(0);
  const copy = join(tmp.dir, "copy.db");
  copyFileSync(tmp.dbPath, copy);
  const db = new Database(copy, { readonly: true });
  expect(db.query("SELECT count(*) AS n FROM journal").get()).toEqual({ n: 5 });
  db.close();
});

test("a reader on an older snapshot: the checkpoint reports busy instead of waiting, and completes later", () => {
  store.journal.recordIntent({ op: "guest.start", vmid: 101, origin: "reconcile" });
  const reader = new Database(tmp.dbPath, { readonly: true });
  reader.run("BEGIN");
  reader.query("SELECT count(*) FROM journal").get();
  store.journal.recordIntent({ op: "guest.stop", vmid: 101, origin: "reconcile" });
  expect(upkeep.checkpoint().busy).toBe(true);
  // The store's own busy timeout is back in place.
  expect(store.db.query("PRAGMA busy_timeout").get()).toEqual({ timeout: 5000 });
  reader.run("COMMIT");
  reader.close();
  expect(upkeep.checkpoint()).toMatchObject({ busy: false });
  expect(statSync(`${tmp.dbPath}-wal`).size).toBe(0);
});

test("journal entries past the retention are pruned after a pass, at most once an hour", () => {
  const old = store.journal.recordIntent({ op: "guest.start", vmid: 101, origin: "reconcile" });
  store.journal.recordTerminal(old, "done");
  upkeep.afterPass();
  tmp.clock.advance(31 * DAY);
  const later = store.journal.recordIntent({ op: "guest.start", vmid: 102, origin: "reconcile" });
  store.journal.recordTerminal(later, "done");
  upkeep.afterPass();
  expect(store.journal.byId(old)).toBeUndefined();
  tmp.clock.advance(31 * DAY);
  upkeep.afterPass();
  expect(store.journal.byId(later)).toBeUndefined();
});

test("beforePass throws StoreError replaced once state.db is gone", () => {
  upkeep.beforePass();
  copyFileSync(tmp.dbPath, `${tmp.dbPath}.x`);
  renameSync(`${tmp.dbPath}.x`, tmp.dbPath);
  const err = thrown(() => upkeep.beforePass());
  expect(err).toBeInstanceOf(StoreError);
  expect((err as StoreError).kind).toBe("replaced");
});
