import type { Alert, AlertKind, Severity } from "./types.ts";

/**
 * What one rule found about one subject on one evaluation (docs/health.md#alerts):
 * `fire` at or past the open threshold, `clear` at or past the close threshold, `hold` in the
 * band between them, where nothing changes. The band is what keeps a value hovering at a
 * threshold from opening and closing an alert on every look.
 */
export interface Signal {
  kind: AlertKind;
  subject: string;
  severity: Severity;
  level: "fire" | "hold" | "clear";
  detail: string;
}

/** How long a signal must persist before the alert opens or closes, per kind (ms). */
export interface Timing {
  openAfterMs: Partial<Record<AlertKind, number>>;
  closeAfterMs: Partial<Record<AlertKind, number>>;
}

interface Track {
  open?: Alert;
  /** First `fire` of an unbroken run while closed. */
  firingSince?: number;
  /** First `clear` of an unbroken run while open. */
  clearingSince?: number;
}

/** The hysteresis state: open alerts and the runs that may yet open or close one. */
export type Tracker = ReadonlyMap<string, Track>;

export interface Step {
  tracker: Tracker;
  opened: Alert[];
  closed: Alert[];
}

export const alertKey = (kind: AlertKind, subject: string) => `${kind}|${subject}`;

/** A tracker that starts from alerts already open (read back from the store after a restart). */
export function trackerFrom(open: readonly Alert[]): Tracker {
  return new Map(open.map((a) => [alertKey(a.kind, a.subject), { open: a }]));
}

export function openAlerts(t: Tracker): Alert[] {
  const out: Alert[] = [];
  for (const track of t.values()) if (track.open) out.push(track.open);
  return out.sort((a, b) => a.since - b.since || a.subject.localeCompare(b.subject));
}

/**
 * One evaluation. Pure: the same inputs give the same result.
 *
 * `evaluated` names the kinds whose inputs were available this time. An open alert of such a
 * kind with no signal (its disk or target is gone from the data) counts as `clear`; an alert
 * whose inputs were unavailable (a collector failing) is left exactly as it is, so a sudo
 * refusal never closes a disk alert.
 */
export function step(
  tracker: Tracker,
  signals: readonly Signal[],
  evaluated: ReadonlySet<AlertKind>,
  now: number,
  timing: Timing,
): Step {
  const next = new Map<string, Track>();
  const opened: Alert[] = [];
  const closed: Alert[] = [];
  const seen = new Set<string>();
  for (const s of signals) {
    const key = alertKey(s.kind, s.subject);
    if (seen.has(key)) continue;
    seen.add(key);
    const before = tracker.get(key) ?? {};
    const after = advance(before, s, now, timing);
    if (!before.open && after.open) opened.push(after.open);
    if (before.open && !after.open) closed.push(before.open);
    if (after.open || after.firingSince !== undefined) next.set(key, after);
  }
  for (const [key, track] of tracker) {
    if (seen.has(key)) continue;
    const kind = track.open?.kind ?? (key.slice(0, key.indexOf("|")) as AlertKind);
    if (!evaluated.has(kind)) {
      next.set(key, track);
      continue;
    }
    if (!track.open) continue;
    const gone: Signal = {
      kind: track.open.kind,
      subject: track.open.subject,
      severity: track.open.severity,
      level: "clear",
      detail: track.open.detail,
    };
    const after = advance(track, gone, now, timing);
    if (after.open) next.set(key, after);
    else closed.push(track.open);
  }
  return { tracker: next, opened, closed };
}

function advance(t: Track, s: Signal, now: number, timing: Timing): Track {
  const openAfter = timing.openAfterMs[s.kind] ?? 0;
  const closeAfter = timing.closeAfterMs[s.kind] ?? 0;
  if (!t.open) {
    if (s.level !== "fire") return {};
    const firingSince = t.firingSince ?? now;
    if (now - firingSince < openAfter) return { firingSince };
    return {
      open: {
        kind: s.kind,
        severity: s.severity,
        subject: s.subject,
        since: now,
        detail: s.detail,
      },
    };
  }
  if (s.level !== "clear") {
    // Still firing (or in the band): keep it open, with the latest words for it.
    return { open: s.level === "fire" ? { ...t.open, detail: s.detail } : t.open };
  }
  const clearingSince = t.clearingSince ?? now;
  if (now - clearingSince < closeAfter) return { open: t.open, clearingSince };
  return {};
}
