import type { AuditFeedPort, AuditRowPort, OutboxPort } from "../hub/ports.ts";
import type { Logger } from "../log/types.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../util/clock.ts";
import { type HubAcks, readHubAcks, writeHubAcks } from "./hub-acks.ts";

/**
 * The store's outbox and audit feed as the hub link uses them, with every acknowledgement the
 * hub gives also written to `hub-acks.json` (after the store recorded it). That file outlives a
 * wiped or replaced store, so `run --new-state` can continue numbering above it.
 */
export function ackRecordingPorts(
  store: Store,
  acksPath: string,
  clock: Clock,
  logger: Logger,
): { outbox: OutboxPort; audit: AuditFeedPort } {
  let acks: HubAcks | undefined;
  try {
    acks = readHubAcks(acksPath);
  } catch (err) {
    logger.error("hub acknowledgements file unreadable; it is rewritten on the next ack", {
      error: (err as Error).message,
    });
  }
  const current = (): HubAcks =>
    acks ?? {
      version: 1,
      store_id: store.info.storeId,
      report_seq: 0,
      audit_seq: 0,
      updated_at: clock.now(),
    };
  const save = (next: HubAcks): void => {
    acks = next;
    try {
      writeHubAcks(acksPath, next);
    } catch (err) {
      // The store has the ack; only the copy kept for a lost store lags behind.
      logger.error("could not record the hub's acknowledgement beside the identity", {
        file: acksPath,
        error: (err as Error).message,
      });
    }
  };
  let lastRows: AuditRowPort[] = [];
  return {
    outbox: {
      enqueue: (kind, body) => store.outbox.enqueue(kind, body),
      peek: (n) => store.outbox.peek(n),
      ack(ids) {
        const removed = store.outbox.ack(ids);
        const top = ids.length === 0 ? 0 : Math.max(...ids);
        const now = current();
        if (top > now.report_seq) {
          save({ ...now, report_seq: top, updated_at: clock.now() });
        }
        return removed;
      },
    },
    audit: {
      head: () => store.audit.head(),
      prune: (options) => store.audit.prune(options),
      undelivered(limit) {
        lastRows = store.audit.undelivered(limit);
        return lastRows;
      },
      markDelivered(uptoSeq) {
        store.audit.markDelivered(uptoSeq);
        const now = current();
        if (uptoSeq <= now.audit_seq) return;
        const hash = lastRows.find((r) => r.seq === uptoSeq)?.hash;
        const { audit_hash: _old, ...rest } = now;
        save({
          ...rest,
          audit_seq: uptoSeq,
          ...(hash ? { audit_hash: hash } : {}),
          updated_at: clock.now(),
        });
      },
    },
  };
}
