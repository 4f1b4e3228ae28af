import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createEd25519 } from "../../authz/ed25519.ts";
import type { GuestRef } from "../../authz/envelope.ts";
import type { OpName } from "../../authz/operations.ts";
import { buildPayload, signEnvelope } from "../../authz/sign.ts";
import { ed25519PublicKeyFromRaw, formatSshPublicKey } from "../../authz/ssh-public-key.ts";
import type { Ed25519SeedKey } from "../../authz/sshsig.ts";
import type { AgentReady } from "../../daemon/agent-daemon.ts";
import { enrollHost } from "../../hub/enroll.ts";
import type { HubIdentity } from "../../hub/identity.ts";
import type { JobResult } from "../../hub/protocol.ts";
import { acceptExactly } from "../../hub/signer-acceptance.ts";
import { createProxmoxClient } from "../../proxmox/client.ts";
import { type HubSimulator, startHubSimulator } from "../../sim/hub/index.ts";
import { openStore } from "../../store/open.ts";
import type { Store } from "../../store/store.ts";
import { freeLoopbackPort } from "../../util/free-port.ts";
import type { DemoEnv } from "../types.ts";

/** What the daemon steps share: built by the first step, torn down by `env.defer`. */
export interface Live {
  hub: HubSimulator;
  identity: HubIdentity;
  operator: Ed25519SeedKey;
  stateDir: string;
  guestToken: string;
  agent: AgentReady;
  logs: string[];
  /** Rollback tasks on the guest before the hub job arrived. */
  rollbacksBefore?: number;
}

/** The guest whose controller uses the local API in the daemon steps. */
export const GUEST = 101;
export const ed = createEd25519();

