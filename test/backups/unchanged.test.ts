/**
 * The stopped-and-unchanged judgement (docs/reconcile.md#stopped-and-unchanged-guests): only a
 * guest stopped now, with the digest its backup recorded, and no task but backups since, is
 * unchanged; every doubt means changed.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  type BackupBaseline,
  type GuestNow,
  judgeUnchanged,
} from "../../src/reconcile/backup-unchanged.ts";

const TASK_TYPES = [
  "vzdump",
  "vzstart",
  "vzstop",
  "vzrestore",
  "vzrollback",
  "resize",
  "vzsnapshot",
];
const digest = fc.stringMatching(/^[0-9a-f]{40}$/);
const task = fc.record({
  type: fc.constantFrom(...TASK_TYPES),
  upid: fc.string({ minLength: 1, maxLength: 20 }),
});

const baseline = fc.record({
  configDigest: fc.option(digest, { nil: null }),
  startedAt: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: null }),
});
const now = fc.record({
  status: fc.constantFrom("running" as const, "stopped" as const),
  configDigest: digest,
  tasks: fc.array(task, { maxLength: 6 }),
  tasksTruncated: fc.boolean(),
});

describe("judgeUnchanged", () => {
  test("unchanged exactly when stopped, same digest, complete task list of backups only", () => {
    fc.assert(
      fc.property(baseline, now, fc.boolean(), (b: BackupBaseline, n: GuestNow, same) => {
        const guest = same && b.configDigest !== null ? { ...n, configDigest: b.configDigest } : n;
        const v = judgeUnchanged(b, guest);
        const expected =
          b.configDigest !== null &&
          b.startedAt !== null &&
          guest.status === "stopped" &&
          guest.configDigest === b.configDigest &&
          !guest.tasksTruncated &&
          guest.tasks.every((t) => t.type === "vzdump");
        expect(v.unchanged).toBe(expected);
        if (!v.unchanged) expect(v.why.length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });

  test("any one change to an unchanged guest makes it changed", () => {
    fc.assert(
      fc.property(
        digest,
        fc.array(fc.constant({ type: "vzdump", upid: "u" }), { maxLength: 3 }),
        fc.constantFrom("digest", "task", "running", "truncated"),
        digest,
        fc.constantFrom(...TASK_TYPES.filter((t) => t !== "vzdump")),
        (d, backups, change, other, type) => {
          const b: BackupBaseline = { configDigest: d, startedAt: 1 };
          const n: GuestNow = {
            status: "stopped",
            configDigest: d,
            tasks: backups,
            tasksTruncated: false,
          };
          expect(judgeUnchanged(b, n)).toEqual({ unchanged: true });
          const changed: GuestNow =
            change === "digest"
              ? { ...n, configDigest: other === d ? `${d}0` : other }
              : change === "task"
                ? { ...n, tasks: [...backups, { type, upid: "x" }] }
                : change === "running"
                  ? { ...n, status: "running" }
                  : { ...n, tasksTruncated: true };
          expect(judgeUnchanged(b, changed).unchanged).toBe(false);
        },
      ),
    );
  });

  test("says why", () => {
    const b: BackupBaseline = { configDigest: "a".repeat(40), startedAt: 1 };
    const n: GuestNow = {
      status: "stopped",
      configDigest: "a".repeat(40),
      tasks: [],
      tasksTruncated: false,
    };
    expect(judgeUnchanged(b, { ...n, tasks: [{ type: "vzstart", upid: "u" }] })).toEqual({
      unchanged: false,
      why: "a vzstart task ran on it since the backup",
    });
    expect(judgeUnchanged({ ...b, configDigest: null }, n)).toMatchObject({ unchanged: false });
    expect(judgeUnchanged(b, { ...n, configDigest: "b".repeat(40) })).toEqual({
      unchanged: false,
      why: "its config changed since the backup",
    });
  });
});
