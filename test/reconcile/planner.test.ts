import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { describeAction } from "../../src/reconcile/actions.ts";
import type { ActualGuest, ActualHostState } from "../../src/reconcile/actual-state.ts";
import {
  type DesiredGuestSpec,
  type DesiredHostState,
  parseDesiredDocument,
} from "../../src/reconcile/desired-state.ts";
import { growOverrides, type OverrideFacts } from "../../src/reconcile/overrides.ts";
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

describe("planActions with the guests' own grows (overrides)", () => {
  const grown = (
    vmid: number,
    field: OverrideFacts["field"],
    value: number,
    desiredValue: number | null,
    journalId = 7,
  ): OverrideFacts => ({ journalId, vmid, field, value, desiredValue });
  const cases: {
    name: string;
    desired: DesiredHostState | undefined;
    actual: ActualHostState;
    overrides: OverrideFacts[];
    busy?: Set<number>;
    actions: string[];
    standing: string[];
    voided: string[];
  }[] = [
    {
      name: "kept: desired still says what it said when the guest grew, nothing is planned back",
      desired: desired({ vmid: 101, cores: 2, maxCores: 4 }),
      actual: actual(running(101, { cores: 4 })),
      overrides: [grown(101, "cores", 4, 2)],
      actions: [],
      standing: ["101 cores 4"],
      voided: [],
    },
    {
      name: "kept: drift away from the grown value is planned back to it, not to desired",
      desired: desired({ vmid: 101, cores: 2, maxCores: 4 }),
      actual: actual(running(101, { cores: 1 })),
      overrides: [grown(101, "cores", 4, 2)],
      actions: ['guest.config 101 {"cores":4} (cores 1 -> 4 as the guest grew it)'],
      standing: ["101 cores 4"],
      voided: [],
    },
    {
      name: "voided: the hub changed cores, desired wins",
      desired: desired({ vmid: 101, cores: 3, maxCores: 4 }),
      actual: actual(running(101, { cores: 4 })),
      overrides: [grown(101, "cores", 4, 2)],
      actions: ['guest.config 101 {"cores":3} (cores 4 -> 3)'],
      standing: [],
      voided: ["101 cores: desired cores is now 3 (it was 2 when the guest grew it)"],
    },
    {
      name: "kept per field: memory stands while a cores change is planned",
      desired: desired({ vmid: 101, cores: 3, memoryMiB: 1024, maxMemoryMiB: 4096 }),
      actual: actual(running(101, { cores: 2, memoryMiB: 2048 })),
      overrides: [grown(101, "memory_mib", 2048, 1024)],
      actions: ['guest.config 101 {"cores":3} (cores 2 -> 3)'],
      standing: ["101 memory_mib 2048"],
      voided: [],
    },
    {
      name: "unmanaged field: the grow stands and nothing is planned",
      desired: desired({ vmid: 101, run: "running", maxCores: 4 }),
      actual: actual(running(101, { cores: 4 })),
      overrides: [grown(101, "cores", 4, null)],
      actions: [],
      standing: ["101 cores 4"],
      voided: [],
    },
    {
      name: "an unmanaged field becoming managed voids the grow",
      desired: desired({ vmid: 101, cores: 2, maxCores: 4 }),
      actual: actual(running(101, { cores: 4 })),
      overrides: [grown(101, "cores", 4, null)],
      actions: ['guest.config 101 {"cores":2} (cores 4 -> 2)'],
      standing: [],
      voided: ["101 cores: desired cores is now 2 (it was unmanaged when the guest grew it)"],
    },
    {
      name: "a managed field becoming unmanaged voids the grow and plans nothing",
      desired: desired({ vmid: 101, run: "running", maxCores: 4 }),
      actual: actual(running(101, { cores: 4 })),
      overrides: [grown(101, "cores", 4, 2)],
      actions: [],
      standing: [],
      voided: ["101 cores: desired cores is no longer managed (it was 2 when the guest grew it)"],
    },
    {
      name: "a quota dropped below the grown value: desired wins",
      desired: desired({ vmid: 101, memoryMiB: 1024, maxMemoryMiB: 1536 }),
      actual: actual(running(101, { memoryMiB: 2048 })),
      overrides: [grown(101, "memory_mib", 2048, 1024)],
      actions: ['guest.config 101 {"memoryMiB":1024} (memory 2048 MiB -> 1024 MiB)'],
      standing: [],
      voided: ["101 memory_mib: memory_mib 2048 is over max_memory_mib 1536"],
    },
    {
      name: "a quota taken away: desired wins",
      desired: desired({ vmid: 101, cores: 2 }),
      actual: actual(running(101, { cores: 4 })),
      overrides: [grown(101, "cores", 4, 2)],
      actions: ['guest.config 101 {"cores":2} (cores 4 -> 2)'],
      standing: [],
      voided: ["101 cores: desired state no longer sets max_cores"],
    },
    {
      name: "a guest no longer in desired state: void, and the guest is left alone",
      desired: desired({ vmid: 102, run: "running" }),
      actual: actual(running(101, { cores: 4 }), running(102)),
      overrides: [grown(101, "cores", 4, 2)],
      actions: [],
      standing: [],
      voided: ["101 cores: the guest is no longer in the desired state"],
    },
    {
      name: "a busy guest is skipped, its overrides are still judged",
      desired: desired({ vmid: 101, cores: 3, maxCores: 4 }),
      actual: actual(running(101, { cores: 4 })),
      overrides: [grown(101, "cores", 4, 2)],
      busy: new Set([101]),
      actions: [],
      standing: [],
      voided: ["101 cores: desired cores is now 3 (it was 2 when the guest grew it)"],
    },
    {
      name: "no desired state: nothing planned, nothing voided",
      desired: undefined,
      actual: actual(running(101, { cores: 4 })),
      overrides: [grown(101, "cores", 4, 2)],
      actions: [],
      standing: ["101 cores 4"],
      voided: [],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const plan = planActions(c.desired, c.actual, c.busy ?? none, c.overrides);
      expect(plan.actions.map(describeAction)).toEqual(c.actions);
      expect(plan.overrides.standing.map((o) => `${o.vmid} ${o.field} ${o.value}`)).toEqual(
        c.standing,
      );
      expect(
        plan.overrides.voided.map((v) => `${v.override.vmid} ${v.override.field}: ${v.reason}`),
      ).toEqual(c.voided);
    });
  }

  test("the grow recorded for a local-API guest.config is measured against desired state", () => {
    const spec: DesiredGuestSpec = { vmid: 101, cores: 2, maxCores: 4, maxMemoryMiB: 4096 };
    const req = { op: "guest.config" as const, origin: "localapi" as const, vmid: 101 };
    expect(growOverrides(req, { cores: 4, memoryMiB: 2048 }, spec)).toEqual([
      { vmid: 101, field: "cores", value: 4, desiredValue: 2 },
      { vmid: 101, field: "memory_mib", value: 2048, desiredValue: null },
    ]);
    expect(growOverrides({ ...req, origin: "reconcile" }, { cores: 4 }, spec)).toEqual([]);
    expect(growOverrides({ ...req, origin: "job" }, { cores: 4 }, spec)).toEqual([]);
    expect(growOverrides({ ...req, op: "guest.start" }, { cores: 4 }, spec)).toEqual([]);
    expect(growOverrides(req, { description: "x" }, spec)).toEqual([]);
  });
});
