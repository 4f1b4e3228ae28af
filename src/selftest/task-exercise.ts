import type { ProxmoxClient, TaskResult } from "../proxmox/client-types.ts";
import type { Clock } from "../util/clock.ts";

export type ExerciseStepName = "snapshot" | "rollback" | "delete-snapshot" | "cleanup";

export interface ExerciseStep {
  step: ExerciseStepName;
  ok: boolean;
  upid?: string;
  exitstatus?: string;
  warnings: string[];
  polls?: number;
  durationMs: number;
  error?: string;
}

export interface ExerciseReport {
  vmid: number;
  snapshot: string;
  steps: ExerciseStep[];
  ok: boolean;
  /** True when the snapshot was deleted, or never created. */
  leftClean: boolean;
}

export interface ExerciseInput {
  client: ProxmoxClient;
  clock: Clock;
  vmid: number;
  /** Per-task wait, default 5 min: a snapshot of a large guest on slow storage takes a while. */
  taskDeadlineMs?: number;
  signal?: AbortSignal;
  onStepStart?: (step: ExerciseStepName, snapshot: string) => void;
  onStep?: (s: ExerciseStep) => void;
  onPoll?: (step: ExerciseStepName, elapsedMs: number, polls: number) => void;
}

/** Snapshot names are pve-configid, at most 40 characters (docs/proxmox-behaviour.md#endpoint-summary). */
export function exerciseSnapshotName(nowMs: number): string {
  return `felhom-selftest-${Math.floor(nowMs / 1000).toString(36)}`;
}

/**
 * `--selftest=task`: exercises the whole task path (POST → UPID → waitTask → exitstatus) with a
 * reversible sequence on one guest: snapshot, rollback to it, delete it. A running guest is
 * started again after the rollback (`start=1`), because an LXC rollback stops the container.
 * Whatever fails, the snapshot it created is deleted before returning.
 */
export async function runTaskExercise(input: ExerciseInput): Promise<ExerciseReport> {
  const { client, vmid, clock, signal } = input;
  const deadlineMs = input.taskDeadlineMs ?? 5 * 60_000;
  const snapshot = exerciseSnapshotName(clock.now());
  const report: ExerciseReport = { vmid, snapshot, steps: [], ok: true, leftClean: true };

  const wasRunning =
    (await client.guestStatus(vmid, signal ? { signal } : {})).status === "running";

  const step = async (name: ExerciseStepName, post: () => Promise<string>): Promise<boolean> => {
    input.onStepStart?.(name, snapshot);
    const t0 = clock.now();
    let upid: string | undefined;
    try {
      upid = await post();
      const r: TaskResult = await client.waitTask(upid, {
        deadlineMs,
        ...(signal ? { signal } : {}),
        onProgress: (p) => input.onPoll?.(name, p.elapsedMs, p.polls),
      });
      const s: ExerciseStep = {
        step: name,
        ok: true,
        upid,
        exitstatus: r.exitstatus,
        warnings: r.warnings,
        polls: r.polls,
        durationMs: clock.now() - t0,
      };
      report.steps.push(s);
      input.onStep?.(s);
      return true;
    } catch (err) {
      const s: ExerciseStep = {
        step: name,
        ok: false,
        ...(upid ? { upid } : {}),
        warnings: [],
        durationMs: clock.now() - t0,
        error: err instanceof Error ? err.message : String(err),
      };
      report.steps.push(s);
      report.ok = false;
      input.onStep?.(s);
      return false;
    }
  };

  const created = await step("snapshot", () =>
    client.snapshot(vmid, snapshot, {
      description: "felhom-agent --selftest=task (deleted at once)",
      ...(signal ? { signal } : {}),
    }),
  );
  if (!created) {
    // A failed snapshot task can still leave a half-made snapshot (`snapstate`, docs/proxmox-behaviour.md#snapshots-and-descriptions).
    report.leftClean = !(await snapshotExists(client, vmid, snapshot));
    if (!report.leftClean) await cleanup(step, client, vmid, snapshot, report);
    return report;
  }
  const rolledBack = await step("rollback", () =>
    client.rollback(vmid, snapshot, { start: wasRunning, ...(signal ? { signal } : {}) }),
  );
  const deleted = await step("delete-snapshot", () =>
    client.deleteSnapshot(vmid, snapshot, signal ? { signal } : {}),
  );
  if (!deleted) await cleanup(step, client, vmid, snapshot, report);
  else report.leftClean = true;
  if (!rolledBack) report.ok = false;
  return report;
}

async function cleanup(
  step: (name: ExerciseStepName, post: () => Promise<string>) => Promise<boolean>,
  client: ProxmoxClient,
  vmid: number,
  snapshot: string,
  report: ExerciseReport,
): Promise<void> {
  // `force` removes the snapshot from the config even when the storage step fails.
  const ok = await step("cleanup", () => client.deleteSnapshot(vmid, snapshot, { force: true }));
  report.leftClean = ok || !(await snapshotExists(client, vmid, snapshot));
}

async function snapshotExists(client: ProxmoxClient, vmid: number, name: string): Promise<boolean> {
  try {
    const list = await client.listSnapshots(vmid);
    return list.snapshots.some((s) => s.name === name);
  } catch {
    // Unknown: report as not clean so the operator looks.
    return true;
  }
}