/** Polls `probe` every `everyMs` until it gives a value, for at most 30 s. */
export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  everyMs = 50,
): Promise<T> {
  for (let waited = 0; waited < 30_000; waited += everyMs) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    await Bun.sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function need(live: Live | undefined): Live {
  if (!live) throw new Error("the daemon did not start in the first step");
  return live;
}

/** A request to the local API as a guest's controller makes it: bearer token, pinned leaf. */
export async function asController(
  live: Live,
  token: string,
  method: string,
  path: string,
  body?: unknown,
) {
  const local = live.agent.localApi;
  if (!local) throw new Error("the local API is not running");
  const res = await fetch(`${local.server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    tls: {
      ca: local.certificate.cert,
      checkServerIdentity: (_h: string, peer: { fingerprint256?: string }) =>
        peer.fingerprint256 === local.certificate.leafSha256
          ? undefined
          : new Error("local API pin mismatch"),
    },
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed as Record<string, unknown> };
}

/** A request to the local API by the demo guest's controller. */
export function asGuest(live: Live, method: string, path: string, body?: unknown) {
  return asController(live, live.guestToken, method, path, body);
}

/** Polls the operation as a controller would: gently, since every token is rate limited. */
export async function settle(live: Live, id: string): Promise<Record<string, unknown>> {
  return until(
    `operation ${id}`,
    async () => {
      const r = await asGuest(live, "GET", `/v1/self/operations/${id}`);
      const state = r.body.state;
      return state === "done" || state === "failed" ? r.body : undefined;
    },
    250,
  );
}

export const opId = (body: Record<string, unknown>) => (body.operation as { id: string }).id;

/** Waits for the hub to have received `state` for `jobId`. */
export function hubResult(live: Live, jobId: string, state: JobResult["state"]) {
  return until(`hub job ${jobId} reported ${state}`, () =>
    live.hub.state.results.find((r) => r.job_id === jobId && r.state === state),
  );
}

/** Queues a hub job carrying the operator's envelope, bound to this host and this job. */
export async function addSignedJob(
  env: DemoEnv,
  live: Live,
  job: { id: string; op: OpName; guest?: GuestRef; params: Record<string, unknown> },
): Promise<void> {
  const payload = buildPayload({
    op: job.op,
    host: live.identity.host_id,
    ...(job.guest ? { guest: job.guest } : {}),
    params: job.params,
    job: job.id,
    now: Math.floor(env.io.clock.now() / 1000),
    ttlSeconds: 600,
  });
  live.hub.addJob(
    {
      id: job.id,
      op: job.op,
      ...(job.guest ? { vmid: job.guest.vmid } : {}),
      params: job.params,
      envelope: await signEnvelope(ed, live.operator, payload),
    },
    live.identity.host_id,
  );
}

/** The daemon's store opened beside it, as `felhom-agent token mint` opens it. */
export function withAgentStore<T>(live: Live, fn: (store: Store) => T): T {
  const store = openStore({ path: join(live.stateDir, "state.db"), exclusive: false });
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

/** Enrolls with a fresh hub simulator and starts `felhom-agent run` against both simulators. */
export async function startAgent(env: DemoEnv): Promise<Live> {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const operator: Ed25519SeedKey = {
    seed,
    publicKey: ed25519PublicKeyFromRaw(await ed.publicKey(seed)),
    comment: "operator@demo",
  };
  const hub = await startHubSimulator({
    signers: [
      {
        name: "operator",
        public_key: formatSshPublicKey(operator.publicKey, operator.comment),
        role: "operational",
      },
    ],
  });
  env.defer(() => hub.stop());
  const stateDir = join(env.workDir, "agent-state");
  const identity = await enrollHost({
    hubUrl: hub.url,
    code: hub.issueCode(),
    force: false,
    identityPath: join(stateDir, "hub-identity.json"),
    trust: { kind: "fingerprint", sha256: hub.fingerprint },
    pin: { fingerprint: hub.fingerprint },
    agentVersion: "demo",
    clock: env.io.clock,
    logger: env.logger,
    // The operator accepts exactly the key they hold, as `enroll --accept-signers` does.
    acceptSigners: acceptExactly([operator.publicKey.fingerprint]),
  });
  const store = openStore({ path: join(stateDir, "state.db"), exclusive: false });
  const guestToken = store.guestTokens.mint(GUEST).token;
  store.close();
  hub.setDesired(
    {
      version: 1,
      guests: { "101": { max_cores: 4, max_memory_mib: 4096 }, "103": { cores: 3 } },
      backup_storage: "local",
    },
    identity.host_id,
  );
  const configPath = join(env.workDir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      proxmox: {
        endpoint: env.sim.endpoint,
        node: env.sim.node,
        token: env.sim.tokens.agent,
        tls: { fingerprint: env.sim.fingerprint },
      },
      state_dir: stateDir,
      log: { level: "info" },
      reconcile: { interval_s: 1, jitter_pct: 0 },
      hub: { poll_interval_s: 1, jitter_pct: 0, report_interval_s: 1, backoff_max_s: 2 },
      local_api: { listen: "127.0.0.1", port: await freeLoopbackPort() },
    }),
    { mode: 0o600 },
  );
  const logs: string[] = [];
  const stop = new AbortController();
  let ready: AgentReady | undefined;
  const exit = env.io.runAgent({
    configPath,
    stderr: (t) => {
      logs.push(t);
      env.io.logSink(t.trimEnd());
    },
    signal: stop.signal,
    clock: env.io.clock,
    makeClient: () =>
      createProxmoxClient({
        endpoint: env.sim.endpoint,
        node: env.sim.node,
        token: env.sim.tokens.agent,
        trust: { kind: "fingerprint", sha256: env.sim.fingerprint },
        taskPoll: { initialMs: 50, factor: 1.5, maxMs: 300 },
      }),
    onReady: (r) => {
      ready = r;
    },
  });
  env.defer(async () => {
    stop.abort();
    await exit;
  });
  const agent = await until("the daemon to be ready", async () => {
    if (ready) return ready;
    // A daemon that exits before it is ready (bad config) would otherwise be waited on forever.
    const early = await Promise.race([exit, Bun.sleep(0).then(() => undefined)]);
    if (early !== undefined) throw new Error(`the daemon exited with ${early}: ${logs.join("")}`);
    return undefined;
  });
  return { hub, identity, operator, stateDir, guestToken, agent, logs };
}
