import type { Retired } from "../store/guest-identities.ts";
import type { Journal, TerminalDetail, TerminalPhase } from "../store/journal.ts";
import type { Store } from "../store/store.ts";

/** The journal writes of an operation's execution and recovery. */
export type ExecutionJournal = Pick<Journal, "byId" | "forGuest" | "recordUpid" | "recordTerminal">;

/**
 * The guest at a vmid after an operation succeeded: gone (destroy), or a new guest (provision,
 * or a restore over the old one). A new guest gets a new identity; the old one is retired and
 * its local-API tokens revoked (src/store/README.md#guest-identities). Any other success shows
 * the guest exists and is managed by the agent: it gets its identity if it has none yet.
 */
const IDENTITY_EFFECT: Readonly<Record<string, "retire" | "renew" | undefined>> = {
  "guest.destroy": "retire",
  "guest.restore": "renew",
  "guest.provision": "renew",
};

/**
 * The journal as the engine and crash recovery write it: an operation's success is journaled
 * in the same transaction that retires or renews the guest's identity, so there is no moment
 * (and no crash) in which a destroyed guest's token still works, or the new guest at that
 * vmid answers to the old one's tokens and signatures.
 */
export function lifecycleJournal(
  store: Pick<Store, "journal" | "guestIdentities" | "audit" | "transaction">,
): ExecutionJournal {
  const { journal } = store;
  return {
    byId: (id) => journal.byId(id),
    forGuest: (vmid, limit) => journal.forGuest(vmid, limit),
    recordUpid: (id, upid) => journal.recordUpid(id, upid),
    recordTerminal(id: number, phase: TerminalPhase, detail?: TerminalDetail): void {
      store.transaction(() => {
        journal.recordTerminal(id, phase, detail);
        if (phase !== "done") return;
        const entry = journal.byId(id);
        if (entry?.vmid == null) return;
        const effect = IDENTITY_EFFECT[entry.op];
        let retired: Retired | undefined;
        if (effect === "retire") retired = store.guestIdentities.retire(entry.vmid, id);
        else if (effect === "renew") retired = store.guestIdentities.renew(entry.vmid, id).retired;
        else store.guestIdentities.ensure(entry.vmid);
        // The customer reads why a controller's token stopped working.
        if (retired) {
          store.audit.append({
            actor: "agent",
            action: "guest.identity.retire",
            target: `guest:${entry.vmid}`,
            outcome: "retired",
            details: {
              guest_uid: retired.uid,
              revoked: retired.tokensRevoked,
              journal: id,
              by: entry.op,
            },
          });
        }
      });
    },
  };
}
