import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { ackRecordingPorts } from "../../src/daemon/hub-ack-recorder.ts";
import { HubAcksError, hubAcksPath, readHubAcks } from "../../src/daemon/hub-acks.ts";
import { openDaemonStore } from "../../src/daemon/state-binding.ts";
import { silentLogger } from "../../src/log/types.ts";
import { StoreError } from "../../src/store/errors.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import { TempStateDir, thrown } from "../store/support.ts";

let tmp: TempStateDir;
const opened: Store[] = [];
beforeEach(() => {
  tmp = new TempStateDir();
});
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
  tmp.cleanup();
});

const identityPath = () => join(tmp.dir, "hub-identity.json");

function open(enrolled: boolean, newState = false): Store {
  const store = openDaemonStore({
    storePath: tmp.dbPath,
    identityPath: identityPath(),
    enrolled,
    newState,
    clock: tmp.clock,
    logger: silentLogger,
  });
  opened.push(store);
  return store;
}

function close(store: Store): void {
  store.close();
  opened.splice(opened.indexOf(store), 1);
}

function refused(enrolled: boolean): StoreError {
  const err = thrown(() => open(enrolled));
  expect(err).toBeInstanceOf(StoreError);
  return err as StoreError;
}

/** An enrolled host that ran once and queued a few reports the hub acknowledged. */
function enrolledHostWithHistory(): { storeId: string } {
  const store = open(true);
  const ports = ackRecordingPorts(store, hubAcksPath(identityPath()), tmp.clock, silentLogger);
  for (let i = 0; i < 5; i++) ports.outbox.enqueue("telemetry", { n: i });
  store.audit.append({ actor: "agent", action: "test.row", outcome: "ok" });
  ports.outbox.ack(ports.outbox.peek(10).map((i) => i.id));
  const rows = ports.audit.undelivered(10);
  ports.audit.markDelivered(rows.at(-1)?.seq ?? 0);
  const storeId = store.info.storeId;
  close(store);
  return { storeId };
}

describe("a host that is not enrolled", () => {
  test("starts fresh on its first run, and writes no hub-acks file", () => {
    const store = open(false);
    expect(store.info.created).toBe(true);
    expect(existsSync(hubAcksPath(identityPath()))).toBe(false);
  });
});

