import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { ed25519PublicKeyFromRaw } from "../../src/authz/ssh-public-key.ts";
import { AUDIT_GENESIS_HASH, auditHash } from "../../src/store/audit.ts";
import {
  applyMigrations,
  MIGRATIONS,
  type Migration,
  readUserVersion,
  SCHEMA_VERSION,
  writeInitializationMarker,
} from "../../src/store/migrations.ts";
import type { Store } from "../../src/store/store.ts";
import { TempStateDir } from "./support.ts";

const T0 = Date.UTC(2026, 0, 1);
const UPID = "UPID:pve:00001234:00005678:6650A0B0:vzsnapshot:101:root@pam:";
const SEED_TOKEN = "A".repeat(43);
const SEED_SIGNER = ed25519PublicKeyFromRaw(new Uint8Array(32).fill(7));
const SEED_SIGNER_LINE = `ssh-ed25519 ${Buffer.from(SEED_SIGNER.blob).toString("base64")} seed`;

/**
 * Rows as the agent wrote them at each schema version, in that version's SQL, and what the
 * current code must read back after upgrading. A new migration adds its entry here; the
 * upgrade test then starts from every version before it.
 */
const SEEDS: Record<number, { write(db: Database): void; check(store: Store): void }> = {
  1: {
    write(db) {
      db.run(
        `INSERT INTO journal (vmid, op, params, origin, phase, upid, attempts, created_at, updated_at)
         VALUES (101, 'guest.snapshot', '{"snapname":"pre"}', 'localapi', 'posted', '${UPID}', 1, ${T0}, ${T0}),
                (102, 'guest.start', '{}', 'reconcile', 'done', NULL, 2, ${T0}, ${T0})`,
      );
    },
    check(store) {
      expect(store.journal.inFlight()).toMatchObject([
        { vmid: 101, phase: "posted", upid: UPID, params: { snapname: "pre" } },
      ]);
      expect(store.journal.forGuest(102)).toMatchObject([{ phase: "done", attempts: 2 }]);
    },
  },
  2: {
    write(db) {
      db.run(
        `INSERT INTO nonces (nonce, consumed_at, expires_at) VALUES ('seed-nonce', ${T0}, ${T0 + 600_000})`,
      );
      db.run(
        `INSERT INTO pending_ops (id, op, vmid, params, origin, job_id, status, reason, created_at, updated_at)
         VALUES ('po-seed', 'guest.destroy', 103, '{}', 'job', 'job-seed', 'pending', 'destructive', ${T0}, ${T0})`,
      );
    },
    check(store) {
      expect(store.nonces.consume("seed-nonce", T0 + 600_000)).toBe(false);
      expect(store.pending.byJob("job-seed")).toMatchObject({
        id: "po-seed",
        status: "pending",
        vmid: 103,
      });
    },
  },
  3: {
    write(db) {
      let prevHash = AUDIT_GENESIS_HASH;
      for (const seq of [1, 2]) {
        const fields = {
          seq,
          ts: T0 + seq,
          actor: "operator",
          action: "token.mint",
          target: "guest:101",
          outcome: "ok",
          details: "{}",
          prevHash,
        };
        const hash = auditHash(fields);
        db.query(
          `INSERT INTO audit (seq, ts, actor, action, target, outcome, details, prev_hash, hash)
           VALUES ($seq, $ts, $actor, $action, $target, $outcome, $details, $prevHash, $hash)`,
        ).run({ ...fields, hash });
        db.query("UPDATE audit_state SET head_seq = $seq, head_hash = $hash").run({ seq, hash });
        prevHash = hash;
      }
    },
    check(store) {
      expect(store.audit.verifyChain()).toMatchObject({ ok: true, count: 2 });
      expect(
        store.audit.append({ actor: "agent", action: "store.upgrade", outcome: "ok" }).seq,
      ).toBe(3);
      expect(store.audit.verifyChain()).toMatchObject({ ok: true, count: 3 });
    },
  },
  4: {
    write(db) {
      db.query(
        `INSERT INTO guest_tokens (id, vmid, token_hash, created_at) VALUES ('gt-seed', 104, $hash, ${T0})`,
      ).run({ hash: createHash("sha256").update(SEED_TOKEN).digest() });
    },
    check(store) {
      // Tokens from before guest identities get their vmid's (new) identity.
      const resolved = store.guestTokens.resolve(SEED_TOKEN);
      expect(resolved).toMatchObject({ id: "gt-seed", vmid: 104 });
      expect(resolved?.guestUid).toMatch(/^g-/);
      expect(store.guestIdentities.current(104)?.uid).toBe(resolved?.guestUid as string);
    },
  },
  5: {
    write(db) {
      db.run(
        `INSERT INTO desired_state (id, document, source, etag, received_at)
         VALUES (1, '{"version":1,"guests":{}}', 'hub', '"e1"', ${T0})`,
      );
      db.run(`INSERT INTO outbox (kind, body, created_at) VALUES ('audit', '{"seq":1}', ${T0})`);
    },
    check(store) {
      expect(store.desired.get()).toEqual({
        document: '{"version":1,"guests":{}}',
        source: "hub",
        etag: '"e1"',
        receivedAt: T0,
      });
      expect(store.outbox.peek(10)).toMatchObject([{ kind: "audit", body: { seq: 1 } }]);
    },
  },
  6: {
    write(db) {
      db.run(
        `INSERT INTO journal (id, vmid, op, params, origin, phase, attempts, created_at, updated_at)
         VALUES (60, 105, 'guest.config', '{"cores":4,"memoryMiB":2048}', 'localapi', 'done', 1, ${T0}, ${T0 + 5})`,
      );
      db.run(
        `INSERT INTO guest_overrides (journal_id, vmid, field, value, desired_value, created_at)
         VALUES (60, 105, 'cores', 4, 2, ${T0}), (60, 105, 'memory_mib', 2048, NULL, ${T0})`,
      );
    },
    check(store) {
      expect(store.guestOverrides.inForce()).toEqual([
        {
          journalId: 60,
          vmid: 105,
          field: "cores",
          value: 4,
          desiredValue: 2,
          createdAt: T0,
          since: T0 + 5,
          reportedAt: null,
        },
        {
          journalId: 60,
          vmid: 105,
          field: "memory_mib",
          value: 2048,
          desiredValue: null,
          createdAt: T0,
          since: T0 + 5,
          reportedAt: null,
        },
      ]);
    },
  },
  // The audit anchor: rows written before it stay and verify from the genesis (anchor 0); once
  // the hub has them they can be pruned and the chain verifies from the anchor. Keyed by name,
  // so the seed follows the migration to whatever position it has in the list.
  [MIGRATIONS.findIndex((m) => m.name === "audit anchor") + 1]: {
    write(db) {
      db.run("UPDATE audit_state SET delivered_seq = head_seq WHERE id = 1");
    },
    check(store) {
      const head = store.audit.head();
      expect(head.anchorSeq).toBe(0);
      expect(store.audit.verifyChain()).toMatchObject({ ok: true });
      if (head.deliveredSeq > 0) {
        const r = store.audit.prune({ olderThanTs: T0 + 1_000_000 });
        expect(r.anchorSeq).toBe(head.deliveredSeq);
        expect(store.audit.verifyChain()).toMatchObject({ ok: true, anchorSeq: r.anchorSeq });
      }
    },
  },
  [MIGRATIONS.findIndex((m) => m.name === "guest identities and golden images") + 1]: {
    write(db) {
      db.run(`INSERT INTO guest_identities (uid, vmid, created_at) VALUES ('g-seed', 106, ${T0})`);
      // Seeds of earlier versions written at this version: their tokens get an identity as
      // the migration would have given them.
      db.run(
        `INSERT INTO guest_identities (uid, vmid, created_at)
         SELECT 'g-seed-' || vmid, vmid, MIN(created_at) FROM guest_tokens
         WHERE guest_uid IS NULL GROUP BY vmid`,
      );
      db.run(`UPDATE guest_tokens SET guest_uid = 'g-seed-' || vmid WHERE guest_uid IS NULL`);
      db.run(
        `INSERT INTO golden_images (volid, checksum, source, created_at)
         VALUES ('local:backup/golden.tar.zst', NULL, 'registered', ${T0})`,
      );
    },
    check(store) {
      expect(store.guestIdentities.current(106)).toMatchObject({ uid: "g-seed", retiredAt: null });
      expect(store.goldenImages.byVolid("local:backup/golden.tar.zst")).toMatchObject({
        source: "registered",
        checksum: null,
      });
    },
  },
  [MIGRATIONS.findIndex((m) => m.name === "hub job ledger") + 1]: {
    write(db) {
      db.run(
        `INSERT INTO hub_jobs (job_id, operation_id, signed, reported, terminal, updated_at)
         VALUES ('job-seed-open', 'op-seed', 0, '["pending_signature"]', 0, ${T0}),
                ('job-seed-done', 'op-seed-2', 1, '["pending_signature","ok"]', 1, ${T0 + 1})`,
      );
    },
    check(store) {
      expect(store.hubJobs.open()).toEqual([
        {
          jobId: "job-seed-open",
          operationId: "op-seed",
          signed: false,
          reported: ["pending_signature"],
          terminal: false,
          updatedAt: T0,
        },
      ]);
      expect(store.hubJobs.get("job-seed-done")).toMatchObject({
        signed: true,
        reported: ["pending_signature", "ok"],
        terminal: true,
      });
    },
  },
  [MIGRATIONS.findIndex((m) => m.name === "enrolled signers and operator requests") + 1]: {
    write(db) {
      db.query(
        `INSERT INTO enrolled_signers
           (fingerprint, name, role, public_key, expires_at, source, journal_id, added_at)
         VALUES ($fp, 'seed-ops', 'operational', $key, NULL, 'enrollment', NULL, ${T0})`,
      ).run({ fp: SEED_SIGNER.fingerprint, key: SEED_SIGNER_LINE });
      db.run(
        `INSERT INTO meta (key, value) VALUES ('enrolled_signers_from', 'host-seed@2026-01-01T00:00:00Z')`,
      );
      db.run(
        `INSERT INTO operator_requests
           (pending_id, action, envelope, reason, state, created_at, updated_at)
         VALUES ('po-00000000000000aa', 'decline', NULL, 'not today', 'waiting', ${T0}, ${T0})`,
      );
    },
    check(store) {
      expect(store.enrolledSigners.list()).toEqual([
        {
          name: "seed-ops",
          fingerprint: SEED_SIGNER.fingerprint,
          role: "operational",
          publicKey: SEED_SIGNER_LINE,
          source: "enrollment",
          journalId: null,
          addedAt: T0,
        },
      ]);
      expect(store.enrolledSigners.importedFrom()).toBe("host-seed@2026-01-01T00:00:00Z");
      expect(store.operatorRequests.waiting()).toMatchObject([
        { pendingId: "po-00000000000000aa", action: "decline", reason: "not today" },
      ]);
    },
  },
  [MIGRATIONS.findIndex((m) => m.name === "agent updates") + 1]: {
    write(db) {
      db.run(
        `INSERT INTO agent_updates (journal_id, version, from_version, target, sha256, size,
           expires_at, step, reason, created_at, updated_at)
         VALUES (1, '0.2.0', '0.1.0', 'x64', '${"b".repeat(64)}', 100, ${T0 + 60_000},
                 'rolled_back', 'did not become healthy', ${T0}, ${T0 + 5})`,
      );
    },
    check(store) {
      expect(store.agentUpdates.last()).toMatchObject({
        version: "0.2.0",
        fromVersion: "0.1.0",
        step: "rolled_back",
        reason: "did not become healthy",
      });
      expect(store.agentUpdates.open()).toBeUndefined();
      expect(store.agentUpdates.hasFailed("0.2.0")).toBe(true);
    },
  },
  [MIGRATIONS.findIndex((m) => m.name === "storage presence") + 1]: {
    write(db) {
      db.run(
        `INSERT INTO storage_presence (storage, present, active, reason, since, checked_at)
         VALUES ('usb1', 0, 0, 'USB disk 2f0c not attached', ${T0}, ${T0 + 5})`,
      );
    },
    check(store) {
      expect(store.storagePresence.get("usb1")).toEqual({
        storage: "usb1",
        present: false,
        active: false,
        reason: "USB disk 2f0c not attached",
        since: T0,
        checkedAt: T0 + 5,
      });
    },
  },
  [MIGRATIONS.findIndex((m) => m.name === "backup policy and history") + 1]: {
    write(db) {
      db.run(
        `INSERT INTO backup_policies (policy, source, journal_id, created_at)
         VALUES ('{"tiers":{"nas1":{"retention":{"keep_last":3},"schedule":{"every_hours":6}}}}', 'desired', NULL, ${T0})`,
      );
      db.run(
        `INSERT INTO backup_history (vmid, storage, volid, result, started_at, finished_at, size)
         VALUES (101, 'nas1', 'nas1:backup/vzdump-lxc-101-2026_01_02-03_04_05.tar.zst', 'ok', ${T0}, ${T0 + 60}, 4096)`,
      );
    },
    check(store) {
      expect(store.backupPolicies.inForce()?.policy.tiers.nas1?.retention.keep_last).toBe(3);
      expect(store.backupHistory.summaries().filter((x) => x.vmid === 101)).toEqual([
        { vmid: 101, storage: "nas1", lastGoodAt: T0 + 60, goodCount: 1, goodBytes: 4096 },
      ]);
    },
  },
  [MIGRATIONS.findIndex((m) => m.name === "health alerts") + 1]: {
    write(db) {
      db.run(
        `INSERT INTO health_alerts (kind, subject, severity, since, detail)
         VALUES ('smart_failing', 'disk:/dev/sda', 'critical', ${T0}, 'SMART overall verdict FAILED')`,
      );
      db.run(
        `INSERT INTO health_collections (collector, at, body) VALUES ('tunnel', ${T0}, '{"state":"ok"}')`,
      );
    },
    check(store) {
      expect(store.healthAlerts.list()).toEqual([
        {
          kind: "smart_failing",
          subject: "disk:/dev/sda",
          severity: "critical",
          since: T0,
          detail: "SMART overall verdict FAILED",
        },
      ]);
      expect(store.healthAlerts.collections()).toEqual([
        { collector: "tunnel", at: T0, body: { state: "ok" } },
      ]);
    },
  },
  [MIGRATIONS.findIndex((m) => m.name === "bootstrap codes") + 1]: {
    write(db) {
      db.run(`INSERT INTO guest_identities (uid, vmid, created_at) VALUES ('g-boot', 140, ${T0})`);
      db.run(
        `INSERT INTO bootstrap_codes (id, code_hash, vmid, guest_uid, created_at, expires_at, env_set_at)
         VALUES ('bc-00000000000000aa', zeroblob(32), 140, 'g-boot', ${T0}, ${T0 + 1_800_000}, ${T0 + 1})`,
      );
    },
    check(store) {
      expect(store.bootstrapCodes.byId("bc-00000000000000aa")).toMatchObject({
        vmid: 140,
        guestUid: "g-boot",
        envSetAt: T0 + 1,
      });
    },
  },
  [MIGRATIONS.findIndex((m) => m.name === "schedule origin and backup history details") + 1]: {
    write(db) {
      db.run(
        `INSERT INTO journal (vmid, op, params, origin, phase, created_at, updated_at)
         VALUES (150, 'guest.backup', '{"storage":"nas1"}', 'schedule', 'done', ${T0}, ${T0})`,
      );
      db.run(
        `INSERT INTO pending_ops (id, op, vmid, params, origin, status, reason, created_at, updated_at)
         VALUES ('po-sched', 'guest.backup.prune', 150, '{}', 'schedule', 'pending', 'destructive', ${T0}, ${T0})`,
      );
      db.run(
        `INSERT INTO backup_history (vmid, storage, volid, result, started_at, finished_at, size,
           reason, config_digest, protected, removed_at, unchanged_at)
         VALUES (150, 'nas1', 'nas1:backup/vzdump-lxc-150-2026_01_01-01_00_00.tar.zst', 'removed',
           ${T0}, ${T0 + 60}, 10, 'pruned', '${"d".repeat(40)}', 1, ${T0 + 120}, NULL),
                (150, 'nas1', 'nas1:backup/vzdump-lxc-150-2026_01_02-01_00_00.tar.zst', 'ok',
           ${T0 + 86_400_000}, ${T0 + 86_400_060}, 10, NULL, '${"e".repeat(40)}', 0, NULL, ${T0 + 90_000_000})`,
      );
    },
    check(store) {
      expect(store.journal.forGuest(150)).toMatchObject([
        { op: "guest.backup", origin: "schedule", phase: "done" },
      ]);
      expect(store.pending.byId("po-sched")).toMatchObject({ origin: "schedule", vmid: 150 });
      expect(store.backupHistory.list({ vmid: 150 }).map((h) => h.result)).toEqual(["ok"]);
      expect(store.backupHistory.list({ vmid: 150, all: true })[1]).toMatchObject({
        result: "removed",
        reason: "pruned",
        protected: true,
        removedAt: T0 + 120,
      });
      expect(store.backupHistory.newestGood(150, "nas1")).toEqual({
        volid: "nas1:backup/vzdump-lxc-150-2026_01_02-01_00_00.tar.zst",
        startedAt: T0 + 86_400_000,
        finishedAt: T0 + 86_400_060,
        configDigest: "e".repeat(40),
        unchangedAt: T0 + 90_000_000,
      });
    },
  },
};

