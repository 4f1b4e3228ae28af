import type { Alert } from "../health/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { GuestOverride } from "../store/guest-overrides.ts";
import type { StatusReport } from "./protocol.ts";

/** A status report before the outbox gives it its sequence number. */
export type StatusReportBody = Omit<StatusReport, "seq">;

export interface ReconcileHealth {
  lastPassAt?: number;
  lastPassOk?: boolean;
  failures: number;
  lastError?: string;
}

export interface PendingSignatureInfo {
  id: string;
  op: string;
  vmid?: number;
  jobId?: string;
  since?: number;
}

export interface ReportSources {
  proxmox: ProxmoxClient;
  agentVersion: string;
  reconcileHealth?: () => ReconcileHealth;
  pendingSignatures?: () => PendingSignatureInfo[];
  /** The guests' own grows the reconciler keeps (the store's guestOverrides.inForce). */
  guestOverrides?: () => GuestOverride[];
  /** The operator signers in force (src/hub/trust-summary.ts). */
  signers?: () => NonNullable<StatusReportBody["signers"]>;
  /** The backup targets against Proxmox, transitions recorded (reconcile/storage-presence.ts). */
  storageTargets?: (
    signal: AbortSignal,
  ) => Promise<NonNullable<StatusReportBody["storage_targets"]>>;
  /** Backup freshness per guest per tier (reconcile/backup-freshness.ts); store reads only. */
  backups?: (vmids: number[]) => NonNullable<StatusReportBody["backups"]> | undefined;
  /** The open host-health alerts (health/monitor.ts); absent = no health monitor. */
  alerts?: () => Alert[];
  /** Provisionings that stopped half way (the store's bootstrapCodes.unfinished). */
  provisioning?: () => NonNullable<StatusReportBody["provisioning"]>;
  now: () => number;
  /**
   * How long the Proxmox reads may take in all; default 15 s. The hub link waits for the report
   * before it polls, and a hung pveproxy would otherwise hold it for every retry of every read.
   */
  deadlineMs?: number;
}

const MIB = 1024 * 1024;
const DEFAULT_DEADLINE_MS = 15_000;

const errorText = (err: unknown) => ((err as Error)?.message ?? String(err)).slice(0, 500);

/**
 * One status snapshot of the host. A Proxmox failure is part of the report (host unreachable,
 * with the error text) rather than a reason not to report: the hub should see it.
 */
