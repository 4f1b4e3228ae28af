import { formatUpid } from "../../../src/proxmox/upid.ts";
import { type FixtureReply, ok } from "./fixture-server.ts";

export interface ScriptedTask {
  upid: string;
  /** Status polls answered `running` before the task stops. */
  runningPolls: number;
  /** Polls answered 400 `no such task` first (task not yet visible). */
  invisiblePolls?: number;
  exitstatus: string;
  log: string[];
}

export function makeUpid(
  type: string,
  id: string,
  user = "agent@pve!felhom",
  starttime = 1_700_000_000,
): string {
  return formatUpid({ node: "pve", pid: 0x1234, pstart: 0xabcdef, starttime, type, id, user });
}

/** Answers task status and log requests like PVE, following a script (docs/proxmox-behaviour.md#task-status, docs/proxmox-behaviour.md#task-log). */
export function taskRoutes(task: ScriptedTask) {
  let polls = 0;
  const userOf = task.upid.split(":")[7] ?? "";
  const [user, tokenid] = userOf.split("!");
  return {
    statusPolls: () => polls,
    status(): FixtureReply {
      polls++;
      if (polls <= (task.invisiblePolls ?? 0)) {
        return {
          status: 400,
          statusText: "Parameter verification failed.",
          json: {
            data: null,
            errors: { upid: "no such task" },
            message: "Parameter verification failed.\n",
          },
        };
      }
      const stopped = polls > (task.invisiblePolls ?? 0) + task.runningPolls;
      return ok({
        upid: task.upid,
        node: "pve",
        pid: 4660,
        pstart: 11259375,
        starttime: 1700000000,
        type: task.upid.split(":")[5],
        id: task.upid.split(":")[6],
        user,
        ...(tokenid ? { tokenid } : {}),
        status: stopped ? "stopped" : "running",
        ...(stopped ? { exitstatus: task.exitstatus } : {}),
      });
    },
    log(query: URLSearchParams): FixtureReply {
      const start = Number(query.get("start") ?? 0);
      const limit = Number(query.get("limit") ?? 50);
      const lines = task.log.length === 0 ? ["no content"] : task.log;
      const page = lines
        .slice(start, limit === 0 ? undefined : start + limit)
        .map((t, i) => ({ n: start + i + 1, t }));
      return ok(page, { total: task.log.length });
    },
  };
}
