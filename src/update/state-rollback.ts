import { Database } from "bun:sqlite";
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { AgentUpdates } from "../store/agent-updates.ts";
import { AuditLog } from "../store/audit.ts";
import { backupOpenStore, inspectStoreFile, type StoreFileInfo } from "../store/backup.ts";
import { readUserVersion } from "../store/migrations.ts";
import { moveAside } from "../store/move-aside.ts";
import type { Clock } from "../util/clock.ts";
import { syncDir, type UpdateLayout, versionDir } from "./layout.ts";

/** The file name of the state copy kept beside a version's binary. */
export const STATE_COPY_NAME = "state.db";

/** Where the copy of the state taken while `version` ran is kept. */
export function stateCopyPath(l: UpdateLayout, version: string): string {
  return join(versionDir(l, version), STATE_COPY_NAME);
}

/**
 * Takes a consistent copy of the live state database into `versions/<fromVersion>/state.db`
 * before the switch (docs/self-update.md#the-state-copy-taken-before-the-switch). A copy left
 * by an earlier try of the same step is replaced: the newest one loses the least.
 */
export function saveStateCopy(
  live: Database,
  storeId: string,
  l: UpdateLayout,
  fromVersion: string,
): StoreFileInfo {
  const path = stateCopyPath(l, fromVersion);
  rmSync(path, { force: true });
  return backupOpenStore(live, storeId, path);
}

/** What a rollback must do with the state database. */
export type StateVerdict =
  /** The previous version opens the live database as it is: same schema. */
  | { kind: "keep" }
  /** The live schema is newer than the previous version's: its copy goes back in place. */
  | { kind: "restore"; copy: string; copySchema: number; liveSchema: number }
  /** No usable copy: the previous version's schema is unknown. */
  | { kind: "no_copy"; why: string };

/**
 * Decides whether the previous version can open the live database. The copy taken before the
 * switch was written by the previous version, so its schema version is the one that version
 * runs (docs/self-update.md#rollback-across-a-schema-change).
 */
export function stateVerdict(live: Database, l: UpdateLayout, previous: string): StateVerdict {
  const liveSchema = readUserVersion(live);
  const copy = stateCopyPath(l, previous);
  if (!existsSync(copy)) {
    return {
      kind: "no_copy",
      why: `no state copy at ${copy} to tell the previous version's schema`,
    };
  }
  let info: StoreFileInfo;
  try {
    info = inspectStoreFile(copy);
  } catch (err) {
    return { kind: "no_copy", why: `the state copy cannot be used: ${(err as Error).message}` };
  }
  if (info.schemaVersion >= liveSchema) return { kind: "keep" };
  return { kind: "restore", copy, copySchema: info.schemaVersion, liveSchema };
}

export interface RestoreForRollbackOptions {
  /** The live database's path and this process's open handle on it (lock held). */
  dbPath: string;
  live: Database;
  copy: string;
  /** The attempt being rolled back: left at `started` in the restored state. */
  attemptId: number;
  reason: string;
  /** The failed version, and the one the restored state goes with. */
  version: string;
  backTo: string;
  clock: Clock;
}

export interface RestoreForRollbackResult {
  /** Where the newer database was moved; never deleted. */
  keptAt: string | undefined;
  auditRowsCarried: number;
  noncesCarried: number;
}

interface AuditCopyRow {
  seq: number;
  ts: number;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  details: string;
  prev_hash: string;
  hash: string;
}

interface AuditStateRow {
  head_seq: number;
  head_hash: string;
  delivered_seq: number;
  anchor_seq: number;
  anchor_hash: string;
}

/**
 * Puts the state copy back in place of a database the previous version cannot open
 * (docs/self-update.md#rollback-across-a-schema-change). The copy is prepared under a
 * temporary name: the audit rows written since the copy are carried over byte for byte (same
 * seq, hash and link, so the chain the hub holds still continues), spent nonces are carried
 * over (a signed instruction carried out by the newer version cannot be replayed), the attempt
 * is left at `started` so that whichever version starts next closes or redoes the rollback,
 * and an audit row says what was restored and what was not. Only then is the live database
 * moved aside (kept) and the copy renamed into place. The caller holds the store's lock and
 * must not write to `live` afterwards.
 */
