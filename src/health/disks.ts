import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { Privileged, SmartReport } from "../proxmox/privileged.ts";
import type { DiskEntry } from "../proxmox/schema-disks.ts";
import type { DiskHealth } from "./types.ts";

export interface DiskSources {
  client: Pick<ProxmoxClient, "listDisks">;
  privileged: Pick<Privileged, "smart">;
}

// ATA attributes whose raw value counts bad sectors: reallocated, pending, offline uncorrectable.
const SECTOR_ATTRIBUTES = new Set([5, 197, 198]);

/**
 * The disks collector (docs/health.md#collectors): the inventory from Proxmox, then SMART per
 * disk through the fenced side, `-d sat` for USB bridges
 * (docs/proxmox-behaviour.md#smartctl-and-sensors-json). One disk that cannot be read keeps
 * its reason and the others carry on; when no disk at all could be read (sudo refused,
 * smartctl missing), the collector as a whole is unavailable.
 */
export async function collectDisks(s: DiskSources, signal: AbortSignal): Promise<DiskHealth[]> {
  const disks = await s.client.listDisks({ signal });
  const out: DiskHealth[] = [];
  let firstFailure: string | undefined;
  for (const d of disks) {
    if (signal.aborted) throw new Error("aborted");
    try {
      const r = await s.privileged.smart(d.devpath, d.type === "usb" ? { type: "sat" } : {});
      out.push(fromSmart(d, r));
    } catch (err) {
      const reason = ((err as Error)?.message ?? String(err)).slice(0, 300);
      firstFailure ??= reason;
      out.push(withoutSmart(d, reason));
    }
  }
  if (out.length > 0 && out.every((d) => d.smart !== "ok")) {
    throw new Error(`no disk's SMART data could be read: ${firstFailure}`);
  }
  return out;
}

function base(d: DiskEntry): Omit<DiskHealth, "smart" | "passed" | "failing" | "exitStatus"> {
  return {
    devpath: d.devpath,
    type: d.type,
    model: d.model ?? null,
    serial: d.serial ?? null,
    sizeBytes: d.sizeBytes ?? null,
    temperatureC: null,
    wearUsedPct: d.wearoutPct !== undefined ? 100 - d.wearoutPct : null,
    errorCount: null,
  };
}

function withoutSmart(d: DiskEntry, reason: string): DiskHealth {
  return { ...base(d), smart: reason, passed: null, failing: false, exitStatus: null };
}

function fromSmart(d: DiskEntry, r: SmartReport): DiskHealth {
  const sectors = r.attributes.filter((a) => SECTOR_ATTRIBUTES.has(a.id));
  const errorCount =
    r.nvme?.mediaErrors ?? (sectors.length > 0 ? sectors.reduce((n, a) => n + a.raw, 0) : null);
  return {
    ...base(d),
    model: r.model ?? d.model ?? null,
    serial: r.serial ?? d.serial ?? null,
    smart: "ok",
    passed: r.passed,
    temperatureC: r.temperatureC,
    wearUsedPct: r.nvme?.percentageUsed ?? base(d).wearUsedPct,
    errorCount,
    failing: r.flags.diskFailing || r.flags.prefailAtOrBelowThreshold,
    exitStatus: r.exitStatus,
  };
}