describe("an enrolled host", () => {
  test("its first run records the store it runs on, and acks follow the hub", () => {
    const { storeId } = enrolledHostWithHistory();
    const acks = readHubAcks(hubAcksPath(identityPath()));
    expect(acks).toMatchObject({ store_id: storeId, report_seq: 5, audit_seq: 1 });
    expect(acks?.audit_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(hubAcksPath(identityPath())).mode & 0o777).toBe(0o600);
    // And the next start is the same store.
    expect(open(true).info.storeId).toBe(storeId);
  });

  test("an unreadable hub-acks.json is refused, never silently replaced", () => {
    enrolledHostWithHistory();
    writeFileSync(hubAcksPath(identityPath()), '{"version": 1, "store_id": 7}');
    const err = thrown(() => open(true));
    expect(err).toBeInstanceOf(HubAcksError);
    expect((err as Error).message).toContain("has invalid fields (store_id, report_seq");
    expect(readFileSync(hubAcksPath(identityPath()), "utf8")).toContain('"store_id": 7');
  });

  test("a deleted state.db is refused, saying how to restore or start new; nothing is created", () => {
    enrolledHostWithHistory();
    for (const f of ["state.db", "state.db-wal", "state.db-shm"])
      rmSync(join(tmp.dir, f), { force: true });
    const err = refused(true);
    expect(err.kind).toBe("missing");
    expect(err.message).toContain("felhom-agent state restore");
    expect(err.message).toContain("--new-state");
    expect(existsSync(tmp.dbPath)).toBe(false);
  });

  test("a 0-byte state.db is refused", () => {
    enrolledHostWithHistory();
    for (const f of ["state.db-wal", "state.db-shm"]) rmSync(join(tmp.dir, f), { force: true });
    writeFileSync(tmp.dbPath, "");
    expect(refused(true).kind).toBe("missing");
    expect(statSync(tmp.dbPath).size).toBe(0);
  });

  test("state.db copied without its WAL (the main file has no schema yet) is refused", () => {
    // A store whose schema is still only in the WAL: copy the main file alone.
    const live = open(true);
    const copy = join(tmp.dir, "copy.db");
    copyFileSync(tmp.dbPath, copy);
    close(live);
    for (const f of ["state.db", "state.db-wal", "state.db-shm"])
      rmSync(join(tmp.dir, f), { force: true });
    copyFileSync(copy, tmp.dbPath);
    const err = refused(true);
    expect(err.kind).toBe("missing");
    expect(err.message).toContain("without its -wal");
  });

  test("another host's state database is refused as foreign", () => {
    enrolledHostWithHistory();
    const other = join(tmp.dir, "other");
    mkdirSync(other);
    openStore({ path: join(other, "state.db") }).close();
    for (const f of ["state.db", "state.db-wal", "state.db-shm"])
      rmSync(join(tmp.dir, f), { force: true });
    copyFileSync(join(other, "state.db"), tmp.dbPath);
    const err = refused(true);
    expect(err.kind).toBe("foreign");
    expect(err.message).toContain("another host");
  });

  test("--new-state keeps the old store aside, audits, and continues report numbering", () => {
    const { storeId } = enrolledHostWithHistory();
    rmSync(tmp.dbPath);
    const store = open(true, true);
    expect(store.info.created).toBe(true);
    expect(store.info.storeId).not.toBe(storeId);
    // The next report is numbered above everything the hub acknowledged.
    expect(store.outbox.enqueue("telemetry", { n: 1 }).id).toBe(6);
    const row = store.audit.list({ limit: 10 }).find((r) => r.action === "state.new");
    expect(row?.actor).toBe("operator");
    expect(JSON.parse(row?.details ?? "null")).toMatchObject({
      previous_store_id: storeId,
      report_seq_from: 5,
    });
    expect(readHubAcks(hubAcksPath(identityPath()))?.store_id).toBe(store.info.storeId);
    // The audit chain continues from the hub's acknowledged row where the schema has an audit
    // anchor; without one it restarts at 1 (documented).
    const anchored = (
      store.db.query("PRAGMA table_info(audit_state)").all() as { name: string }[]
    ).some((c) => c.name === "anchor_seq");
    expect(row?.seq).toBe(anchored ? 2 : 1);
    expect(store.audit.verifyChain().ok).toBe(true);
  });

  test("--new-state over an existing store keeps that store's files aside", () => {
    const { storeId } = enrolledHostWithHistory();
    const store = open(true, true);
    expect(store.info.storeId).not.toBe(storeId);
    const kept = readdirSync(tmp.dir).find((f) => /^state\.db\.replaced-[^.]*$/.test(f));
    expect(kept).toBeDefined();
    const old = new Database(join(tmp.dir, kept as string), { readonly: true });
    expect(old.query("SELECT value FROM meta WHERE key = 'store_id'").get()).toEqual({
      value: storeId,
    });
    old.close();
  });

  test("--new-state when the whole state directory is gone: created 0700, started", () => {
    enrolledHostWithHistory();
    const storePath = join(tmp.dir, "gone", "state.db");
    const store = openDaemonStore({
      storePath,
      identityPath: identityPath(),
      enrolled: true,
      newState: true,
      clock: tmp.clock,
      logger: silentLogger,
    });
    opened.push(store);
    expect(store.info.created).toBe(true);
    expect(statSync(join(tmp.dir, "gone")).mode & 0o777).toBe(0o700);
  });

  test("--new-state while another agent holds the store: refused, nothing moved", () => {
    const running = open(true);
    const err = thrown(() => open(true, true));
    expect((err as StoreError).kind).toBe("locked");
    expect(readdirSync(tmp.dir).some((f) => f.includes("replaced"))).toBe(false);
    running.checkIntact();
  });

  test("a store restored from an older backup numbers its reports above the hub's acks", () => {
    const store = open(true);
    const backup = join(tmp.dir, "backup.db");
    store.db.run(`VACUUM INTO '${backup}'`);
    close(store);
    enrolledHostWithHistory();
    for (const f of ["state.db", "state.db-wal", "state.db-shm"])
      rmSync(join(tmp.dir, f), { force: true });
    copyFileSync(backup, tmp.dbPath);
    const restored = open(true);
    expect(restored.outbox.enqueue("telemetry", { n: 1 }).id).toBe(6);
  });
});
