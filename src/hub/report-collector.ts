import type { ProxmoxClient } from "../proxmox/client-types.ts";
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
  now: () => number;
}

const MIB = 1024 * 1024;

/**
 * One status snapshot of the host. A Proxmox failure is part of the report (host unreachable,
 * with the error text) rather than a reason not to report: the hub should see it.
 */
export async function collectStatusReport(s: ReportSources): Promise<StatusReportBody> {
  const node = s.proxmox.node;
  const host: StatusReportBody["host"] = { node, reachable: true };
  let storage: StatusReportBody["storage"] = [];
  let guests: StatusReportBody["guests"] = [];
  try {
    const [status, version, stores, lxcs] = await Promise.all([
      s.proxmox.nodeStatus(),
      s.proxmox.version(),
      s.proxmox.nodeStorage(),
      s.proxmox.listLXC(),
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
        // List sizes are bytes, config memory is MiB (pve/FACTS.md B.8); the contract says MiB.
        ...(g.maxmemBytes !== undefined ? { memory_mib: Math.round(g.maxmemBytes / MIB) } : {}),
        ...(g.diskBytes !== undefined ? { disk_bytes: g.diskBytes } : {}),
        ...(g.maxdiskBytes !== undefined ? { max_disk_bytes: g.maxdiskBytes } : {}),
      }));
  } catch (err) {
    host.reachable = false;
    host.error = ((err as Error)?.message ?? String(err)).slice(0, 500);
  }
  const health = s.reconcileHealth?.() ?? { failures: 0 };
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    at: iso(s.now()),
    agent: { version: s.agentVersion },
    host,
    storage,
    guests,
    reconcile: {
      failures: health.failures,
      ...(health.lastPassAt !== undefined ? { last_pass_at: iso(health.lastPassAt) } : {}),
      ...(health.lastPassOk !== undefined ? { last_pass_ok: health.lastPassOk } : {}),
      ...(health.lastError !== undefined ? { last_error: health.lastError.slice(0, 500) } : {}),
    },
    pending_signatures: (s.pendingSignatures?.() ?? []).map((p) => ({
      id: p.id,
      op: p.op,
      ...(p.vmid !== undefined ? { vmid: p.vmid } : {}),
      ...(p.jobId !== undefined ? { job_id: p.jobId } : {}),
      ...(p.since !== undefined ? { since: iso(p.since) } : {}),
    })),
  };
}
