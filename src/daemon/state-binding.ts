import type { Logger } from "../log/types.ts";
import { StoreError } from "../store/errors.ts";
import { moveAside } from "../store/move-aside.ts";
import { DAEMON_LOCK_WAIT_MS, lockStore, openStore } from "../store/open.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../util/clock.ts";
import { type HubAcks, HubAcksError, hubAcksPath, readHubAcks, writeHubAcks } from "./hub-acks.ts";

export interface OpenDaemonStoreOptions {
  storePath: string;
  /** The hub identity file; the host is enrolled when it exists. */
  identityPath: string;
  enrolled: boolean;
  /** `run --new-state`: keep the current database aside and start an empty one, audited. */
  newState: boolean;
  clock: Clock;
  logger: Logger;
}

/**
 * Opens the daemon's store so that an enrolled host never starts silently on a state that is
 * not its own (src/store/README.md#no-silent-empty-start): once `hub-acks.json` names the store
 * this host runs on, a missing, emptied (0-byte, or copied without its WAL) or different store
 * is refused with what to do. A host that is not enrolled starts fresh on its first run.
 */
export function openDaemonStore(o: OpenDaemonStoreOptions): Store {
  const acksPath = hubAcksPath(o.identityPath);
  const acks = o.enrolled ? readHubAcks(acksPath) : undefined;
  if (o.newState) return startNewState(o, acks, acksPath);
  if (acks === undefined) {
    const store = openStore({
      path: o.storePath,
      clock: o.clock,
      logger: o.logger,
      lockWaitMs: DAEMON_LOCK_WAIT_MS,
    });
    // First run since enrollment (or since an agent that did not keep the file): this store
    // is the host's from now on.
    if (o.enrolled) {
      try {
        bindStore(store, acksPath, o.clock, o.logger);
      } catch (err) {
        store.close();
        throw err;
      }
    }
    return store;
  }
  let store: Store;
  try {
    store = openStore({
      path: o.storePath,
      clock: o.clock,
      logger: o.logger,
      mustExist: true,
      lockWaitMs: DAEMON_LOCK_WAIT_MS,
    });
  } catch (err) {
    if (err instanceof StoreError && err.kind === "missing") {
      throw new StoreError({
        kind: "missing",
        path: o.storePath,
        message: `${err.message}. This host is enrolled (${o.identityPath}) and ran on store ${acks.store_id}. Restore it: felhom-agent state restore BACKUP_FILE; or start empty on purpose: felhom-agent run --new-state (audited; report numbering continues from what the hub acknowledged)`,
      });
    }
    throw err;
  }
  if (store.info.storeId !== acks.store_id) {
    const found = store.info.storeId;
    store.close();
    throw new StoreError({
      kind: "foreign",
      path: o.storePath,
      message: `state database ${o.storePath} is store ${found}, but this enrolled host runs on store ${acks.store_id} (${acksPath}): it was replaced, or copied from another host. Put the right one back (felhom-agent state restore BACKUP_FILE), or start empty on purpose: felhom-agent run --new-state`,
    });
  }
  // A store restored from a backup is behind what the hub has already acknowledged: its next
  // report numbers would be dropped by the hub as duplicates.
  if (outboxSeq(store) < acks.report_seq) {
    setOutboxSeq(store, acks.report_seq);
    o.logger.warn("report numbering moved past what the hub acknowledged (restored state?)", {
      report_seq_from: acks.report_seq,
    });
  }
  return store;
}

/**
 * Where the store's audit chain can start from an anchor (seq, hash) instead of the genesis
 * (the `anchor_seq`/`anchor_hash` columns of `audit_state`), the new chain continues from the
 * last row the hub acknowledged, so the hub takes its rows as new and they link to what it
 * holds. Without anchor columns the chain restarts at seq 1 (src/store/README.md#no-silent-empty-start).
 * Returns whether it continued.
 */