let tmp: TempStateDir;
beforeEach(() => {
  tmp = new TempStateDir();
});
afterEach(() => tmp.cleanup());

function databaseAt(path: string, version: number): void {
  closeSync(openSync(path, "w", 0o600));
  const db = new Database(path, { strict: true });
  db.run("PRAGMA journal_mode = WAL");
  applyMigrations(db, {
    upTo: version,
    onCreate: (d) => writeInitializationMarker(d, T0, "seed-store"),
  });
  for (let v = 1; v <= version; v++) SEEDS[v]?.write(db);
  expect(readUserVersion(db)).toBe(version);
  db.close();
}

describe("migrations", () => {
  test("every migration has a seed for the upgrade test", () => {
    for (let v = 1; v <= SCHEMA_VERSION; v++) {
      expect(SEEDS[v], `add SEEDS[${v}] for migration "${MIGRATIONS[v - 1]?.name}"`).toBeDefined();
    }
  });

  for (let from = 0; from < SCHEMA_VERSION; from++) {
    test(`a database at version ${from} upgrades to ${SCHEMA_VERSION} with its rows intact`, () => {
      databaseAt(tmp.dbPath, from);
      const store = tmp.open();
      expect(store.info.migrated).toEqual(
        Array.from({ length: SCHEMA_VERSION - from }, (_, i) => from + i + 1),
      );
      expect(store.info.created).toBe(from === 0);
      if (from > 0) expect(store.info.storeId).toBe("seed-store");
      expect(readUserVersion(store.db)).toBe(SCHEMA_VERSION);
      for (let v = 1; v <= from; v++) SEEDS[v]?.check(store);
      expect(store.db.query("PRAGMA foreign_key_check").all()).toEqual([]);
    });
  }

  test("the current version opens without migrating", () => {
    databaseAt(tmp.dbPath, SCHEMA_VERSION);
    const store = tmp.open();
    expect(store.info.migrated).toEqual([]);
    for (let v = 1; v <= SCHEMA_VERSION; v++) SEEDS[v]?.check(store);
  });

  describe("the schedule origin rebuild", () => {
    const scheduleVersion =
      MIGRATIONS.findIndex((m) => m.name === "schedule origin and backup history details") + 1;
    const schemaOf = (db: Database, tables: string[]) =>
      db
        .query(
          `SELECT type, name, tbl_name, sql FROM sqlite_master
           WHERE tbl_name IN (${tables.map((t) => `'${t}'`).join(", ")}) ORDER BY type, name`,
        )
        .all() as { type: string; name: string; tbl_name: string; sql: string | null }[];

    test("keeps rows, the id counter, indexes and references, and accepts the new origin", () => {
      databaseAt(tmp.dbPath, scheduleVersion - 1);
      const db = new Database(tmp.dbPath, { strict: true });
      db.run("PRAGMA foreign_keys = ON");
      // Ids 3..5, then 4 and 5 removed (journal retention): the counter stays at 5.
      for (const vmid of [160, 161, 162]) {
        db.run(
          `INSERT INTO journal (vmid, op, params, origin, phase, created_at, updated_at)
           VALUES (${vmid}, 'guest.config', '{"cores":2}', 'job', 'done', ${T0}, ${T0})`,
        );
      }
      const last = (db.query("SELECT MAX(id) AS id FROM journal").get() as { id: number }).id;
      db.run(`DELETE FROM journal WHERE id IN (${last - 1}, ${last})`);
      const kept = last - 2;
      db.run(
        `INSERT INTO pending_ops (id, op, vmid, params, origin, status, journal_id, created_at, updated_at)
         VALUES ('po-ref', 'guest.destroy', 160, '{}', 'operator', 'released', ${kept}, ${T0}, ${T0})`,
      );
      db.run(
        `INSERT INTO guest_overrides (journal_id, vmid, field, value, created_at)
         VALUES (${kept}, 160, 'cores', 2, ${T0})`,
      );
      const before = schemaOf(db, ["journal", "pending_ops"]).filter((r) => r.type === "index");
      const rowsBefore = db.query("SELECT * FROM journal ORDER BY id").all();
      const pendingBefore = db.query("SELECT * FROM pending_ops ORDER BY id").all();
      db.close();

      const store = tmp.open();
      expect(store.info.migrated).toContain(scheduleVersion);
      const after = store.db;
      expect(after.query("SELECT * FROM journal ORDER BY id").all()).toEqual(rowsBefore);
      expect(after.query("SELECT * FROM pending_ops ORDER BY id").all()).toEqual(pendingBefore);
      expect(schemaOf(after, ["journal", "pending_ops"]).filter((r) => r.type === "index")).toEqual(
        before,
      );
      expect(schemaOf(after, ["journal_new", "pending_ops_new"])).toEqual([]);
      expect(after.query("SELECT seq FROM sqlite_sequence WHERE name = 'journal'").get()).toEqual({
        seq: last,
      });
      expect(after.query("PRAGMA foreign_keys").get()).toEqual({ foreign_keys: 1 });
      expect(after.query("PRAGMA foreign_key_check").all()).toEqual([]);
      // The references still bite: a pending row naming a journal id that does not exist fails.
      expect(() =>
        after.run(
          `INSERT INTO pending_ops (id, op, params, origin, status, journal_id, created_at, updated_at)
           VALUES ('po-bad', 'guest.destroy', '{}', 'job', 'released', 99999, ${T0}, ${T0})`,
        ),
      ).toThrow("FOREIGN KEY");
      const id = store.journal.recordIntent({ vmid: 170, op: "guest.backup", origin: "schedule" });
      expect(id).toBe(last + 1);
      expect(store.journal.byId(id)).toMatchObject({ origin: "schedule" });
      expect(() =>
        after.run(
          `INSERT INTO journal (op, params, origin, phase, created_at, updated_at)
           VALUES ('guest.start', '{}', 'somebody', 'intent', ${T0}, ${T0})`,
        ),
      ).toThrow("CHECK");
    });

    test("a rebuild that breaks a reference rolls back and leaves foreign keys on", () => {
      const db = new Database(":memory:", { strict: true });
      db.run("PRAGMA foreign_keys = ON");
      const list: Migration[] = [
        {
          name: "parent and child",
          sql: `CREATE TABLE p (id INTEGER PRIMARY KEY) STRICT;
                CREATE TABLE c (p_id INTEGER REFERENCES p (id)) STRICT;
                INSERT INTO p VALUES (1); INSERT INTO c VALUES (1);`,
        },
        {
          name: "rebuild losing a row",
          rebuildsTables: true,
          sql: `CREATE TABLE p_new (id INTEGER PRIMARY KEY CHECK (id > 1)) STRICT;
                INSERT INTO p_new SELECT id FROM p WHERE id > 1;
                DROP TABLE p; ALTER TABLE p_new RENAME TO p;`,
        },
      ];
      expect(() => applyMigrations(db, { migrations: list })).toThrow(
        'migration "rebuild losing a row" left broken references in c',
      );
      expect(readUserVersion(db)).toBe(1);
      expect(db.query("SELECT id FROM p").all()).toEqual([{ id: 1 }]);
      expect(db.query("PRAGMA foreign_keys").get()).toEqual({ foreign_keys: 1 });
      db.close();
    });
  });

  test("a failing migration rolls back entirely and leaves the earlier version", () => {
    const db = new Database(":memory:", { strict: true });
    const list: Migration[] = [
      { name: "ok", sql: "CREATE TABLE a (x INTEGER) STRICT;" },
      { name: "half", sql: "CREATE TABLE b (x INTEGER) STRICT; INSERT INTO nowhere VALUES (1);" },
    ];
    expect(() => applyMigrations(db, { migrations: list })).toThrow("nowhere");
    expect(readUserVersion(db)).toBe(1);
    expect(db.query("SELECT name FROM sqlite_master WHERE type = 'table'").all()).toEqual([
      { name: "a" },
    ]);
    db.close();
  });
});
