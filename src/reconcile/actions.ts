import type { GuestConfigParams } from "../ops/params/guest-config.ts";
import type { GuestShutdownParams } from "../ops/params/guest-run.ts";
import type { OperationRequest } from "../ops/types.ts";

/**
 * What the planner can ask for: plain data, one variant per operation. Every variant has an
 * executor (executors.ts) and a request mapping below; the mapped types make a missing one a
 * compile error.
 */
export type Action =
  | { op: "guest.start"; vmid: number; params: Record<string, never>; reason: string }
  | { op: "guest.shutdown"; vmid: number; params: GuestShutdownParams; reason: string }
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
