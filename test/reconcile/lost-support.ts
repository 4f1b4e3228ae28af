import { createProxmoxClient } from "../../src/proxmox/client.ts";
import type { ProxmoxClient } from "../../src/proxmox/client-types.ts";
import type { ClockOffsetSource } from "../../src/reconcile/clock-offset.ts";
import { Engine } from "../../src/reconcile/engine.ts";
import { Reconciler } from "../../src/reconcile/reconciler.ts";
import { actionRetry } from "../../src/reconcile/retry-book.ts";
import { unsignedGate } from "../support/unsigned-gate.ts";
import { type Rig, until } from "./support.ts";

export interface Counting {
  client: ProxmoxClient;
  starts(): number;
  looks(): number;
  clockReads(): number;
  /** Runs just before each start POST is sent. */
  beforeStart?: () => void;
}

/** The rig's client, counting the start POSTs it sends and the task-list reads. */
export function counting(real: ProxmoxClient): Counting {
  let starts = 0;
  let looks = 0;
  let clockReads = 0;
  const client = Object.create(real) as ProxmoxClient;
  const out: Counting = {
    client,
    starts: () => starts,
    looks: () => looks,
    clockReads: () => clockReads,
  };
  client.start = (vmid, o) => {
    starts++;
    out.beforeStart?.();
    return real.start(vmid, o);
  };
  client.nodeTime = (o) => {
    clockReads++;
    return real.nodeTime(o);
  };
  client.listTasks = (p) => {
    looks++;
    return real.listTasks(p);
  };
  return out;
}

/**
 * The next start POST meets `fault` (a pveproxy that hands it on late, or drops it); every
 * request after it arrived is served normally again. Resolves once that has happened.
 */
export function faultNextStart(r: Rig, c: Counting, fault: Parameters<Rig["sim"]["setFaults"]>[0]) {
  let arrivedAfter = Number.POSITIVE_INFINITY;
  c.beforeStart = () => {
    c.beforeStart = undefined;
    arrivedAfter = r.sim.requestCount;
    r.sim.setFaults(fault);
  };
  return until(() => r.sim.requestCount > arrivedAfter, "the start POST to arrive").then(() =>
    r.sim.setFaults({}),
  );
}

/** An engine and reconciler over `client`, sharing the rig's store, clock and desired state. */
export function agentOn(
  r: Rig,
  client: ProxmoxClient,
  opts: { windowMs?: number; clockOffset?: ClockOffsetSource } = {},
) {
  const engine = new Engine({
    store: r.store,
    client,
    gate: unsignedGate(r.store, r.clock),
    concurrency: 2,
    clock: r.clock,
    logger: r.logger,
    taskDeadlineMs: 20_000,
    unknownWindowMs: opts.windowMs ?? 60_000,
    ...(opts.clockOffset ? { clockOffset: opts.clockOffset } : {}),
    lostAnswerPollMs: 20,
  });
  const reconciler = new Reconciler({
    engine,
    client,
    desired: r.desired,
    clock: r.clock,
    logger: r.logger,
    readConcurrency: 2,
    retry: { ...actionRetry(3), baseMs: 0 },
  });
  return { engine, reconciler };
}

/** Runs `fn` as someone else than the agent (the simulator's root token), e.g. an operator. */
export async function asRoot(r: Rig, fn: (root: ProxmoxClient) => Promise<void>): Promise<void> {
  const root = createProxmoxClient({
    endpoint: r.sim.endpoint,
    node: r.sim.node,
    token: r.sim.tokens.root,
    trust: { kind: "fingerprint", sha256: r.sim.fingerprint },
    taskPoll: { initialMs: 20, factor: 1.5, maxMs: 100 },
  });
  try {
    await fn(root);
  } finally {
    root.close();
  }
}