export async function collectStatusReport(s: ReportSources): Promise<StatusReportBody> {
  const node = s.proxmox.node;
  const host: StatusReportBody["host"] = { node, reachable: true };
  let storage: StatusReportBody["storage"] = [];
  let guests: StatusReportBody["guests"] = [];
  const deadlineMs = s.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const signal = AbortSignal.timeout(deadlineMs);
  try {
    const [status, version, stores, lxcs] = await Promise.all([
      s.proxmox.nodeStatus({ signal }),
      s.proxmox.version({ signal }),
      s.proxmox.nodeStorage({ signal }),
      s.proxmox.listLXC({ signal }),
    ]);
    if (status.uptimeSec !== undefined) host.uptime_s = status.uptimeSec;
    if (status.cpuFraction !== undefined) host.cpu = status.cpuFraction;
    if (status.memory) {
      host.memory_used_bytes = status.memory.usedBytes;
      host.memory_total_bytes = status.memory.totalBytes;
    }
    host.pve_version = version.version;
    storage = stores.map((r) => ({
      id: r.storage,
      type: r.type,
      active: r.active === true,
      enabled: r.enabled !== false,
      ...(r.usedBytes !== undefined ? { used_bytes: r.usedBytes } : {}),
      ...(r.totalBytes !== undefined ? { total_bytes: r.totalBytes } : {}),
      ...(r.availBytes !== undefined ? { avail_bytes: r.availBytes } : {}),
    }));
    guests = lxcs
      .filter((g) => !g.template)
      .map((g) => ({
        vmid: g.vmid,
        status: g.status,
        ...(g.name !== undefined ? { name: g.name } : {}),
        ...(g.cpus !== undefined ? { cores: g.cpus } : {}),
        // List sizes are bytes, config memory is MiB (docs/proxmox-behaviour.md#units); the contract says MiB.
        ...(g.maxmemBytes !== undefined ? { memory_mib: Math.round(g.maxmemBytes / MIB) } : {}),
        ...(g.diskBytes !== undefined ? { disk_bytes: g.diskBytes } : {}),
        ...(g.maxdiskBytes !== undefined ? { max_disk_bytes: g.maxdiskBytes } : {}),
      }));
  } catch (err) {
    host.reachable = false;
    host.error = signal.aborted ? `Proxmox did not answer within ${deadlineMs} ms` : errorText(err);
  }
  const iso = (ms: number) => new Date(ms).toISOString();
  // The agent's own sources failing (a store error, say) must not silence the report either;
  // the contract has no field of its own for that, so it is told in the reconcile section.
  const unavailable: string[] = [];
  let reconcile: StatusReportBody["reconcile"];
  try {
    const health = s.reconcileHealth?.() ?? { failures: 0 };
    reconcile = {
      failures: health.failures,
      ...(health.lastPassAt !== undefined ? { last_pass_at: iso(health.lastPassAt) } : {}),
      ...(health.lastPassOk !== undefined ? { last_pass_ok: health.lastPassOk } : {}),
      ...(health.lastError !== undefined ? { last_error: health.lastError.slice(0, 500) } : {}),
    };
  } catch (err) {
    reconcile = { failures: 0 };
    unavailable.push(`reconcile health unavailable: ${errorText(err)}`);
  }
  let pending: StatusReportBody["pending_signatures"] = [];
  try {
    pending = (s.pendingSignatures?.() ?? []).map((p) => ({
      id: p.id,
      op: p.op,
      ...(p.vmid !== undefined ? { vmid: p.vmid } : {}),
      ...(p.jobId !== undefined ? { job_id: p.jobId } : {}),
      ...(p.since !== undefined ? { since: iso(p.since) } : {}),
    }));
  } catch (err) {
    unavailable.push(`pending signatures unavailable: ${errorText(err)}`);
  }
  let overrides: StatusReportBody["guest_overrides"] = [];
  try {
    overrides = (s.guestOverrides?.() ?? []).map((o) => ({
      vmid: o.vmid,
      field: o.field,
      value: o.value,
      desired_value: o.desiredValue,
      since: iso(o.since),
    }));
  } catch (err) {
    unavailable.push(`guest overrides unavailable: ${errorText(err)}`);
  }
  let signers: StatusReportBody["signers"];
  try {
    signers = s.signers?.();
  } catch (err) {
    unavailable.push(`signers unavailable: ${errorText(err)}`);
  }
  let provisioning: StatusReportBody["provisioning"];
  try {
    provisioning = s.provisioning?.();
  } catch (err) {
    unavailable.push(`provisioning unavailable: ${errorText(err)}`);
  }
  let targets: StatusReportBody["storage_targets"];
  if (s.storageTargets !== undefined && host.reachable) {
    try {
      targets = await s.storageTargets(signal);
    } catch (err) {
      unavailable.push(`backup targets unavailable: ${errorText(err)}`);
    }
  }
  let backups: StatusReportBody["backups"];
  try {
    backups = s.backups?.(guests.map((g) => g.vmid));
  } catch (err) {
    unavailable.push(`backup history unavailable: ${errorText(err)}`);
  }
  let alerts: StatusReportBody["alerts"];
  try {
    alerts = s.alerts?.().map((a) => ({
      kind: a.kind,
      severity: a.severity,
      subject: a.subject,
      since: iso(a.since),
      detail: a.detail.slice(0, 512),
    }));
  } catch (err) {
    unavailable.push(`health alerts unavailable: ${errorText(err)}`);
  }
  if (unavailable.length > 0) {
    reconcile.last_error = [...unavailable, reconcile.last_error]
      .filter((e) => e !== undefined)
      .join("; ")
      .slice(0, 1000);
  }
  return {
    at: iso(s.now()),
    agent: { version: s.agentVersion },
    host,
    storage,
    guests,
    reconcile,
    pending_signatures: pending,
    guest_overrides: overrides,
    ...(signers === undefined ? {} : { signers }),
    ...(targets !== undefined ? { storage_targets: targets } : {}),
    ...(backups !== undefined ? { backups } : {}),
    ...(alerts !== undefined ? { alerts } : {}),
    ...(provisioning !== undefined && provisioning.length > 0 ? { provisioning } : {}),
  };
}
