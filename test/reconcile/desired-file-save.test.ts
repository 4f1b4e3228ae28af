import { afterEach, beforeEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../../src/log/types.ts";
import { FileDesiredProvider } from "../../src/reconcile/desired-provider.ts";
import { TempStateDir } from "../store/support.ts";

let tmp: TempStateDir;
beforeEach(() => {
  tmp = new TempStateDir();
});
afterEach(() => tmp.cleanup());

test("a desired file the store could not save is saved on the next refresh, not dropped", async () => {
  const store = tmp.open();
  const path = join(tmp.dir, "desired.json");
  writeFileSync(path, JSON.stringify({ version: 1, guests: { "101": { cores: 3 } } }));
  const provider = new FileDesiredProvider({
    path,
    cache: store.desired,
    logger: silentLogger,
    clock: tmp.clock,
  });
  let changes = 0;
  provider.onChange(() => changes++);
  store.db.run(
    "CREATE TEMP TRIGGER refuse_desired BEFORE INSERT ON desired_state BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
  );
  await expect(provider.refresh()).rejects.toThrow("disk is full");
  expect(store.desired.get()).toBeUndefined();
  store.db.run("DROP TRIGGER refuse_desired");
  // The same, unchanged file: saved now.
  expect(await provider.refresh()).toBe(true);
  expect((await provider.current())?.guests.get(101)?.cores).toBe(3);
  expect(changes).toBe(1);
});

test("watch retries a refresh that failed even though the file did not change", async () => {
  const store = tmp.open();
  const path = join(tmp.dir, "desired.json");
  writeFileSync(path, JSON.stringify({ version: 1, guests: { "102": { cores: 2 } } }));
  const provider = new FileDesiredProvider({
    path,
    cache: store.desired,
    logger: silentLogger,
    clock: tmp.clock,
  });
  store.db.run(
    "CREATE TEMP TRIGGER refuse_desired BEFORE INSERT ON desired_state BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
  );
  const stop = new AbortController();
  const saved = new Promise<void>((resolve) => provider.onChange(() => resolve()));
  const watching = provider.watch(stop.signal, 1000);
  // First tick: the save fails. Let the store write again, then step the manual clock.
  for (let i = 0; i < 20 && store.desired.get() === undefined; i++) {
    await Bun.sleep(5);
    if (i === 5) store.db.run("DROP TRIGGER refuse_desired");
    tmp.clock.advance(1000);
  }
  await saved;
  stop.abort();
  await watching;
  expect(store.desired.get()?.source).toBe(`file:${path}`);
});
