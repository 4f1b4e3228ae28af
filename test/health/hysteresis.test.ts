import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  openAlerts,
  type Signal,
  step,
  type Timing,
  type Tracker,
  trackerFrom,
} from "../../src/health/hysteresis.ts";
import { DEFAULT_TIMING } from "../../src/health/rules.ts";
import type { AlertKind } from "../../src/health/types.ts";

const NONE: Timing = { openAfterMs: {}, closeAfterMs: {} };
const sig = (
  level: Signal["level"],
  kind: AlertKind = "nvme_wear",
  subject = "disk:/dev/nvme0n1",
): Signal => ({
  kind,
  subject,
  severity: "warning",
  level,
  detail: level,
});
const ALL = new Set<AlertKind>(["nvme_wear", "tunnel_down", "smart_failing"]);

/** Runs a sequence of levels, one evaluation per second; returns every open/close. */
function run(levels: Signal["level"][], timing: Timing, kind: AlertKind = "nvme_wear") {
  let t: Tracker = new Map();
  const events: string[] = [];
  levels.forEach((level, i) => {
    const r = step(t, [sig(level, kind)], ALL, i * 1000, timing);
    t = r.tracker;
    for (const _ of r.opened) events.push(`open@${i}`);
    for (const _ of r.closed) events.push(`close@${i}`);
  });
  return { events, open: openAlerts(t) };
}

describe("hysteresis", () => {
  test("fire opens, hold keeps, clear closes", () => {
    expect(run(["fire", "hold", "hold", "clear"], NONE).events).toEqual(["open@0", "close@3"]);
  });

  test("a value in the band never opens an alert", () => {
    expect(run(["hold", "hold", "clear", "hold"], NONE).events).toEqual([]);
  });

  test("tunnel: opens only after two minutes of fire, a blip resets the run", () => {
    const twoMin = Array<Signal["level"]>(121).fill("fire");
    expect(run(twoMin, DEFAULT_TIMING, "tunnel_down").events).toEqual(["open@120"]);
    const blip = [
      ...Array<Signal["level"]>(100).fill("fire"),
      "clear" as const,
      ...Array<Signal["level"]>(100).fill("fire"),
    ];
    expect(run(blip, DEFAULT_TIMING, "tunnel_down").events).toEqual([]);
  });

  test("an alert whose inputs were unavailable is kept as it is", () => {
    let t: Tracker = new Map();
    t = step(t, [sig("fire")], ALL, 0, NONE).tracker;
    const r = step(t, [], new Set(), 1000, NONE);
    expect(r.closed).toEqual([]);
    expect(openAlerts(r.tracker)).toHaveLength(1);
  });

  test("an alert whose subject is gone from data that was read closes", () => {
    let t: Tracker = new Map();
    t = step(t, [sig("fire")], ALL, 0, NONE).tracker;
    const r = step(t, [], ALL, 1000, NONE);
    expect(r.closed.map((a) => a.subject)).toEqual(["disk:/dev/nvme0n1"]);
  });

  test("alerts read back from the store are not opened twice", () => {
    const t = trackerFrom([
      {
        kind: "nvme_wear",
        subject: "disk:/dev/nvme0n1",
        severity: "warning",
        since: 5,
        detail: "x",
      },
    ]);
    const r = step(t, [sig("fire")], ALL, 1000, NONE);
    expect(r.opened).toEqual([]);
    expect(openAlerts(r.tracker)[0]?.since).toBe(5);
  });

  test("property: opens and closes alternate, starting with an open", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<Signal["level"]>("fire", "hold", "clear"), { maxLength: 200 }),
        fc.nat(5000),
        fc.nat(5000),
        (levels, openAfter, closeAfter) => {
          const timing: Timing = {
            openAfterMs: { nvme_wear: openAfter },
            closeAfterMs: { nvme_wear: closeAfter },
          };
          const { events, open } = run(levels, timing);
          for (const [i, e] of events.entries()) {
            expect(e.startsWith(i % 2 === 0 ? "open" : "close")).toBe(true);
          }
          expect(open.length).toBe(events.length % 2);
        },
      ),
    );
  });

  test("property: a signal that never fires never opens; one that never clears never closes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<Signal["level"]>("hold", "clear"), { maxLength: 100 }),
        fc.array(fc.constantFrom<Signal["level"]>("fire", "hold"), { maxLength: 100 }),
        (quiet, loud) => {
          expect(run(quiet, DEFAULT_TIMING).events).toEqual([]);
          const r = run(["fire", ...loud], NONE);
          expect(r.events).toEqual(["open@0"]);
        },
      ),
    );
  });

  test("property: with a close delay, flapping faster than the delay stays one alert", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<Signal["level"]>("fire", "clear"), {
          minLength: 1,
          maxLength: 100,
        }),
        (flaps) => {
          // Never more than 59 clears in a row: under smart_failing's 60 min delay at 1 s a step.
          const timing: Timing = { openAfterMs: {}, closeAfterMs: { nvme_wear: 60_000 } };
          const { events } = run(["fire", ...flaps.slice(0, 59)], timing);
          expect(events).toEqual(["open@0"]);
        },
      ),
    );
  });
});
