import type { HttpMethod } from "../../proxmox/http.ts";
import type { Clock } from "../../util/clock.ts";
import type { AccessModel, Principal } from "./acl.ts";
import type { FaultSpec } from "./faults.ts";
import type { SimHostFs } from "./host-fs.ts";
import type { Random } from "./random.ts";
import type { SimState } from "./state.ts";
import type { TaskManager } from "./tasks.ts";

/** One simulator instance's services; handlers get it through the request context. */
export interface SimCore {
  node: string;
  clock: Clock;
  rng: Random;
  state: SimState;
  /** The host below Proxmox: USB disks, mounts, network servers (host-fs.ts). */
  hostFs: SimHostFs;
  tasks: TaskManager;
  access: AccessModel;
  faults(): FaultSpec;
  fingerprint: string;
  lockTimeoutMs: number;
  hostCpus: number;
  hostMemory: number;
  version: { version: string; release: string; repoid: string };
  startedAt: number;
  /** Serialized list responses keyed by caller, state version and second (see handlers/lxc-read.ts). */
  listCache: Map<string, string>;
}

export interface RequestContext {
  core: SimCore;
  who: Principal;
  /** Validated parameters, path parameters included. */
  params: Record<string, unknown>;
  method: HttpMethod;
  /** The path below /api2/json. */
  path: string;
}

/** A result with a top-level `total` beside `data` (task logs, docs/proxmox-behaviour.md#task-log). */
export class WithTotal {
  constructor(
    readonly data: unknown,
    readonly total: number,
  ) {}
}

/** `data` already serialized to JSON (cached list responses). */
export class PreSerialized {
  constructor(readonly json: string) {}
}

export type Handler = (ctx: RequestContext) => unknown | Promise<unknown>;

export type PermSpec =
  | { kind: "all" }
  /** `check()`: every privilege is needed; the first missing one is named. */
  | { kind: "check"; path: string; privs: readonly string[] }
  /** `check_any()`: one is enough; all are named joined with `|`. */
  | { kind: "any"; path: string; privs: readonly string[] }
  /** The handler checks (create, vzdump, tasks: the rule depends on the parameters). */
  | { kind: "handler" };

export interface RouteDef {
  method: HttpMethod;
  /** Schema template form: `/nodes/{node}/lxc/{vmid}/config`. */
  path: string;
  perm: PermSpec;
  /** false for endpoints with `allowtoken: 0` (docs/proxmox-behaviour.md#api-envelope-and-errors). */
  allowtoken?: boolean;
  handler: Handler;
}

export function intParam(ctx: RequestContext, name: string): number {
  const v = ctx.params[name];
  return typeof v === "number" ? v : Number.parseInt(String(v), 10);
}

export function strParam(ctx: RequestContext, name: string): string | undefined {
  const v = ctx.params[name];
  return v === undefined || v === null ? undefined : String(v);
}

/** 0/1 booleans; JSON bodies may carry true/false (docs/proxmox-behaviour.md#api-envelope-and-errors). */
export function boolParam(ctx: RequestContext, name: string): boolean {
  const v = ctx.params[name];
  return v === true || v === 1 || v === "1";
}
