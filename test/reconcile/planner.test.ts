import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { ActualGuest, ActualHostState } from "../../src/reconcile/actual-state.ts";
import {
  type DesiredGuestSpec,
  type DesiredHostState,
  parseDesiredDocument,
} from "../../src/reconcile/desired-state.ts";
import { planActions } from "../../src/reconcile/planner.ts";

function actual(...guests: ActualGuest[]): ActualHostState {
  return { guests: new Map(guests.map((g) => [g.vmid, g])) };
}
function desired(...specs: DesiredGuestSpec[]): DesiredHostState {
  return { guests: new Map(specs.map((s) => [s.vmid, s])) };
}
const running = (vmid: number, config?: ActualGuest["config"]): ActualGuest => ({
  vmid,
  status: "running",
  template: false,
  ...(config ? { config } : {}),
});
const stopped = (vmid: number, config?: ActualGuest["config"]): ActualGuest => ({
  ...running(vmid, config),
  status: "stopped",
});
const none = new Set<number>();
const ops = (d: DesiredHostState | undefined, a: ActualHostState, busy = none) =>
  planActions(d, a, busy).actions.map((x) => `${x.op} ${x.vmid} ${JSON.stringify(x.params)}`);

describe("planActions", () => {
  const cases: [string, DesiredHostState | undefined, ActualHostState, string[]][] = [
    ["no desired state plans nothing", undefined, actual(running(101), stopped(102)), []],
    ["empty desired state leaves every guest alone", desired(), actual(running(101)), []],
    [
      "a guest absent from desired state is never stopped",
      desired({ vmid: 102, run: "running" }),
      actual(running(101), stopped(102)),
      ["guest.start 102 {}"],
    ],
    [
      "stopped -> running",
      desired({ vmid: 101, run: "running" }),
      actual(stopped(101)),
      ["guest.start 101 {}"],
    ],
    [
      "running -> stopped is a shutdown that forces after its timeout",
      desired({ vmid: 101, run: "stopped" }),
      actual(running(101)),
      ['guest.shutdown 101 {"timeoutSec":60,"forceStop":true}'],
    ],
    ["already running", desired({ vmid: 101, run: "running" }), actual(running(101)), []],
    [
      "cores and memory in one config change, before the start",
      desired({ vmid: 101, run: "running", cores: 4, memoryMiB: 4096 }),
      actual(stopped(101, { cores: 2, memoryMiB: 2048 })),
      ['guest.config 101 {"cores":4,"memoryMiB":4096}', "guest.start 101 {}"],
    ],
    [
      "missing memory key means PVE's 512 MiB default",
      desired({ vmid: 101, memoryMiB: 512 }),
      actual(running(101, { cores: 1 })),
      [],
    ],
    [
      "description compared through PVE's newline normalisation",
      desired({ vmid: 101, description: "Customer A\n\n\n" }),
      actual(running(101, { description: "Customer A\n" })),
      [],
    ],
    [
      "a changed description is sent without trailing newlines",
      desired({ vmid: 101, description: "line 1\nline 2\n" }),
      actual(running(101, { description: "old\n" })),
      ['guest.config 101 {"description":"line 1\\nline 2"}'],
    ],
    [
      "an emptied description",
      desired({ vmid: 101, description: "" }),
      actual(running(101, { description: "old\n" })),
      ['guest.config 101 {"description":""}'],
    ],
    [
      "unmanaged fields are ignored",
      desired({ vmid: 101 }),
      actual(stopped(101, { cores: 9, memoryMiB: 1 })),
      [],
    ],
    [
      "a guest that does not exist is not created",
      desired({ vmid: 150, run: "running", cores: 2 }),
      actual(running(101)),
      [],
    ],
  ];
  for (const [name, d, a, want] of cases) {
    test(name, () => expect(ops(d, a)).toEqual(want));
  }

  test("a config that could not be read keeps the run state and skips spec checks", () => {
    const guest: ActualGuest = { ...stopped(101), configError: "HTTP 500" };
    const plan = planActions(desired({ vmid: 101, run: "running", cores: 4 }), actual(guest), none);
    expect(plan.actions.map((a) => a.op)).toEqual(["guest.start"]);
    expect(plan.skipped).toEqual([{ vmid: 101, reason: "config_unreadable", detail: "HTTP 500" }]);
  });

  test("busy, locked and template guests are left alone and reported", () => {
    const plan = planActions(
      desired(
        { vmid: 101, run: "stopped" },
        { vmid: 102, run: "running" },
        { vmid: 103, run: "running" },
      ),
      actual(
        running(101),
        { ...stopped(102), lock: "backup" },
        { ...stopped(103), template: true },
      ),
      new Set([101]),
    );
    expect(plan.actions).toEqual([]);
    expect(plan.skipped.map((s) => `${s.vmid}:${s.reason}`)).toEqual([
      "101:busy",
      "102:locked",
      "103:template",
    ]);
  });

  test("a byte value converges in one pass: planning against its own result is empty", () => {
    fc.assert(
      fc.property(fc.integer({ min: 16 * 1024 * 1024, max: 2 ** 40 }), (bytes) => {
        const d = parseDesiredDocument(
          { version: 1, guests: { "101": { memory_bytes: bytes } } },
          "test",
        );
        const first = planActions(d, actual(running(101, { memoryMiB: 16 })), none).actions;
        const applied = first[0]?.op === "guest.config" ? (first[0].params.memoryMiB ?? 16) : 16;
        expect(applied * 1024 * 1024).toBeGreaterThanOrEqual(bytes);
        expect(planActions(d, actual(running(101, { memoryMiB: applied })), none).actions).toEqual(
          [],
        );
      }),
    );
  });

  test("the planner is pure: same input, same plan, inputs untouched", () => {
    const d = desired({ vmid: 101, run: "running", cores: 3 });
    const a = actual(stopped(101, { cores: 2 }));
    const snapshot = JSON.stringify([...a.guests.values()]);
    expect(planActions(d, a, none)).toEqual(planActions(d, a, none));
    expect(JSON.stringify([...a.guests.values()])).toBe(snapshot);
  });
});
