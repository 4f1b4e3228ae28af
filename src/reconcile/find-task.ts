import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { TaskSummary } from "../proxmox/schema-task.ts";
import { parseUpid } from "../proxmox/upid.ts";
import type { Journal, JournalEntry } from "../store/journal.ts";
import type { ClockOffset } from "./clock-offset.ts";

/**
 * The earliest start time, in the node's whole seconds, that a task started by this entry's
 * POST can carry. The intent is written before the POST, so the task started at or after
 * `createdAt` on our clock, which is `createdAt + offset` on the node's, give or take the
 * offset's uncertainty; the UPID's start time is that instant floored to the second
 * (docs/proxmox-behaviour.md#upid-starttime).
 */
export function earliestStartSec(createdAt: number, offset: ClockOffset): number {
  return Math.floor((createdAt + offset.offsetMs - offset.uncertaintyMs) / 1000);
}

/**
 * The task a journal entry's POST started, when the POST's answer never reached the journal
 * (a crash, a dropped connection, a 59x). Looks for a task of the executor's type on this guest,
 * started by our own token, at or after the intent (on the node's clock,
 * docs/reconcile.md#clock-offset), and not already claimed by another journal entry, oldest
 * first. Undefined: no such task is
 * listed yet, which alone does not prove the POST never ran (docs/reconcile.md#lost-answers).
 */
export async function findPostedTask(
  client: Pick<ProxmoxClient, "listTasks" | "tokenId">,
  journal: Pick<Journal, "forGuest">,
  entry: JournalEntry,
  taskType: string,
  offset: ClockOffset,
): Promise<TaskSummary | undefined> {
  if (entry.vmid === null) return undefined;
  const since = earliestStartSec(entry.createdAt, offset);
  // `source=all`: the default (archive) leaves out running tasks; `since` is compared with
  // the start time in the UPID, the node's clock (docs/proxmox-behaviour.md#task-list).
  const tasks = await client.listTasks({
    vmid: entry.vmid,
    typefilter: taskType,
    source: "all",
    since,
    limit: 500,
  });
  const claimed = new Set(
    journal
      .forGuest(entry.vmid, 500)
      .filter((e) => e.id !== entry.id && e.upid !== null)
      .map((e) => e.upid),
  );
  return tasks
    .filter(
      (t) =>
        t.type === taskType &&
        t.id === String(entry.vmid) &&
        t.starttime >= since &&
        startedBy(t.upid) === client.tokenId &&
        !claimed.has(t.upid),
    )
    .sort((a, b) => a.starttime - b.starttime)[0];
}

/**
 * The full `user@realm!tokenid` that started a task, from its UPID: the list shows a token's
 * task with `user` and `tokenid` split (docs/proxmox-behaviour.md#task-owner), the UPID keeps it
 * whole. A task someone else started (an operator in the GUI) can never be our POST's.
 */
function startedBy(upid: string): string | undefined {
  try {
    return parseUpid(upid).user;
  } catch {
    return undefined;
  }
}
