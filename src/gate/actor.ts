import type { Signer } from "../authz/signers.ts";
import type { OperationRequest } from "../ops/types.ts";

/**
 * Who an audit row names (docs/architecture.md#everything-is-audited). A request is attributed to where it came from; only a
 * verified signature makes a person the actor, because anyone can embed a configured public
 * key in an envelope whose signature does not verify.
 */
export function requestActor(req: Pick<OperationRequest, "origin" | "vmid">): string {
  switch (req.origin) {
    case "localapi":
      return req.vmid === undefined ? "guest" : `guest:${req.vmid}`;
    case "job":
      return "hub";
    case "operator":
      return "operator";
    case "reconcile":
      return "reconcile";
    case "schedule":
      return "schedule";
  }
}

export function signerActor(signer: Signer): string {
  return `signer:${signer.name}`;
}

export function targetOf(vmid: number | null | undefined): string | null {
  return vmid === null || vmid === undefined ? null : `guest:${vmid}`;
}
