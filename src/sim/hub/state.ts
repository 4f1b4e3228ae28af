import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { AuditRow, HubJob, JobResult, Signer, StatusReport } from "../../hub/protocol.ts";

export interface SimCode {
  code: string;
  expiresAt: number;
  usedBy?: string;
}

export interface SimHost {
  hostId: string;
  publicKey: Uint8Array;
  credential: string;
  hostname?: string;
  agentVersion: string;
  enrolledAt: number;
}

export interface SimJobEntry {
  job: HubJob;
  hostId: string | undefined;
  /** Open until a terminal result (ok, failed, rejected) is recorded. */
  open: boolean;
}

export interface RecordedResult extends JobResult {
  hostId: string;
}

export interface RecordedReport extends StatusReport {
  hostId: string;
}

export interface RecordedAudit extends AuditRow {
  hostId: string;
}

/** The simulated hub's records; the HTTP layer reads and writes them, tests inspect them. */
export class HubSimState {
  readonly codes = new Map<string, SimCode>();
  readonly hosts = new Map<string, SimHost>();
  readonly byCredential = new Map<string, string>();
  /** Per host, or under "" for every host without its own. */
  readonly desired = new Map<string, { text: string; etag: string }>();
  readonly jobs = new Map<string, SimJobEntry>();
  readonly results: RecordedResult[] = [];
  /** Deliveries of a (job, state) pair already recorded: acknowledged again, not recorded. */
  duplicateResults = 0;
  readonly reports: RecordedReport[] = [];
  duplicateReports = 0;
  readonly audit: RecordedAudit[] = [];
  /** Audit batches that did not continue the host's chain (a gap or reordering). */
  auditGaps = 0;
  signers: Signer[] = [];
  readonly nonces = new Map<string, number>();

  desiredFor(hostId: string): { text: string; etag: string } | undefined {
    return this.desired.get(hostId) ?? this.desired.get("");
  }

  openJobsFor(hostId: string): HubJob[] {
    return [...this.jobs.values()]
      .filter((e) => e.open && (e.hostId === undefined || e.hostId === hostId))
      .map((e) => e.job);
  }

  recordResult(hostId: string, r: JobResult): void {
    if (
      this.results.some((x) => x.hostId === hostId && x.job_id === r.job_id && x.state === r.state)
    ) {
      this.duplicateResults++;
      return;
    }
    this.results.push({ ...r, hostId });
    const entry = this.jobs.get(r.job_id);
    if (entry && r.state !== "pending_signature") entry.open = false;
  }

  recordReport(hostId: string, r: StatusReport): void {
    if (this.reports.some((x) => x.hostId === hostId && x.seq === r.seq)) {
      this.duplicateReports++;
      return;
    }
    this.reports.push({ ...r, hostId });
  }

  recordAudit(hostId: string, rows: AuditRow[]): void {
    for (const row of rows) {
      const mine = this.audit.filter((a) => a.hostId === hostId);
      const last = mine.at(-1)?.seq ?? 0;
      if (row.seq <= last) continue;
      if (row.seq !== last + 1) this.auditGaps++;
      this.audit.push({ ...row, hostId });
    }
  }
}

export function etagOf(text: string): string {
  return `"${bytesToHex(sha256(new TextEncoder().encode(text))).slice(0, 20)}"`;
}