export function continueAuditChain(store: Store, acks: HubAcks | undefined): boolean {
  if (acks === undefined || acks.audit_seq === 0 || acks.audit_hash === undefined) return false;
  const columns = store.db.query("PRAGMA table_info(audit_state)").all() as { name: string }[];
  if (!columns.some((c) => c.name === "anchor_seq")) return false;
  store.db
    .query(
      `UPDATE audit_state SET delivered_seq = $seq, head_seq = $seq, head_hash = $hash,
         anchor_seq = $seq, anchor_hash = $hash WHERE id = 1`,
    )
    .run({ seq: acks.audit_seq, hash: acks.audit_hash });
  return true;
}

function outboxSeq(store: Store): number {
  const row = store.db.query("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").get() as {
    seq: number;
  } | null;
  return row?.seq ?? 0;
}

function setOutboxSeq(store: Store, seq: number): void {
  store.transaction(() => {
    store.db.run("DELETE FROM sqlite_sequence WHERE name = 'outbox'");
    store.db.query("INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', $seq)").run({ seq });
  });
}

function startNewState(
  o: OpenDaemonStoreOptions,
  acks: HubAcks | undefined,
  acksPath: string,
): Store {
  const lock = lockStore(o.storePath, DAEMON_LOCK_WAIT_MS);
  let store: Store;
  let keptAt: string | undefined;
  try {
    keptAt = moveAside(o.storePath, "replaced", o.clock.now());
    store = openStore({ path: o.storePath, clock: o.clock, logger: o.logger, heldLock: lock });
  } catch (err) {
    lock.release();
    throw err;
  }
  try {
    const reportSeq = acks?.report_seq ?? 0;
    store.transaction(() => {
      // Report sequence numbers go on from what the hub acknowledged, so it takes the new
      // store's reports as new rather than dropping them as duplicates.
      setOutboxSeq(store, reportSeq);
      continueAuditChain(store, acks);
      store.audit.append({
        actor: "operator",
        action: "state.new",
        target: null,
        outcome: "ok",
        details: {
          store_id: store.info.storeId,
          ...(acks ? { previous_store_id: acks.store_id } : {}),
          ...(keptAt ? { previous_kept_at: keptAt } : {}),
          report_seq_from: reportSeq,
          hub_audit_seq: acks?.audit_seq ?? 0,
          ...(acks?.audit_hash ? { hub_audit_hash: acks.audit_hash } : {}),
        },
      });
    });
    if (o.enrolled) {
      writeHubAcks(acksPath, {
        version: 1,
        store_id: store.info.storeId,
        report_seq: reportSeq,
        audit_seq: acks?.audit_seq ?? 0,
        ...(acks?.audit_hash ? { audit_hash: acks.audit_hash } : {}),
        updated_at: o.clock.now(),
      });
    }
  } catch (err) {
    store.close();
    throw err;
  }
  o.logger.warn("started a new, empty state database on purpose (--new-state)", {
    store_id: store.info.storeId,
    ...(keptAt ? { previous_kept_at: keptAt } : {}),
    report_seq_from: acks?.report_seq ?? 0,
  });
  return store;
}

/** Records `store` as this enrolled host's store, with what it already knows was acknowledged. */
function bindStore(store: Store, acksPath: string, clock: Clock, logger: Logger): void {
  const audit = store.db
    .query(
      "SELECT s.delivered_seq AS seq, a.hash AS hash FROM audit_state s LEFT JOIN audit a ON a.seq = s.delivered_seq WHERE s.id = 1",
    )
    .get() as { seq: number; hash: string | null } | null;
  const report = store.db
    .query(
      "SELECT COALESCE((SELECT MIN(id) - 1 FROM outbox), (SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0) AS seq",
    )
    .get() as { seq: number };
  try {
    writeHubAcks(acksPath, {
      version: 1,
      store_id: store.info.storeId,
      report_seq: report.seq,
      audit_seq: audit?.seq ?? 0,
      ...(audit?.hash ? { audit_hash: audit.hash } : {}),
      updated_at: clock.now(),
    });
  } catch (err) {
    throw new HubAcksError(
      acksPath,
      `cannot be written (${(err as { code?: string }).code ?? (err as Error).message})`,
      "check that the directory of the hub identity is writable by the agent",
    );
  }
  logger.info("this enrolled host's state database is recorded", {
    store_id: store.info.storeId,
    file: acksPath,
  });
}
