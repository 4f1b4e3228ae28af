import { describe, expect, test } from "bun:test";
import type { DecodedList, ListItemProblem } from "../../src/proxmox/decode-list.ts";
import type { LxcStatus } from "../../src/proxmox/schema-guest.ts";
import { parseDesiredDocument } from "../../src/reconcile/desired-state.ts";
import { planActions } from "../../src/reconcile/planner.ts";
import { readActualState } from "../../src/reconcile/read-actual.ts";

/**
 * A guest whose list entry Proxmox sent in a form the client cannot read is present with an
 * unknown state (docs/proxmox-behaviour.md#per-item-list-decoding): the plan says so and leaves
 * it alone, rather than calling it absent.
 */
describe("a guest the list names but cannot decode", () => {
  const problem: ListItemProblem = {
    list: "lxc",
    index: 1,
    vmid: 102,
    outcome: "dropped",
    fields: ["status"],
    issues: ["status: expected string"],
  };
  const list = Object.assign([{ vmid: 101, status: "stopped", template: false } as LxcStatus], {
    problems: [problem],
  }) as DecodedList<LxcStatus>;
  const client = {
    listLXC: async () => list,
    guestConfig: async () => {
      throw new Error("not read in this test");
    },
  };
  const desired = parseDesiredDocument(
    {
      version: 1,
      guests: { "101": { run: "running" }, "102": { run: "running" } },
    },
    "test",
  );

  test("is read as unreadable, with the fields that failed", async () => {
    const r = await readActualState(client, desired, { concurrency: 2 });
    expect(r.actual.guests.has(102)).toBe(false);
    expect(r.actual.unreadable?.get(102)).toBe("unreadable fields: status");
  });

  test("is skipped as unreadable, not absent; the readable guest is still planned", async () => {
    const r = await readActualState(client, desired, { concurrency: 2 });
    const plan = planActions(desired, r.actual, new Set());
    expect(plan.skipped).toContainEqual({
      vmid: 102,
      reason: "unreadable",
      detail: "unreadable fields: status",
    });
    expect(plan.actions.map((a) => `${a.op} ${a.vmid}`)).toEqual(["guest.start 101"]);
  });
});
