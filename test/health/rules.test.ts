import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { openAlerts, step, type Tracker } from "../../src/health/hysteresis.ts";
import { DEFAULT_TIMING, evaluate, evaluatedKinds } from "../../src/health/rules.ts";
import type { DiskHealth, HealthSnapshot } from "../../src/health/types.ts";

const T = Date.UTC(2026, 5, 1);
const ok = <D>(data: D) => ({ state: "ok" as const, at: T, data });

const disk = (o: Partial<DiskHealth> = {}): DiskHealth => ({
  devpath: "/dev/sda",
  type: "ssd",
  model: "Samsung SSD 870 EVO 1TB",
  serial: "S6PT",
  sizeBytes: 1e12,
  smart: "ok",
  passed: true,
  temperatureC: 34,
  wearUsedPct: 2,
  errorCount: 0,
  failing: false,
  exitStatus: 0,
  ...o,
});

const levels = (s: HealthSnapshot, prev?: DiskHealth[], now = T) =>
  Object.fromEntries(evaluate(s, prev, now).map((x) => [`${x.kind} ${x.subject}`, x.level]));

describe("alert rules", () => {
  test("SMART failing: verdict failed or prefail at threshold fires; unknown holds", () => {
    expect(levels({ disks: ok([disk({ passed: false })]) })["smart_failing disk:/dev/sda"]).toBe(
      "fire",
    );
    expect(levels({ disks: ok([disk({ failing: true })]) })["smart_failing disk:/dev/sda"]).toBe(
      "fire",
    );
    expect(levels({ disks: ok([disk({ passed: null })]) })["smart_failing disk:/dev/sda"]).toBe(
      "hold",
    );
    expect(levels({ disks: ok([disk()]) })["smart_failing disk:/dev/sda"]).toBe("clear");
  });

  test("NVMe wear: 90 % opens, 85..90 is the band, below 85 closes", () => {
    const at = (p: number) =>
      levels({ disks: ok([disk({ wearUsedPct: p })]) })["nvme_wear disk:/dev/sda"];
    expect([at(90), at(87), at(84)]).toEqual(["fire", "hold", "clear"]);
  });

  test("media errors rising compares with the look before; the first look only sets a baseline", () => {
    const now = { disks: ok([disk({ errorCount: 3 })]) };
    expect(levels(now)["media_errors_rising disk:/dev/sda"]).toBeUndefined();
    expect(levels(now, [disk({ errorCount: 1 })])["media_errors_rising disk:/dev/sda"]).toBe(
      "fire",
    );
    expect(levels(now, [disk({ errorCount: 3 })])["media_errors_rising disk:/dev/sda"]).toBe(
      "clear",
    );
  });

  test("temperature: at max fires (warning), at crit critical, 5 °C under the limit closes", () => {
    const t = (c: number) =>
      evaluate(
        {
          sensors: ok([
            { chip: "coretemp-isa-0000", feature: "Package id 0", celsius: c, max: 80, crit: 100 },
          ]),
        },
        undefined,
        T,
      )[0];
    expect([t(80)?.level, t(80)?.severity]).toEqual(["fire", "warning"]);
    expect(t(100)?.severity).toBe("critical");
    expect(t(77)?.level).toBe("hold");
    expect(t(74)?.level).toBe("clear");
    // Without any limit there is nothing to compare with.
    expect(
      evaluate({ sensors: ok([{ chip: "x", feature: "y", celsius: 99 }]) }, undefined, T),
    ).toEqual([]);
  });

  test("root fs and backup target fullness, target absence", () => {
    const node = (used: number) =>
      levels({
        node: ok({
          cpuFraction: 0,
          memoryUsedBytes: 0,
          memoryTotalBytes: 1,
          rootUsedBytes: used,
          rootTotalBytes: 100,
          load1: 0,
          uptimeSec: 1,
          pveVersion: "9.1.2",
        }),
      })["root_fs_full host:rootfs"];
    expect([node(91), node(88), node(80)]).toEqual(["fire", "hold", "clear"]);
    const target = (present: boolean, avail: number | null, managed = true) =>
      levels({
        storage: ok([
          {
            id: "usb1",
            kind: "usb" as const,
            managed,
            present,
            active: present,
            avail_pct: avail,
            since: null,
            reason: present ? null : "USB disk 2f0c not attached",
          },
        ]),
      });
    expect(target(false, null)["target_absent storage:usb1"]).toBe("fire");
    expect(target(true, 8)["target_full storage:usb1"]).toBe("fire");
    expect(target(true, 50)["target_absent storage:usb1"]).toBe("clear");
    expect(target(false, null, false)).toEqual({});
  });

  test("backup overdue after 26 h; never backed up is not overdue", () => {
    const b = (ageH: number | null) =>
      levels({
        backups: ok([{ vmid: 101, lastSuccessAt: ageH === null ? null : T - ageH * 3_600_000 }]),
      })["backup_overdue guest:101"];
    expect([b(27), b(2), b(null)]).toEqual(["fire", "clear", undefined]);
  });

  test("tunnel: zero connections or no answer fires; the tunnel kind is decided either way", () => {
    expect(
      levels({ tunnel: ok({ readyConnections: 0, connectorId: null }) })[
        "tunnel_down tunnel:cloudflared"
      ],
    ).toBe("fire");
    expect(
      levels({ tunnel: ok({ readyConnections: 4, connectorId: "c" }) })[
        "tunnel_down tunnel:cloudflared"
      ],
    ).toBe("clear");
    const down: HealthSnapshot = {
      tunnel: { state: "unavailable", at: T, reason: "connection refused" },
    };
    expect(levels(down)["tunnel_down tunnel:cloudflared"]).toBe("fire");
    expect(evaluatedKinds(down).has("tunnel_down")).toBe(true);
    expect(evaluatedKinds({ disks: { state: "unavailable", at: T, reason: "sudo" } }).size).toBe(0);
  });

  test("the store's disk: low opens, the band holds", () => {
    const s = (avail: number, total: number) =>
      levels({
        store: ok({ path: "/var/lib/felhom-agent", availBytes: avail, totalBytes: total }),
      })["store_disk_low store:state_dir"];
    const G = 1024 ** 3;
    expect([s(0.1 * G, 100 * G), s(7 * G, 100 * G), s(20 * G, 100 * G)]).toEqual([
      "fire",
      "hold",
      "clear",
    ]);
  });

  test("property: once open, a root fs hovering anywhere at or above the close threshold never closes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 85, max: 100, noNaN: true }), { maxLength: 100 }),
        (usedPcts) => {
          let t: Tracker = new Map();
          let events = 0;
          for (const [i, used] of [91, ...usedPcts].entries()) {
            const snap: HealthSnapshot = {
              node: ok({
                cpuFraction: 0,
                memoryUsedBytes: 0,
                memoryTotalBytes: 1,
                rootUsedBytes: used,
                rootTotalBytes: 100,
                load1: 0,
                uptimeSec: 1,
                pveVersion: null,
              }),
            };
            const r = step(
              t,
              evaluate(snap, undefined, T),
              evaluatedKinds(snap),
              T + i * 60_000,
              DEFAULT_TIMING,
            );
            events += r.opened.length + r.closed.length;
            t = r.tracker;
          }
          expect(events).toBe(1);
          expect(openAlerts(t)).toHaveLength(1);
        },
      ),
    );
  });
});
