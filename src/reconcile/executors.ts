import { z } from "zod";
import { ProxmoxApiError } from "../proxmox/api-error.ts";
import type { LxcConfigUpdate, ProxmoxClient } from "../proxmox/client-types.ts";
import { normalizeDescription } from "../proxmox/description.ts";
import type { ActionOp, ParamsOf } from "./actions.ts";
import { PVE_DEFAULT_MEMORY_MIB } from "./planner.ts";

export type ExecClient = Pick<
  ProxmoxClient,
  "start" | "stop" | "shutdown" | "setConfig" | "guestConfig" | "guestStatus"
>;

/**
 * How one operation kind is carried out against Proxmox. Recovery relies on `taskType` (to
 * find a task whose POST answer was lost) and `inEffect` (to learn whether a synchronous call
 * that left no task took effect), so no operation is ever re-POSTed blindly.
 */
export interface OpExecutor<K extends ActionOp> {
  /** Validates params from any origin (planner, local API, hub job); throws ZodError. */
  parseParams(raw: unknown): ParamsOf<K>;
  /** The PVE task type of the worker it forks; null for a synchronous call (FACTS B.7). */
  taskType: string | null;
  /** The POST; a UPID for a task, null when PVE answered synchronously. */
  post(
    client: ExecClient,
    vmid: number,
    params: ParamsOf<K>,
    signal?: AbortSignal,
  ): Promise<string | null>;
  /** Whether actual state already shows the change. */
  inEffect(client: ExecClient, vmid: number, params: ParamsOf<K>): Promise<boolean>;
  /** A synchronous refusal that means the guest is already as asked (FACTS B.5). */
  alreadyDone(err: unknown): boolean;
}

const empty = z.strictObject({});
const configParams = z
  .strictObject({
    cores: z.number().int().min(1).max(8192).optional(),
    memoryMiB: z.number().int().min(16).optional(),
    description: z.string().max(8192).optional(),
  })
  .refine((p) => Object.keys(p).length > 0, "guest.config needs at least one change");
const shutdownParams = z.strictObject({
  timeoutSec: z.number().int().min(0).max(3600).optional(),
  forceStop: z.boolean().optional(),
});

function syncRefusal(err: unknown, text: RegExp): boolean {
  return err instanceof ProxmoxApiError && err.status === 500 && text.test(err.pveMessage);
}

const isRunning = async (c: ExecClient, vmid: number) =>
  (await c.guestStatus(vmid)).status === "running";

/** A mapped type: adding an Action variant without an executor does not compile. */
export const EXECUTORS: { [K in ActionOp]: OpExecutor<K> } = {
  "guest.start": {
    parseParams: (raw) => empty.parse(raw) as ParamsOf<"guest.start">,
    taskType: "vzstart",
    post: (c, vmid, _p, signal) => c.start(vmid, signal ? { signal } : {}),
    inEffect: (c, vmid) => isRunning(c, vmid),
    // `CT <vmid> already running` is a synchronous 500 (FACTS B.5).
    alreadyDone: (err) => syncRefusal(err, /already running/),
  },
  "guest.stop": {
    parseParams: (raw) => empty.parse(raw) as ParamsOf<"guest.stop">,
    taskType: "vzstop",
    post: (c, vmid, _p, signal) => c.stop(vmid, signal ? { signal } : {}),
    inEffect: async (c, vmid) => !(await isRunning(c, vmid)),
    alreadyDone: (err) => syncRefusal(err, /not running/),
  },
  "guest.shutdown": {
    parseParams: (raw) => shutdownParams.parse(raw),
    taskType: "vzshutdown",
    post: (c, vmid, p, signal) =>
      c.shutdown(vmid, {
        ...(p.timeoutSec !== undefined ? { timeoutSec: p.timeoutSec } : {}),
        ...(p.forceStop !== undefined ? { forceStop: p.forceStop } : {}),
        ...(signal ? { signal } : {}),
      }),
    inEffect: async (c, vmid) => !(await isRunning(c, vmid)),
    alreadyDone: (err) => syncRefusal(err, /not running/),
  },
  "guest.config": {
    parseParams: (raw) => configParams.parse(raw) as ParamsOf<"guest.config">,
    taskType: null,
    post: (c, vmid, p, signal) => {
      const update: LxcConfigUpdate = {};
      if (p.cores !== undefined) update.cores = p.cores;
      if (p.memoryMiB !== undefined) update.memoryMiB = p.memoryMiB;
      if (p.description !== undefined) {
        // An empty description is not stored; it is removed with `delete` (FACTS B.9).
        const text = normalizeDescription(p.description);
        if (text === "") update.delete = ["description"];
        else update.description = text;
      }
      return c.setConfig(vmid, update, signal ? { signal } : {});
    },
    inEffect: async (c, vmid, p) => {
      const cfg = await c.guestConfig(vmid);
      if (p.cores !== undefined && cfg.cores !== p.cores) return false;
      if (p.memoryMiB !== undefined && (cfg.memoryMiB ?? PVE_DEFAULT_MEMORY_MIB) !== p.memoryMiB) {
        return false;
      }
      if (
        p.description !== undefined &&
        normalizeDescription(cfg.description) !== normalizeDescription(p.description)
      ) {
        return false;
      }
      return true;
    },
    alreadyDone: () => false,
  },
};
