import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_UPDATE_TIMING, UpdateDriver } from "../../src/daemon/update-driver.ts";
import { silentLogger } from "../../src/log/types.ts";
import type { AuditRow } from "../../src/store/audit.ts";
import { inspectStoreFile } from "../../src/store/backup.ts";
import { readUserVersion, SCHEMA_VERSION } from "../../src/store/migrations.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import {
  installedVersions,
  linkedVersion,
  pointLink,
  updateLayout,
} from "../../src/update/layout.ts";
import { stateCopyPath } from "../../src/update/state-rollback.ts";
import { Updater, type UpdaterDeps } from "../../src/update/updater.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { installVersion, scriptArtifact, sha256, streamOf } from "./artifacts.ts";

// A rollback across a schema change (docs/self-update.md#rollback-across-a-schema-change): the
// state copy taken before the switch goes back in place, the audit rows and spent nonces
// written since are carried over, and the previous version opens the result.

const OLDER = "0.0.9";
const OLD = "0.1.0";
const NEW = "0.2.0";

let dir: string;
let stateDir: string;
let dbPath: string;
let store: Store;
let clock: ManualClock;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "felhom-update-state-"));
  stateDir = join(dir, "state");
  dbPath = join(stateDir, "state.db");
  clock = new ManualClock(Date.parse("2026-06-01T00:00:00Z"));
  store = openStore({ path: dbPath, clock });
  const l = updateLayout(stateDir);
  installVersion(stateDir, OLDER, scriptArtifact(OLDER));
  installVersion(stateDir, OLD, scriptArtifact(OLD));
  pointLink(l, l.previous, OLDER);
  pointLink(l, l.current, OLD);
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function updater(runningVersion: string, over: Partial<UpdaterDeps> = {}): Updater {
  return new Updater({
    store,
    layout: updateLayout(stateDir),
    runningVersion,
    fetchArtifact: async () => streamOf(scriptArtifact(NEW), 7),
    smoke: { env: {}, timeoutMs: 5_000 },
    clock,
    logger: silentLogger,
    ...over,
  });
}

const links = () => ({
  current: linkedVersion(join(stateDir, "current")),
  previous: linkedVersion(join(stateDir, "previous")),
});

/** The old version admits and carries the update up to the switch. */
async function switched(): Promise<number> {
  const bytes = scriptArtifact(NEW);
  const a = store.agentUpdates.record({
    journalId: 1,
    version: NEW,
    fromVersion: OLD,
    target: "x64",
    sha256: sha256(bytes),
    size: bytes.length,
    expiresAt: clock.now() + 3_600_000,
  });
  store.audit.append({ actor: "agent", action: "test.before", outcome: "ok" });
  expect(await updater(OLD).advance()).toBe("switched");
  return a.id;
}

