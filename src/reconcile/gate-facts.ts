import { volumeSize } from "../gate/disk-size.ts";
import type { GateContext } from "../gate/seam.ts";
import type { OperationRequest } from "../ops/types.ts";
import type { Store } from "../store/store.ts";
import type { DesiredGuestSpec } from "./desired-state.ts";
import type { ExecClient } from "./executors.ts";

export interface GateFactsDeps {
  store: Pick<Store, "journal" | "goldenImages">;
  client: Pick<ExecClient, "guestConfig">;
  desiredGuest?: (vmid: number) => DesiredGuestSpec | undefined;
}

/**
 * What the gate is told besides the request, looked up by agent code (never taken from the
 * request): the journal for provenance, the golden images for a provision, and for a resize
 * the guest's `max_disk_gib` with the disk's current size from its config. A size that cannot
 * be read is left out, and the gate then cannot show the grow stays within the bound.
 */
export async function gateFacts(
  req: OperationRequest,
  params: Record<string, unknown>,
  deps: GateFactsDeps,
): Promise<GateContext> {
  const ctx: GateContext = { journal: deps.store.journal, goldenImages: deps.store.goldenImages };
  if (req.op !== "guest.resize" || req.vmid === undefined) return ctx;
  const maxDiskGiB = deps.desiredGuest?.(req.vmid)?.maxDiskGiB;
  if (maxDiskGiB === undefined) return ctx;
  const disk = typeof params.disk === "string" ? params.disk : undefined;
  const config = await deps.client.guestConfig(req.vmid).catch(() => undefined);
  const property = disk === undefined ? undefined : config?.raw[disk];
  const currentBytes = property === undefined ? undefined : volumeSize(property);
  return { ...ctx, disk: { maxDiskGiB, ...(currentBytes === undefined ? {} : { currentBytes }) } };
}
