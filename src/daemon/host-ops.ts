import { openSealed, SealedSecretError } from "../authz/sealed-secret.ts";
import type { PrivilegedMode } from "../config/base-sections.ts";
import type { HubIdentity } from "../hub/identity.ts";
import type { Logger } from "../log/types.ts";
import { USB_MOUNT_ROOT } from "../ops/params/storage-target.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import { createPrivileged, type Privileged, privilegedPathsFor } from "../proxmox/privileged.ts";
import { createSpawnRunner } from "../proxmox/runner.ts";
import { storageReferences } from "../reconcile/desired-state.ts";
import type { HostOpDeps } from "../reconcile/storage-executors.ts";
import type { DesiredLookups } from "./desired-lookups.ts";
import { tunnelTokenFile } from "./tunnel-token-file.ts";

export interface HostOpsInput {
  client: ProxmoxClient;
  identity: HubIdentity | undefined;
  lookups: Pick<DesiredLookups, "state">;
  privilegedConfig: { mode: PrivilegedMode; sudo_path: string };
  /** Injected by the demo and tests (the simulator's fake runner); else the real root side. */
  privileged?: Pick<Privileged, "mountUSBByUUID">;
  /** Where tunnel.configure writes the token (health.tunnel.token_file). */
  tunnelTokenPath?: string;
  logger: Logger;
}

/**
 * What storage.add and storage.remove need (reconcile/storage-executors.ts): the client, the
 * root side confined to /mnt/felhom, the enrolled host key to open sealed secrets, and the
 * storage ids the desired state backs up to.
 */
export function buildHostOps(i: HostOpsInput): HostOpDeps {
  const privileged =
    i.privileged ??
    createPrivileged({
      runner: createSpawnRunner({
        mode: i.privilegedConfig.mode,
        sudoPath: i.privilegedConfig.sudo_path,
        logger: i.logger.child({ component: "privileged" }),
      }),
      paths: privilegedPathsFor(i.privilegedConfig.mode),
      // The token's Datastore.Allocate could define a storage on any path; the agent only
      // ever mounts and defines below this root (docs/desired-state.md#storage-targets).
      mountRoots: [USB_MOUNT_ROOT],
    });
  const seed = i.identity ? Buffer.from(i.identity.host_key.seed, "base64") : undefined;
  return {
    client: i.client,
    privileged,
    openSecret: (secret) => {
      if (seed === undefined) {
        throw new SealedSecretError(
          "this host is not enrolled, so it has no host key to open a sealed secret",
        );
      }
      return openSealed(secret, seed);
    },
    storageReferences: () => storageReferences(i.lookups.state()),
    ...(i.tunnelTokenPath !== undefined ? { tunnelToken: tunnelTokenFile(i.tunnelTokenPath) } : {}),
  };
}
