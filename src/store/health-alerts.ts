import type { Database } from "bun:sqlite";
import type { Clock } from "../util/clock.ts";
import type { AuditLog } from "./audit.ts";
import { invalidArgument } from "./errors.ts";

/** An open health alert as stored (src/store/README.md#health-alerts). */
export interface StoredAlert {
  kind: string;
  subject: string;
  severity: "warning" | "critical";
  /** ms when it opened. */
  since: number;
  detail: string;
}

/** One collector's last result as stored: JSON the health monitor wrote, read by `status`. */
export interface StoredCollection {
  collector: string;
  at: number;
  body: unknown;
}

const MAX_BODY = 256 * 1024;

/**
 * Open health alerts and the collectors' last results (src/store/README.md#health-alerts).
 * Opening or closing an alert writes the row change and exactly one audit row in one
 * transaction, so the audit log and the open set never disagree. Collections are a cache for
 * `felhom-agent status`: the daemon writes them, the command only reads.
 */
export class HealthAlerts {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
  ) {}

  list(): StoredAlert[] {
    return this.db
      .query(
        "SELECT kind, subject, severity, since, detail FROM health_alerts ORDER BY since, subject",
      )
      .all() as StoredAlert[];
  }

  /** Records what one evaluation opened and closed; one audit row per change. */
  apply(opened: readonly StoredAlert[], closed: readonly StoredAlert[]): void {
    if (opened.length === 0 && closed.length === 0) return;
    for (const a of [...opened, ...closed]) check(a);
    this.db
      .transaction(() => {
        for (const a of opened) {
          this.db
            .query(
              `INSERT INTO health_alerts (kind, subject, severity, since, detail)
               VALUES ($kind, $subject, $severity, $since, $detail)
               ON CONFLICT (kind, subject) DO UPDATE SET severity = $severity, since = $since,
                 detail = $detail`,
            )
            .run({ ...a, detail: a.detail.slice(0, 512) });
          this.auditRow(a, "open");
        }
        for (const a of closed) {
          const gone = this.db
            .query("DELETE FROM health_alerts WHERE kind = $kind AND subject = $subject")
            .run({ kind: a.kind, subject: a.subject });
          if (gone.changes > 0) this.auditRow(a, "closed");
        }
      })
      .immediate();
  }

  putCollection(collector: string, at: number, body: unknown): void {
    const text = JSON.stringify(body);
    if (!/^[a-z_]{1,32}$/.test(collector)) throw invalidArgument("health: not a collector name");
    if (text.length > MAX_BODY) throw invalidArgument("health: collection too large");
    this.db
      .query(
        `INSERT INTO health_collections (collector, at, body) VALUES ($collector, $at, $body)
         ON CONFLICT (collector) DO UPDATE SET at = $at, body = $body`,
      )
      .run({ collector, at, body: text });
  }

  collections(): StoredCollection[] {
    const rows = this.db
      .query("SELECT collector, at, body FROM health_collections ORDER BY collector")
      .all() as { collector: string; at: number; body: string }[];
    return rows.map((r) => ({ collector: r.collector, at: r.at, body: JSON.parse(r.body) }));
  }

  private auditRow(a: StoredAlert, outcome: "open" | "closed"): void {
    this.audit.append({
      actor: "agent",
      action: "health.alert",
      target: a.subject,
      outcome,
      details: {
        kind: a.kind,
        severity: a.severity,
        detail: a.detail.slice(0, 512),
        since: a.since,
        ...(outcome === "closed" ? { open_ms: Math.max(0, this.clock.now() - a.since) } : {}),
      },
    });
  }
}

function check(a: StoredAlert): void {
  if (!/^[a-z_]{1,64}$/.test(a.kind)) throw invalidArgument("health alert: not a kind");
  if (a.subject.length < 1 || a.subject.length > 256) {
    throw invalidArgument("health alert: subject must be 1..256 characters");
  }
  if (a.severity !== "warning" && a.severity !== "critical") {
    throw invalidArgument("health alert: severity must be warning or critical");
  }
  if (!Number.isSafeInteger(a.since) || a.since < 0) {
    throw invalidArgument("health alert: since must be a timestamp");
  }
}
