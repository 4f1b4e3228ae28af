import type { Logger } from "../log/types.ts";
import type { GuestOverride } from "../store/guest-overrides.ts";
import type { Store } from "../store/store.ts";
import type { OverrideVoid } from "./overrides.ts";

/**
 * Where the reconciler reads the guests' own grows and records what became of them. The
 * planner judges; the book only remembers.
 */
export interface OverrideBook {
  /** The overrides in force now (grows that completed and were not withdrawn). */
  inForce(): GuestOverride[];
  /** The desired state overtook it: forget it (and anything older on that field), say so. */
  withdraw(v: OverrideVoid): void;
  /** It stands: reported once, the first time it is seen standing. */
  standing(o: GuestOverride): void;
}

/**
 * The store's overrides, with an audit row for each override first seen standing and for each
 * withdrawn: the audit log reaches the hub in order and is never dropped, so the hub learns of
 * the guest's own grow and of the desired state taking over again.
 */
export function storeOverrideBook(
  store: Pick<Store, "guestOverrides" | "audit" | "transaction">,
  logger: Logger,
): OverrideBook {
  return {
    inForce() {
      const forgotten = store.guestOverrides.forgetUntaken();
      if (forgotten > 0) {
        logger.debug("forgot grows that never took effect", { overrides: forgotten });
      }
      return store.guestOverrides.inForce();
    },
    withdraw(v) {
      const o = v.override;
      store.transaction(() => {
        store.guestOverrides.clear(o.vmid, o.field, o.journalId);
        store.audit.append({
          actor: "agent",
          action: "guest.override.withdraw",
          target: `guest:${o.vmid}`,
          outcome: "void",
          details: {
            field: o.field,
            value: o.value,
            desired_value_then: o.desiredValue,
            desired_value_now: v.desiredNow,
            journal_id: o.journalId,
            reason: v.reason,
          },
        });
      });
      logger.info("guest's own grow withdrawn; the desired state wins", {
        vmid: o.vmid,
        field: o.field,
        value: o.value,
        desired: v.desiredNow,
        why: v.reason,
      });
    },
    standing(o) {
      if (o.reportedAt !== null) return;
      const first = store.transaction(() => {
        if (!store.guestOverrides.markReported(o.journalId, o.field)) return false;
        store.audit.append({
          actor: `guest:${o.vmid}`,
          action: "guest.override",
          target: `guest:${o.vmid}`,
          outcome: "standing",
          details: {
            field: o.field,
            value: o.value,
            desired_value: o.desiredValue,
            journal_id: o.journalId,
            since: o.since,
          },
        });
        return true;
      });
      if (!first) return;
      logger.info("the guest's own grow stands; the reconciler keeps it", {
        vmid: o.vmid,
        field: o.field,
        value: o.value,
        desired: o.desiredValue,
      });
    },
  };
}
