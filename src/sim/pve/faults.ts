/**
 * Fault injection: what can go wrong between a Proxmox client and pveproxy, switchable at start
 * (`--faults SPEC`) and at run time. Rates are probabilities per request, drawn from the
 * simulator's seeded random source so a test run is reproducible.
 */
export interface FaultSpec {
  /** Added before every response, in ms. */
  latencyMs: number;
  /** Probability of a 500 before the handler runs (nothing changes). */
  http500: number;
  /**
   * Probability of a 596 before the handler runs: pveproxy's hop to pvedaemon failed
   * (docs/proxmox-behaviour.md#api-envelope-and-errors, 595–599).
   */
  http596: number;
  /** Probability that the connection is closed with no response, before the handler runs. */
  drop: number;
  /**
   * Probability that the handler runs (the change happens) and then the connection is closed
   * with no response: the client cannot know whether a mutating call took effect (docs/proxmox-behaviour.md#api-envelope-and-errors).
   */
  dropAfter: number;
  /** Task types (`vzsnapshot`, `vzstart`, …) whose tasks fail. */
  taskFail: string[];
  /** Task types whose tasks never finish. */
  hang: string[];
  /** Task types whose tasks end `WARNINGS: 1`. */
  warn: string[];
  /** VMIDs whose config flock is held by someone else, so every locker times out (docs/proxmox-behaviour.md#locks). */
  lockWait: number[];
}

export const NO_FAULTS: FaultSpec = Object.freeze({
  latencyMs: 0,
  http500: 0,
  http596: 0,
  drop: 0,
  dropAfter: 0,
  taskFail: [],
  hang: [],
  warn: [],
  lockWait: [],
}) as FaultSpec;

export const FAULT_SPEC_HELP = `Fault SPEC: comma-separated key=value items; list values join with '+', and a
repeated list key adds to the list.
  latency=50ms        delay every response (ms; a bare number is ms, 's' suffix for seconds)
  http500=0.1         probability of a 500 before the handler runs
  http596=0.05        probability of a 596 (pveproxy -> pvedaemon hop failed)
  drop=0.02           probability of closing the connection without a response
  dropafter=0.02      probability of running the request, then closing without a response
  taskfail=vzsnapshot tasks of these types fail (e.g. taskfail=vzsnapshot+vzdump)
  hang=vzstart        tasks of these types never finish
  warn=vzdump         tasks of these types end 'WARNINGS: 1'
  lockwait=101        the config lock of these CTs is held elsewhere (e.g. lockwait=101+102)
Example: latency=50ms,http500=0.1,http596=0.05,drop=0.02,taskfail=vzsnapshot,hang=vzstart,lockwait=101`;

export class FaultSpecError extends Error {
  override readonly name = "FaultSpecError";
  constructor(
    readonly item: string,
    readonly reason: string,
  ) {
    super(`invalid fault '${item}': ${reason}`);
  }
}

const RATE_KEYS = {
  http500: "http500",
  http596: "http596",
  drop: "drop",
  dropafter: "dropAfter",
} as const;
const LIST_KEYS = { taskfail: "taskFail", hang: "hang", warn: "warn" } as const;
const TASK_TYPE = /^[a-z][a-z0-9-]*$/;

/** Parses a fault SPEC (grammar in FAULT_SPEC_HELP). Throws FaultSpecError naming the item. */
export function parseFaultSpec(spec: string): FaultSpec {
  const out: FaultSpec = { ...NO_FAULTS, taskFail: [], hang: [], warn: [], lockWait: [] };
  for (const raw of spec.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq < 1) throw new FaultSpecError(item, "expected key=value");
    const key = item.slice(0, eq).trim().toLowerCase();
    const value = item.slice(eq + 1).trim();
    if (key === "latency") {
      const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value);
      if (!m) throw new FaultSpecError(item, "expected a duration such as 50ms or 1s");
      out.latencyMs = Number(m[1]) * (m[2] === "s" ? 1000 : 1);
    } else if (key in RATE_KEYS) {
      const n = Number(value);
      if (value === "" || !Number.isFinite(n) || n < 0 || n > 1) {
        throw new FaultSpecError(item, "expected a probability between 0 and 1");
      }
      out[RATE_KEYS[key as keyof typeof RATE_KEYS]] = n;
    } else if (key in LIST_KEYS) {
      const names = value.split("+").map((s) => s.trim());
      for (const name of names) {
        if (!TASK_TYPE.test(name)) throw new FaultSpecError(item, `'${name}' is not a task type`);
      }
      out[LIST_KEYS[key as keyof typeof LIST_KEYS]].push(...names);
    } else if (key === "lockwait") {
      for (const v of value.split("+")) {
        if (!/^\d{3,9}$/.test(v.trim())) throw new FaultSpecError(item, `'${v}' is not a VMID`);
        out.lockWait.push(Number(v.trim()));
      }
    } else {
      throw new FaultSpecError(item, `unknown key '${key}'`);
    }
  }
  return out;
}

/** Completes a partial spec given in code. */
export function faultSpec(partial: Partial<FaultSpec> = {}): FaultSpec {
  return {
    ...NO_FAULTS,
    ...partial,
    taskFail: [...(partial.taskFail ?? [])],
    hang: [...(partial.hang ?? [])],
    warn: [...(partial.warn ?? [])],
    lockWait: [...(partial.lockWait ?? [])],
  };
}
