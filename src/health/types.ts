import type { TargetStatus } from "../reconcile/storage-presence.ts";

/** The collectors, each run on its own schedule and failing on its own (docs/health.md#collectors). */
export const COLLECTORS = [
  "disks",
  "sensors",
  "node",
  "storage",
  "backups",
  "tunnel",
  "store",
] as const;
export type CollectorName = (typeof COLLECTORS)[number];

/** One collector's last result: data, or why there is none. Never both. */
export type Collected<T> =
  | { state: "ok"; at: number; data: T }
  | { state: "unavailable"; at: number; reason: string };

export interface DiskHealth {
  devpath: string;
  /** disks/list `type`: nvme, ssd, hdd, usb, unknown. */
  type: string;
  model: string | null;
  serial: string | null;
  sizeBytes: number | null;
  /** How SMART was read: ok, or why not (a USB bridge without pass-through, sudo refused). */
  smart: "ok" | string;
  /** SMART overall verdict; null when unknown. */
  passed: boolean | null;
  temperatureC: number | null;
  /** NVMe `percentage_used`, else 100 minus Proxmox's wearout; null when unknown. */
  wearUsedPct: number | null;
  /** NVMe media errors, or ATA reallocated + pending sectors; null when unknown. */
  errorCount: number | null;
  /** A prefail attribute at or below its threshold, or smartctl's bit 3/4. */
  failing: boolean;
  /** smartctl's exit-status bitmask; null when smartctl gave none. */
  exitStatus: number | null;
}

export interface Temperature {
  chip: string;
  feature: string;
  celsius: number;
  /** Only plausible limits are kept: the kernel reports 65261.85 for a missing one. */
  max?: number;
  crit?: number;
}

export interface NodeHealth {
  cpuFraction: number | null;
  memoryUsedBytes: number | null;
  memoryTotalBytes: number | null;
  rootUsedBytes: number | null;
  rootTotalBytes: number | null;
  load1: number | null;
  uptimeSec: number | null;
  pveVersion: string | null;
}

export interface BackupFreshness {
  vmid: number;
  /** ms of the last successful backup; null when there never was one. */
  lastSuccessAt: number | null;
}

export interface TunnelHealth {
  readyConnections: number;
  connectorId: string | null;
}

export interface StoreDisk {
  path: string;
  availBytes: number;
  totalBytes: number;
}

/** Everything the collectors last found; what the rules, the report, status and /metrics read. */
export interface HealthSnapshot {
  disks?: Collected<DiskHealth[]>;
  sensors?: Collected<Temperature[]>;
  node?: Collected<NodeHealth>;
  storage?: Collected<TargetStatus[]>;
  backups?: Collected<BackupFreshness[]>;
  tunnel?: Collected<TunnelHealth>;
  store?: Collected<StoreDisk>;
}

export type Severity = "warning" | "critical";

export const ALERT_KINDS = [
  "smart_failing",
  "nvme_wear",
  "media_errors_rising",
  "temperature",
  "root_fs_full",
  "target_full",
  "target_absent",
  "backup_overdue",
  "tunnel_down",
  "store_disk_low",
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** An open alert as the report, status and the store carry it. */
export interface Alert {
  kind: AlertKind;
  severity: Severity;
  /** What it is about: `disk:/dev/sda`, `sensor:coretemp-isa-0000/Package id 0`, `storage:usb1`. */
  subject: string;
  /** ms when it opened. */
  since: number;
  detail: string;
}
