import { createEd25519 } from "../../src/authz/ed25519.ts";
import { type GateStore, ReversibilityGate } from "../../src/gate/gate.ts";
import { type Clock, systemClock } from "../../src/util/clock.ts";

/**
 * The agent's own ReversibilityGate with no signers and no host id: benign operations (by the
 * real classifier, src/gate/README.md) run, everything else is held as `pending_signature` and
 * no signature can release it. For tests of the engine and reconciler that need a gate but not
 * signatures; tests of signed operations build the gate with signers (test/gate/support.ts).
 */
export function unsignedGate(store: GateStore, clock: Clock = systemClock): ReversibilityGate {
  return new ReversibilityGate({
    store,
    hostId: undefined,
    signers: [],
    clock,
    ed25519: createEd25519(),
  });
}
