import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { TaskSummary } from "../proxmox/schema-task.ts";
import type { Journal, JournalEntry } from "../store/journal.ts";

/** UPID start times are whole seconds of the host clock; allow for rounding. */
const START_SLACK_S = 2;

/**
 * The task a journal entry's POST started, when the POST's answer never reached the journal
 * (a crash, a dropped connection, a 59x). Looks for a task of the executor's type on this guest
 * that started at or after the intent and is not already claimed by another journal entry,
 * oldest first. Undefined: no such task, so the POST never ran.
 */
export async function findPostedTask(
  client: Pick<ProxmoxClient, "listTasks">,
  journal: Pick<Journal, "forGuest">,
  entry: JournalEntry,
  taskType: string,
): Promise<TaskSummary | undefined> {
  if (entry.vmid === null) return undefined;
  // `source=all`: the default (archive) leaves out running tasks.
  const tasks = await client.listTasks({
    vmid: entry.vmid,
    typefilter: taskType,
    source: "all",
    limit: 500,
  });
  const claimed = new Set(
    journal
      .forGuest(entry.vmid, 500)
      .filter((e) => e.id !== entry.id && e.upid !== null)
      .map((e) => e.upid),
  );
  const since = Math.floor(entry.createdAt / 1000) - START_SLACK_S;
  return tasks
    .filter(
      (t) =>
        t.type === taskType &&
        t.id === String(entry.vmid) &&
        t.starttime >= since &&
        !claimed.has(t.upid),
    )
    .sort((a, b) => a.starttime - b.starttime)[0];
}
