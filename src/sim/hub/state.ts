import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type {
  HubJob,
  JobResult,
  StatusReport,
  WireAuditRow,
  WireSigner,
} from "../../hub/protocol.ts";
import { auditHash } from "../../store/audit.ts";

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

export interface RecordedAudit extends WireAuditRow {
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
  /**
   * Update artifacts by `<version>/<target>`, served as published: the simulator signs nothing,
   * the operator's envelope names their digest.
   */
  readonly artifacts = new Map<string, Uint8Array>();
  readonly results: RecordedResult[] = [];
  /** Deliveries of a (job, state) pair already recorded: acknowledged again, not recorded. */
  duplicateResults = 0;
  readonly reports: RecordedReport[] = [];
  duplicateReports = 0;
  readonly audit: RecordedAudit[] = [];
  /** Audit batches refused because rows were missing before them. */
  auditGaps = 0;
  /** Audit batches refused for any break of the chain (gaps included). */
  auditRefusals = 0;
  /** Status reports whose audit head contradicts the rows received (a rewritten log). */
  auditHeadMismatches = 0;
  signers: WireSigner[] = [];
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

  /**
   * Takes a batch of audit rows the way the real hub must (docs/hub-protocol.md#the-hub-is-the-audit-logs-anchor): each
   * row's hash is recomputed, a row already held must be byte-identical (else the log was
   * rewritten), and each new row must follow the last one held and link to its hash. A batch
   * that breaks the chain is refused whole and nothing of it is recorded. The first row a host
   * ever delivers starts its chain here (a host enrolled with history it kept).
   */
  acceptAudit(hostId: string, rows: readonly WireAuditRow[]): AuditVerdict {
    const mine = this.audit.filter((a) => a.hostId === hostId);
    const held = new Map(mine.map((a) => [a.seq, a]));
    let last = mine.at(-1);
    const fresh: WireAuditRow[] = [];
    for (const row of rows) {
      const fields = {
        seq: row.seq,
        ts: row.ts,
        actor: row.actor,
        action: row.action,
        target: row.target,
        outcome: row.outcome,
        details: row.details,
        prevHash: row.prev_hash,
      };
      if (auditHash(fields) !== row.hash) {
        return this.refuse(`row ${row.seq}: its hash does not cover its fields`);
      }
      if (last !== undefined && row.seq <= last.seq) {
        const before = held.get(row.seq) ?? fresh.find((f) => f.seq === row.seq);
        if (before !== undefined && before.hash !== row.hash) {
          return this.refuse(`row ${row.seq} differs from the row ${row.seq} already received`);
        }
        continue;
      }
      if (last !== undefined) {
        if (row.seq !== last.seq + 1) {
          this.auditGaps++;
          return this.refuse(`row ${row.seq} does not follow row ${last.seq}: rows are missing`);
        }
        if (row.prev_hash !== last.hash) {
          return this.refuse(`row ${row.seq} does not link to row ${last.seq}`);
        }
      }
      fresh.push(row);
      last = { ...row, hostId };
    }
    for (const row of fresh) this.audit.push({ ...row, hostId });
    return { ok: true };
  }

  /**
   * A status report's audit head against what this hub holds: a head at a seq already received
   * with another hash, or a head behind the one an earlier report gave (the log only grows),
   * means the agent's log was rewritten after it was sent here.
   */
  checkAuditHead(hostId: string, report: StatusReport): void {
    const head = report.audit_head;
    if (head === undefined) return;
    const row = this.audit.find((a) => a.hostId === hostId && a.seq === head.seq);
    const earlier = this.reports
      .filter((r) => r.hostId === hostId && r.seq < report.seq && r.audit_head !== undefined)
      .at(-1)?.audit_head;
    if (
      (row !== undefined && row.hash !== head.hash) ||
      (earlier !== undefined && head.seq < earlier.seq)
    ) {
      this.auditHeadMismatches++;
    }
  }

  private refuse(reason: string): AuditVerdict {
    this.auditRefusals++;
    return { ok: false, reason };
  }
}

export type AuditVerdict = { ok: true } | { ok: false; reason: string };

export function etagOf(text: string): string {
  return `"${bytesToHex(sha256(new TextEncoder().encode(text))).slice(0, 20)}"`;
}
