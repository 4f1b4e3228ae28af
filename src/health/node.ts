import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { NodeHealth } from "./types.ts";

/** The node collector: `GET /nodes/{node}/status` (docs/proxmox-behaviour.md#node-status). */
export async function collectNode(
  client: Pick<ProxmoxClient, "nodeStatus">,
  signal: AbortSignal,
): Promise<NodeHealth> {
  const s = await client.nodeStatus({ signal });
  return {
    cpuFraction: s.cpuFraction ?? null,
    memoryUsedBytes: s.memory?.usedBytes ?? null,
    memoryTotalBytes: s.memory?.totalBytes ?? null,
    rootUsedBytes: s.rootfs?.usedBytes ?? null,
    rootTotalBytes: s.rootfs?.totalBytes ?? null,
    load1: s.loadavg?.[0] ?? null,
    uptimeSec: s.uptimeSec ?? null,
    // "pve-manager/9.1.2/9d436f37a0ac4172" → "9.1.2"
    pveVersion: s.pveversion?.split("/")[1] ?? s.pveversion ?? null,
  };
}