/** What the new version's start does to the schema, as a migration of its own would. */
function migrateAsNewVersion(): void {
  store.db.run("CREATE TABLE IF NOT EXISTS newer_feature (x INTEGER) STRICT");
  store.db.run(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
}

function reopen(): void {
  store.close();
  store = openStore({ path: dbPath, clock, mustExist: true });
}

function auditRows(db: Database): AuditRow[] {
  return (db.query("SELECT * FROM audit ORDER BY seq").all() as Record<string, unknown>[]).map(
    (r) => ({ seq: r.seq, hash: r.hash, action: r.action, outcome: r.outcome }) as AuditRow,
  );
}

function keptAside(): string[] {
  return readdirSync(stateDir).filter((f) => f.startsWith("state.db.rolled-back-"));
}

describe("the state copy", () => {
  test("is taken into versions/<from>/ before the switch, a store of the old schema", async () => {
    await switched();
    const copy = stateCopyPath(updateLayout(stateDir), OLD);
    const info = inspectStoreFile(copy);
    expect(info.storeId).toBe(store.info.storeId);
    expect(info.schemaVersion).toBe(SCHEMA_VERSION);
    expect(links()).toEqual({ current: NEW, previous: OLD });
  });
});

describe("rollback across a schema change", () => {
  test("the copy goes back in place with the audit rows and nonces written since; the previous version opens it", async () => {
    const id = await switched();
    migrateAsNewVersion();
    const u = updater(NEW);
    expect(u.onStart().kind).toBe("health_gate");
    // The new version works for a while: audited actions, a spent nonce.
    store.audit.append({ actor: "hub", action: "guest.start", target: "guest:101", outcome: "ok" });
    store.audit.append({ actor: "hub", action: "guest.stop", target: "guest:101", outcome: "ok" });
    expect(store.nonces.consume("n-spent-by-new", clock.now() + 60_000)).toBe(true);
    const liveRows = auditRows(store.db);

    // It dies before it is healthy; its next start rolls back.
    const out = updater(NEW).onStart();
    expect(out.kind).toBe("rolled_back");
    // Two versions stay: the one rolled back to, and the one it had replaced.
    expect(links()).toEqual({ current: OLD, previous: OLDER });
    expect(installedVersions(updateLayout(stateDir)).sort()).toEqual([OLDER, OLD]);

    // The newer database is kept aside, whole and at its schema.
    const kept = keptAside().filter((f) => !f.endsWith("-wal") && !f.endsWith("-shm"));
    expect(kept).toHaveLength(1);
    const keptDb = new Database(join(stateDir, kept[0] as string), { readonly: true });
    expect(readUserVersion(keptDb)).toBe(SCHEMA_VERSION + 1);
    keptDb.close();

    // The previous version (this build's schema) opens the restored state.
    reopen();
    expect(readUserVersion(store.db)).toBe(SCHEMA_VERSION);
    expect(store.audit.verifyChain().ok).toBe(true);
    const restored = auditRows(store.db);
    // Every live row, unchanged, then the row that says what was restored.
    expect(restored.slice(0, liveRows.length)).toEqual(liveRows);
    expect(restored.at(-1)).toMatchObject({ action: "agent.update", outcome: "state_restored" });
    const note = store.audit.list({ limit: 1000 }).find((r) => r.outcome === "state_restored");
    expect(JSON.parse(note?.details ?? "{}")).toMatchObject({
      version: NEW,
      back_to: OLD,
      audit_rows_carried: 2,
      nonces_carried: 1,
    });
    // The nonce the newer version spent stays spent: its instruction cannot be replayed.
    expect(store.nonces.consume("n-spent-by-new", clock.now() + 60_000)).toBe(false);
    // The attempt was left started; the previous version's start closes it.
    expect(store.agentUpdates.last()).toMatchObject({ id, step: "started" });
    expect(updater(OLD).onStart().kind).toBe("none");
    expect(store.agentUpdates.last()).toMatchObject({ id, step: "rolled_back" });
    expect(store.agentUpdates.hasFailed(NEW)).toBe(true);
  });

  test("a crash after the swap, before the links moved: the new version's next start redoes it", async () => {
    await switched();
    migrateAsNewVersion();
    updater(NEW).onStart();
    store.audit.append({ actor: "hub", action: "guest.start", target: "guest:101", outcome: "ok" });
    expect(updater(NEW).onStart().kind).toBe("rolled_back");
    // Undo the link switch, as if the process died between the swap and the links.
    const l = updateLayout(stateDir);
    installVersion(stateDir, NEW, scriptArtifact(NEW));
    pointLink(l, l.previous, OLD);
    pointLink(l, l.current, NEW);
    // The new version starts again: opens the restored state and migrates it again.
    reopen();
    migrateAsNewVersion();
    const before = auditRows(store.db);
    expect(updater(NEW).onStart().kind).toBe("rolled_back");
    expect(links()).toEqual({ current: OLD, previous: OLDER });
    reopen();
    expect(readUserVersion(store.db)).toBe(SCHEMA_VERSION);
    expect(store.audit.verifyChain().ok).toBe(true);
    const after = auditRows(store.db);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.filter((r) => r.outcome === "state_restored")).toHaveLength(2);
    expect(updater(OLD).onStart().kind).toBe("none");
    expect(store.agentUpdates.last()?.step).toBe("rolled_back");
  });

  test("the same schema: nothing is restored, the attempt closes in the live store", async () => {
    await switched();
    updater(NEW).onStart();
    store.audit.append({ actor: "hub", action: "guest.start", target: "guest:101", outcome: "ok" });
    expect(updater(NEW).onStart().kind).toBe("rolled_back");
    expect(keptAside()).toEqual([]);
    expect(store.agentUpdates.last()?.step).toBe("rolled_back");
    expect(links()).toEqual({ current: OLD, previous: OLDER });
  });

  test("the health deadline passing in the running process: a restart, the swap left to the next start", async () => {
    await switched();
    migrateAsNewVersion();
    const restarts: string[] = [];
    const d = new UpdateDriver({
      store,
      stateDir,
      env: {},
      timing: { ...DEFAULT_UPDATE_TIMING, checkEveryMs: 10, healthDeadlineMs: 20 },
      clock,
      logger: silentLogger,
      runningVersion: NEW,
      restart: (why) => restarts.push(why),
    });
    expect(d.start().kind).toBe("health_gate");
    for (let i = 0; i < 200 && restarts.length === 0; i++) await Bun.sleep(5);
    d.stop();
    expect(restarts).toEqual([
      "did not become healthy within 20 ms; rolled back at the next start",
    ]);
    expect(links().current).toBe(NEW);
    expect(store.agentUpdates.open()?.step).toBe("started");
    expect(keptAside()).toEqual([]);
    // The next start does it, before anything else runs.
    expect(updater(NEW).onStart().kind).toBe("rolled_back");
    expect(links().current).toBe(OLD);
  });

  test("putting the copy back fails: nothing swapped, the attempt fails, the new version stays", async () => {
    await switched();
    migrateAsNewVersion();
    updater(NEW).onStart();
    // Where the copy would be prepared is taken by a directory: the preparation fails.
    mkdirSync(`${dbPath}.rollback-tmp`);
    expect(updater(NEW).onStart().kind).toBe("none");
    expect(links()).toEqual({ current: NEW, previous: OLD });
    expect(readUserVersion(store.db)).toBe(SCHEMA_VERSION + 1);
    expect(keptAside()).toEqual([]);
    const last = store.agentUpdates.last();
    expect(last?.step).toBe("failed");
    expect(last?.reason).toContain("putting it back failed");
    expect(
      store.audit
        .list({ limit: 100 })
        .filter((r) => r.action === "agent.update")
        .at(-1)?.outcome,
    ).toBe("failed");
  });

  test("without a state copy (an attempt from a build that took none) it rolls back as before", async () => {
    await switched();
    rmSync(stateCopyPath(updateLayout(stateDir), OLD));
    updater(NEW).onStart();
    expect(updater(NEW).onStart().kind).toBe("rolled_back");
    expect(store.agentUpdates.last()?.step).toBe("rolled_back");
    expect(existsSync(dbPath)).toBe(true);
    expect(keptAside()).toEqual([]);
  });
});
