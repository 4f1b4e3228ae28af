/**
 * The monthly point a tier with `protected_monthly` protects (docs/reconcile.md#protected-monthly-points):
 * the oldest backup of the current month that stays, once a month, never a renamed one.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { PruneMarkEntry } from "../../src/reconcile/backup-floor.ts";
import { monthlyPointToProtect } from "../../src/reconcile/backup-monthly-point.ts";

const NOW = Date.UTC(2026, 5, 20, 12, 0, 0);
const DAY_S = 86_400;
const nowS = Math.floor(NOW / 1000);

const entry = fc.record({
  volid: fc.integer({ min: 0, max: 10_000 }).map((n) => `nas1:backup/vzdump-lxc-101-${n}.tar.zst`),
  ctime: fc.integer({ min: nowS - 90 * DAY_S, max: nowS }),
  mark: fc.constantFrom(
    "keep" as const,
    "remove" as const,
    "protected" as const,
    "renamed" as const,
  ),
});
const entries = fc.uniqueArray(entry, { selector: (e) => e.volid, maxLength: 30 });
const month = (s: number, off: number) => {
  const d = new Date(s * 1000 + off);
  return `${d.getUTCFullYear()}-${d.getUTCMonth()}`;
};

describe("monthlyPointToProtect", () => {
  test("the oldest staying backup of this month, unless this month has a protected one", () => {
    fc.assert(
      fc.property(
        entries,
        fc.func(fc.boolean()),
        fc.constantFrom(0, 3_600_000, -5 * 3_600_000, 14 * 3_600_000),
        (marks: PruneMarkEntry[], drop, off) => {
          const removed = new Set(
            marks.filter((m) => m.mark === "remove" && drop(m.volid)).map((m) => m.volid),
          );
          const got = monthlyPointToProtect(marks, removed, NOW, off);
          const thisMonth = marks.filter((m) => month(m.ctime, off) === month(nowS, off));
          const staying = thisMonth.filter(
            (m) => (m.mark === "keep" || m.mark === "remove") && !removed.has(m.volid),
          );
          if (thisMonth.some((m) => m.mark === "protected") || staying.length === 0) {
            expect(got).toBeUndefined();
            return;
          }
          const chosen = marks.find((m) => m.volid === got);
          expect(chosen).toBeDefined();
          expect(removed.has(got as string)).toBe(false);
          expect(chosen?.mark === "renamed" || chosen?.mark === "protected").toBe(false);
          expect(month((chosen as PruneMarkEntry).ctime, off)).toBe(month(nowS, off));
          for (const s of staying)
            expect((chosen as PruneMarkEntry).ctime).toBeLessThanOrEqual(s.ctime);
          // Once it is protected, nothing more this month.
          const after = marks.map((m) =>
            m.volid === got ? { ...m, mark: "protected" as const } : m,
          );
          expect(monthlyPointToProtect(after, removed, NOW, off)).toBeUndefined();
        },
      ),
      { numRuns: 400 },
    );
  });

  test("the month is the host's local month", () => {
    // 23:30 UTC on May 31 is already June 1 at UTC+2.
    const lateMay = Math.floor(Date.UTC(2026, 4, 31, 23, 30) / 1000);
    const marks: PruneMarkEntry[] = [
      { volid: "nas1:backup/vzdump-lxc-101-a.tar.zst", ctime: lateMay, mark: "keep" },
      { volid: "nas1:backup/vzdump-lxc-101-b.tar.zst", ctime: lateMay + 2 * DAY_S, mark: "keep" },
    ];
    expect(monthlyPointToProtect(marks, new Set(), NOW, 2 * 3_600_000)).toBe(
      "nas1:backup/vzdump-lxc-101-a.tar.zst",
    );
    expect(monthlyPointToProtect(marks, new Set(), NOW, 0)).toBe(
      "nas1:backup/vzdump-lxc-101-b.tar.zst",
    );
  });
});
