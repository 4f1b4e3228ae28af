import type { BootstrapGrant, BootstrapOutcome, BootstrapRedeemer } from "../localapi/bootstrap.ts";
import type { Logger } from "../log/types.ts";
import type { OperationRequest, OperationStatus } from "../ops/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { Store } from "../store/store.ts";

/** The engine's seam that also says when an operation has settled. */
export interface SettlingSubmitter {
  enqueue(
    req: OperationRequest,
  ): Promise<{ status: OperationStatus; settled: Promise<OperationStatus> }>;
}

export interface RedeemerDeps {
  store: Pick<Store, "bootstrapCodes" | "guestTokens" | "audit">;
  client: Pick<ProxmoxClient, "guestInterfaces">;
  engine: SettlingSubmitter;
  /** What every grant carries besides the guest's own token. */
  grantInfo: () => Pick<BootstrapGrant, "hostId" | "hubUrl" | "pins">;
  logger: Logger;
}

/** The guest's addresses as Proxmox sees them inside its network namespace, `lo` left out. */
async function guestAddresses(
  client: RedeemerDeps["client"],
  vmid: number,
): Promise<Set<string> | null> {
  const list = await client.guestInterfaces(vmid);
  if (list === null) return null;
  return new Set(
    list
      .filter((i) => i.name !== "lo")
      .flatMap((i) => i.addresses.map((a) => a.address.toLowerCase())),
  );
}

/**
 * Trades a bootstrap code (docs/architecture.md#provisioning-constraints): the code must
 * name a guest whose address (read from Proxmox, docs/proxmox-behaviour.md#lxc-interfaces) is
 * the request's source; then it is claimed once, a token is minted for that guest identity,
 * and `env` is removed through the engine. A wrong address does not use the code up.
 */
export function createBootstrapRedeemer(deps: RedeemerDeps): BootstrapRedeemer {
  const log = deps.logger.child({ component: "bootstrap" });
  return {
    async redeem(code: string, source: string): Promise<BootstrapOutcome> {
      const peek = deps.store.bootstrapCodes.peek(code);
      if (peek === null) return { ok: false, reason: "unknown_code" };
      const vmid = peek.vmid;
      if (peek.redeemedAt !== null || peek.revokedAt !== null || peek.step === "expired") {
        return { ok: false, reason: "used_or_expired", vmid };
      }
      const addresses = await guestAddresses(deps.client, vmid);
      if (addresses === null) return { ok: false, reason: "not_running", vmid };
      if (!addresses.has(source)) return { ok: false, reason: "wrong_source", vmid };
      const claimed = deps.store.bootstrapCodes.redeem(code);
      if (claimed === null) return { ok: false, reason: "used_or_expired", vmid };
      const minted = deps.store.guestTokens.mint(vmid);
      if (minted.guestUid !== claimed.guestUid) {
        // The identity changed between claim and mint: the guest is not the one the code was for.
        deps.store.guestTokens.revoke(minted.id);
        return { ok: false, reason: "used_or_expired", vmid };
      }
      void removeEnv(deps, claimed.id, vmid, log);
      return {
        ok: true,
        grant: {
          vmid,
          guestUid: claimed.guestUid,
          token: minted.token,
          tokenId: minted.id,
          hubCredential: claimed.hubCredential,
          ...deps.grantInfo(),
        },
      };
    },
  };
}

/** `delete=env` through the engine, then the step recorded; a failure leaves it for resume. */
async function removeEnv(deps: RedeemerDeps, id: string, vmid: number, log: Logger) {
  try {
    const { settled } = await deps.engine.enqueue({
      op: "guest.config",
      vmid,
      params: { delete: ["env"] },
      // The agent's own follow-up of a provisioning, not anyone's request.
      origin: "reconcile",
      priority: "interactive",
    });
    const status = await settled;
    if (status.state === "done") {
      deps.store.bootstrapCodes.mark(id, "env_removed");
      deps.store.audit.append({
        actor: "agent",
        action: "guest.bootstrap",
        target: `guest:${vmid}`,
        outcome: "bootstrapped",
        details: { bootstrap: id },
      });
    } else {
      log.warn("env not removed after bootstrap; resume the provisioning", {
        vmid,
        state: status.state,
        reason: status.reason,
      });
    }
  } catch (err) {
    log.warn("env not removed after bootstrap; resume the provisioning", {
      vmid,
      error: (err as Error).message,
    });
  }
}