export function restoreForRollback(o: RestoreForRollbackOptions): RestoreForRollbackResult {
  const tmp = `${o.dbPath}.rollback-tmp`;
  rmSync(tmp, { force: true });
  rmSync(`${tmp}-journal`, { force: true });
  let carried = { audit: 0, nonces: 0 };
  try {
    closeSync(openSync(tmp, "wx", 0o600));
    const src = new Database(o.copy, { readonly: true, strict: true });
    try {
      src.query("VACUUM INTO $path").run({ path: tmp });
    } finally {
      src.close();
    }
    const db = new Database(tmp, { strict: true });
    try {
      db.transaction(() => {
        carried = {
          audit: carryAuditRows(o.live, db),
          nonces: carryNonces(o.live, db),
        };
        new AgentUpdates(db, o.clock).advance(o.attemptId, "started", o.reason);
        new AuditLog(db, o.clock).append({
          actor: "agent",
          action: "agent.update",
          target: null,
          outcome: "state_restored",
          details: {
            update: o.attemptId,
            version: o.version,
            back_to: o.backTo,
            reason: o.reason,
            audit_rows_carried: carried.audit,
            nonces_carried: carried.nonces,
            // Everything else the newer version wrote after the copy stays only in the
            // database kept aside (docs/self-update.md#rollback-across-a-schema-change).
            not_carried: [
              "journal",
              "held operations",
              "hub jobs",
              "desired-state cache",
              "guest tokens",
              "report outbox",
            ],
          },
        });
      })();
    } finally {
      db.close();
    }
    const fd = openSync(tmp, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  // The newer database's last pages into its main file, so the file kept aside is whole.
  o.live.run("PRAGMA wal_checkpoint(TRUNCATE)");
  const keptAt = moveAside(o.dbPath, `rolled-back-${o.version}`, o.clock.now());
  try {
    renameSync(tmp, o.dbPath);
  } catch (err) {
    // Put the newer database back where it was: the caller then keeps this version.
    if (keptAt !== undefined) renameSync(keptAt, o.dbPath);
    rmSync(tmp, { force: true });
    throw err;
  }
  syncDir(dirname(o.dbPath));
  return { keptAt, auditRowsCarried: carried.audit, noncesCarried: carried.nonces };
}

/**
 * Appends to `to` the live rows after its head, unchanged. Both logs are one chain up to the
 * copy's head (the copy is a snapshot of the same log), so the carried rows link on. When the
 * live log pruned past the copy's head, the copy's anchor moves to the live one first.
 */
function carryAuditRows(live: Database, to: Database): number {
  const from = live.query("SELECT * FROM audit_state WHERE id = 1").get() as AuditStateRow;
  const mine = to.query("SELECT * FROM audit_state WHERE id = 1").get() as AuditStateRow;
  if (from.head_seq <= mine.head_seq) return 0;
  const delivered = Math.max(mine.delivered_seq, from.delivered_seq);
  to.query("UPDATE audit_state SET delivered_seq = $d WHERE id = 1").run({ d: delivered });
  if (from.anchor_seq > mine.head_seq) {
    to.query("UPDATE audit_state SET anchor_seq = $s, anchor_hash = $h WHERE id = 1").run({
      s: from.anchor_seq,
      h: from.anchor_hash,
    });
  }
  const rows = live
    .query("SELECT * FROM audit WHERE seq > $after ORDER BY seq")
    .all({ after: Math.max(mine.head_seq, from.anchor_seq) }) as AuditCopyRow[];
  const insert = to.query(
    `INSERT INTO audit (seq, ts, actor, action, target, outcome, details, prev_hash, hash)
     VALUES ($seq, $ts, $actor, $action, $target, $outcome, $details, $prev_hash, $hash)`,
  );
  for (const r of rows) insert.run({ ...r });
  const last = rows.at(-1);
  if (last !== undefined) {
    to.query("UPDATE audit_state SET head_seq = $s, head_hash = $h WHERE id = 1").run({
      s: last.seq,
      h: last.hash,
    });
  }
  return rows.length;
}

function carryNonces(live: Database, to: Database): number {
  const rows = live.query("SELECT nonce, consumed_at, expires_at FROM nonces").all() as {
    nonce: string;
    consumed_at: number;
    expires_at: number;
  }[];
  const insert = to.query(
    "INSERT OR IGNORE INTO nonces (nonce, consumed_at, expires_at) VALUES ($nonce, $consumed_at, $expires_at)",
  );
  let n = 0;
  for (const r of rows) n += insert.run({ ...r }).changes;
  return n;
}
