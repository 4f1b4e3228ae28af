import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_UPDATE_TIMING, UpdateDriver } from "../../src/daemon/update-driver.ts";
import { silentLogger } from "../../src/log/types.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import { linkedVersion, pointLink, updateLayout } from "../../src/update/layout.ts";
import { systemClock } from "../../src/util/clock.ts";
import { installVersion, scriptArtifact } from "./artifacts.ts";

// The daemon's side: a new version on probation becomes good when the health signal comes,
// and is rolled back (with a restart asked for) when the deadline passes first.

let dir: string;
let stateDir: string;
let store: Store;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "felhom-update-driver-"));
  stateDir = join(dir, "state");
  store = openStore({ path: join(stateDir, "state.db") });
  const l = updateLayout(stateDir);
  installVersion(stateDir, "0.1.0", scriptArtifact("0.1.0"));
  installVersion(stateDir, "0.2.0", scriptArtifact("0.2.0"));
  pointLink(l, l.previous, "0.1.0");
  pointLink(l, l.current, "0.2.0");
  const a = store.agentUpdates.record({
    journalId: 1,
    version: "0.2.0",
    fromVersion: "0.1.0",
    target: "x64",
    sha256: "f".repeat(64),
    size: 1,
    expiresAt: Date.now() + 60_000,
  });
  store.agentUpdates.advance(a.id, "switched");
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function driver(restarts: string[], healthDeadlineMs: number): UpdateDriver {
  return new UpdateDriver({
    store,
    stateDir,
    env: {},
    timing: { ...DEFAULT_UPDATE_TIMING, checkEveryMs: 10, healthDeadlineMs },
    clock: systemClock,
    logger: silentLogger,
    runningVersion: "0.2.0",
    restart: (why) => restarts.push(why),
  });
}

test("healthy within the deadline: good, no restart", async () => {
  const restarts: string[] = [];
  const d = driver(restarts, 5_000);
  expect(d.start().kind).toBe("health_gate");
  const stop = new AbortController();
  let healthy = false;
  const running = d.run(stop.signal, () => healthy);
  await Bun.sleep(30);
  expect(store.agentUpdates.open()?.step).toBe("started");
  healthy = true;
  for (let i = 0; i < 100 && store.agentUpdates.open() !== undefined; i++) await Bun.sleep(10);
  stop.abort();
  await running;
  d.stop();
  expect(store.agentUpdates.last()?.step).toBe("good");
  expect(restarts).toEqual([]);
});

test("not healthy by the deadline: rolled back and a restart asked for", async () => {
  const restarts: string[] = [];
  const d = driver(restarts, 50);
  expect(d.start().kind).toBe("health_gate");
  const stop = new AbortController();
  const running = d.run(stop.signal, () => false);
  for (let i = 0; i < 100 && restarts.length === 0; i++) await Bun.sleep(10);
  stop.abort();
  await running;
  d.stop();
  expect(restarts).toEqual(["rolled back to the previous version"]);
  expect(store.agentUpdates.last()).toMatchObject({ step: "rolled_back" });
  expect(store.agentUpdates.last()?.reason).toContain("did not become healthy within 50 ms");
  expect(linkedVersion(join(stateDir, "current"))).toBe("0.1.0");
});
