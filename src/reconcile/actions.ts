import type { OperationRequest } from "../ops/types.ts";

/** `guest.config` changes this module makes: the benign, hot-pluggable keys (docs/proxmox-behaviour.md#sync-and-async-endpoints). */
export interface GuestConfigParams {
  cores?: number;
  memoryMiB?: number;
  /** `""` removes it: an empty description is not stored by PVE (docs/proxmox-behaviour.md#snapshots-and-descriptions). */
  description?: string;
  swapMiB?: number;
  /** Keys to remove: `description`, or `env` once the bootstrap code was traded (docs/architecture.md#provisioning-constraints). */
  delete?: ("description" | "env")[];
  /** Refuse the change if the config changed since this digest was read. */
  digest?: string;
}

export interface ShutdownParams {
  /** Seconds PVE waits for the guest to power off. */
  timeoutSec?: number;
  /** Stop hard when the timeout passes, so the desired state is reached. */
  forceStop?: boolean;
}

/**
 * What the planner can ask for: plain data, one variant per operation. Every variant has an
 * executor (executors.ts) and a request mapping below; the mapped types make a missing one a
 * compile error.
 */
export type Action =
  | { op: "guest.start"; vmid: number; params: Record<string, never>; reason: string }
  | { op: "guest.shutdown"; vmid: number; params: ShutdownParams; reason: string }
  | { op: "guest.stop"; vmid: number; params: Record<string, never>; reason: string }
  | { op: "guest.config"; vmid: number; params: GuestConfigParams; reason: string };

export type ActionOp = Action["op"];
export type ActionOf<K extends ActionOp> = Extract<Action, { op: K }>;
export type ParamsOf<K extends ActionOp> = ActionOf<K>["params"];

export const ACTION_OPS: readonly ActionOp[] = [
  "guest.start",
  "guest.shutdown",
  "guest.stop",
  "guest.config",
];

export function isActionOp(op: string): op is ActionOp {
  return (ACTION_OPS as readonly string[]).includes(op);
}

/** Background work from the reconciler; the local API and operators use the priority lane. */
export function actionToRequest(action: Action): OperationRequest {
  return {
    op: action.op,
    vmid: action.vmid,
    params: { ...action.params },
    origin: "reconcile",
    priority: "background",
  };
}

/** One line for logs and the demo: `guest.config 101 {"cores":4} (cores 2 -> 4)`. */
export function describeAction(action: Action): string {
  const params = Object.keys(action.params).length > 0 ? ` ${JSON.stringify(action.params)}` : "";
  return `${action.op} ${action.vmid}${params} (${action.reason})`;
}
