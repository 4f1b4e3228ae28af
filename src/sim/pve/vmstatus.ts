import type { SimCore } from "./context.ts";
import { volumeSize } from "./ct-config.ts";
import type { CtGuest } from "./state.ts";

const MiB = 1024 * 1024;

/**
 * The vmstatus entry of a CT (docs/proxmox-behaviour.md#units): maxmem/maxswap in bytes from MiB config,
 * maxdisk from the rootfs size, usage 0 when stopped, `name` = hostname without whitespace or
 * `CT<vmid>`, `cpus` = cores or cpulimit or the host's count, plus `type` and `pid`.
 * Usage figures are stable per CT so responses can be cached.
 */
export function vmstatus(core: SimCore, g: CtGuest, now: number): Record<string, unknown> {
  const c = g.config;
  const memory = typeof c.memory === "number" ? c.memory : 512;
  const swap = typeof c.swap === "number" ? c.swap : 512;
  const maxdisk = volumeSize(c.rootfs);
  const hostname = typeof c.hostname === "string" ? c.hostname.replace(/\s/g, "") : "";
  const cpulimit = Number(c.cpulimit);
  const cpus =
    typeof c.cores === "number"
      ? c.cores
      : Number.isFinite(cpulimit) && cpulimit > 0
        ? cpulimit
        : core.hostCpus;
  const seed = (g.vmid * 2654435761) >>> 0;
  const frac = (seed % 1000) / 1000;
  const out: Record<string, unknown> = {
    vmid: g.vmid,
    name: hostname === "" ? `CT${g.vmid}` : hostname,
    status: g.running ? "running" : "stopped",
    type: "lxc",
    cpus,
    maxmem: memory * MiB,
    maxswap: swap * MiB,
    maxdisk,
    cpu: g.running ? Math.round(frac * 5000) / 100000 : 0,
    mem: g.running ? Math.floor(memory * MiB * (0.2 + frac * 0.3)) : 0,
    swap: 0,
    disk: g.running ? Math.floor(maxdisk * (0.1 + frac * 0.4)) : 0,
    netin: g.running ? 1_000_000 + (seed % 100_000_000) : 0,
    netout: g.running ? 500_000 + (seed % 50_000_000) : 0,
    diskread: g.running ? 10_000_000 + (seed % 900_000_000) : 0,
    diskwrite: g.running ? 5_000_000 + (seed % 400_000_000) : 0,
    uptime: g.running && g.startedAtMs !== undefined ? Math.floor((now - g.startedAtMs) / 1000) : 0,
  };
  if (g.running && g.pid !== undefined) out.pid = g.pid;
  if (c.lock !== undefined) out.lock = c.lock;
  if (c.tags !== undefined) out.tags = c.tags;
  if (c.template === 1) out.template = 1;
  return out;
}
