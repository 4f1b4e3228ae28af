import type { StoredAlert, StoredCollection } from "../store/health-alerts.ts";

/** What `status` reads from the store beyond the audit head; tests inject stubs. */
export interface HealthStatusStore {
  healthAlerts?: { list(): StoredAlert[]; collections(): StoredCollection[] };
  pending?: { list(o: { status: "pending"; limit: number }): unknown[] };
  outbox?: { size(): number };
  desired?: { get(): { document: string; source: string; receivedAt: number } | undefined };
}

export type CollectorView =
  | { state: "ok"; at: string; data: unknown }
  | { state: "unavailable"; at: string; reason: string }
  | { state: "not_collected" };

/** The host-health half of `status --json` (docs/health.md#collectors). */
export interface HealthStatusView {
  daemon: { state: "running" | "not_seen"; last_collection_at: string | null };
  proxmox: { reachable: boolean | null; error?: string; node?: unknown };
  hub: { outbox_depth: number | null };
  guests: { desired: number | null; desired_source: string | null };
  pending: { held: number | null };
  storage: CollectorView;
  backups: CollectorView;
  disks: CollectorView;
  sensors: CollectorView;
  tunnel: CollectorView;
  alerts: { kind: string; severity: string; subject: string; since: string; detail: string }[];
}

// The daemon collects something at least every minute; three missed minutes mean it is not
// running (or not collecting), which is what an operator needs to know.
const RUNNING_WITHIN_MS = 3 * 60_000;

const iso = (ms: number) => new Date(ms).toISOString();

function view(c: StoredCollection | undefined): CollectorView {
  const body = c?.body as
    | { state?: string; at?: number; data?: unknown; reason?: string }
    | undefined;
  if (c === undefined || body === undefined) return { state: "not_collected" };
  if (body.state === "ok") return { state: "ok", at: iso(c.at), data: body.data };
  return { state: "unavailable", at: iso(c.at), reason: String(body.reason ?? "unknown") };
}

function desiredGuests(doc: string): number | null {
  try {
    const parsed = JSON.parse(doc) as { guests?: Record<string, unknown> };
    return parsed.guests && typeof parsed.guests === "object"
      ? Object.keys(parsed.guests).length
      : null;
  } catch {
    return null;
  }
}

export function healthStatus(s: HealthStatusStore | undefined, now: number): HealthStatusView {
  const collections = s?.healthAlerts?.collections() ?? [];
  const by = new Map(collections.map((c) => [c.collector, c]));
  const newest = collections.reduce((m, c) => Math.max(m, c.at), 0);
  const node = view(by.get("node"));
  const desired = s?.desired?.get();
  return {
    daemon: {
      state: newest > 0 && now - newest <= RUNNING_WITHIN_MS ? "running" : "not_seen",
      last_collection_at: newest > 0 ? iso(newest) : null,
    },
    proxmox:
      node.state === "ok"
        ? { reachable: true, node: node.data }
        : node.state === "unavailable"
          ? { reachable: false, error: node.reason }
          : { reachable: null },
    hub: { outbox_depth: s?.outbox?.size() ?? null },
    guests: {
      desired: desired ? desiredGuests(desired.document) : null,
      desired_source: desired?.source ?? null,
    },
    pending: { held: s?.pending?.list({ status: "pending", limit: 1000 }).length ?? null },
    storage: view(by.get("storage")),
    backups: view(by.get("backups")),
    disks: view(by.get("disks")),
    sensors: view(by.get("sensors")),
    tunnel: view(by.get("tunnel")),
    alerts: (s?.healthAlerts?.list() ?? []).map((a) => ({
      kind: a.kind,
      severity: a.severity,
      subject: a.subject,
      since: iso(a.since),
      detail: a.detail,
    })),
  };
}

const line = (name: string, v: CollectorView, ok: (data: unknown) => string) =>
  v.state === "ok"
    ? `${name}: ${ok(v.data)}`
    : v.state === "unavailable"
      ? `${name}: unavailable (${v.reason})`
      : `${name}: not collected`;

/** The one-screen text form. */
export function healthText(h: HealthStatusView): string {
  const lines: string[] = [];
  lines.push(
    `daemon: ${h.daemon.state === "running" ? "running" : "not seen"}${h.daemon.last_collection_at ? `, last collection ${h.daemon.last_collection_at}` : ""}`,
  );
  lines.push(
    `proxmox: ${h.proxmox.reachable === null ? "not checked" : h.proxmox.reachable ? "reachable" : `unreachable (${h.proxmox.error})`}`,
  );
  lines.push(`hub outbox: ${h.hub.outbox_depth ?? "-"} reports waiting`);
  lines.push(
    `guests in the desired state: ${h.guests.desired ?? "-"}; held operations: ${h.pending.held ?? "-"}`,
  );
  const arr = (d: unknown) => (Array.isArray(d) ? d : []);
  lines.push(
    line(
      "storage",
      h.storage,
      (d) =>
        arr(d)
          .map(
            (t: { id: string; present: boolean; avail_pct: number | null }) =>
              `${t.id} ${t.present ? "present" : "ABSENT"}${t.avail_pct !== null ? ` ${t.avail_pct}% free` : ""}`,
          )
          .join(", ") || "no targets",
    ),
  );
  lines.push(line("backups", h.backups, (d) => `${arr(d).length} guests tracked`));
  lines.push(
    line("disks", h.disks, (d) =>
      arr(d)
        .map(
          (x: { devpath: string; passed: boolean | null; temperatureC: number | null }) =>
            `${x.devpath} ${x.passed === null ? "SMART unknown" : x.passed ? "ok" : "FAILING"}${x.temperatureC !== null ? ` ${x.temperatureC}°C` : ""}`,
        )
        .join(", "),
    ),
  );
  lines.push(
    line("temperatures", h.sensors, (d) =>
      arr(d)
        .map((t: { feature: string; celsius: number }) => `${t.feature} ${t.celsius}°C`)
        .join(", "),
    ),
  );
  lines.push(
    line(
      "tunnel",
      h.tunnel,
      (d) => `${(d as { readyConnections: number }).readyConnections} ready connections`,
    ),
  );
  lines.push(`open alerts: ${h.alerts.length}`);
  for (const a of h.alerts) {
    lines.push(`  ${a.severity} ${a.kind} ${a.subject} since ${a.since}: ${a.detail}`);
  }
  return `${lines.join("\n")}\n`;
}
