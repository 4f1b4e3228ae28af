import type { AddressInfo } from "node:net";
import { pemFingerprint } from "../../tls/fingerprint.ts";
import { createSelfSignedCert } from "../../tls/self-signed.ts";
import { type Clock, systemClock } from "../../util/clock.ts";
import { AccessModel } from "./acl.ts";
import type { SimCore } from "./context.ts";
import { type FaultSpec, faultSpec, parseFaultSpec } from "./faults.ts";
import { SimHostFs } from "./host-fs.ts";
import { seededRandom } from "./random.ts";
import { Router } from "./router.ts";
import { ROUTE_DEFS } from "./routes.ts";
import { defaultSeed, type PveSeed } from "./seed.ts";
import { createApiServer, type ServerStats } from "./server.ts";
import { type CtGuest, SimState, type SimStorage } from "./state.ts";
import { type SimTask, TaskManager } from "./tasks.ts";

export type { Principal, SimToken } from "./acl.ts";
export { AccessModel } from "./acl.ts";
export type { CtConfig } from "./ct-config.ts";
export { FAULT_SPEC_HELP, type FaultSpec, FaultSpecError, parseFaultSpec } from "./faults.ts";
export { SimHostFs } from "./host-fs.ts";
export {
  DEBIAN_TEMPLATE,
  type DefaultSeedOptions,
  defaultSeed,
  FELHOM_AGENT_PRIVILEGES,
  GOLDEN_ARCHIVE,
  type PveSeed,
  pveSeedSchema,
} from "./seed.ts";
export type { ServerStats } from "./server.ts";
export type { CtGuest, CtSnapshot, SimStorage, SimVolume } from "./state.ts";
export type { SimTask } from "./tasks.ts";

export interface PveSimOptions {
  /** Default 127.0.0.1:0 (a free port). */
  listen?: { hostname?: string; port?: number };
  /** Default: defaultSeed(). */
  seed?: PveSeed;
  /** Task duration in ms (default 1500), or per task type with `default` as the fallback. */
  taskMs?: number | Record<string, number>;
  /** PVE delays every 401 by 3 s (docs/proxmox-behaviour.md#api-envelope-and-errors); default 3000. */
  authFailDelayMs?: number;
  /** The config flock timeout (10 s in PVE, docs/proxmox-behaviour.md#locks); default 10000. */
  lockTimeoutMs?: number;
  /** A SPEC string (see FAULT_SPEC_HELP) or a partial spec. */
  faults?: string | Partial<FaultSpec>;
  /** The host below Proxmox, shared with a fake privileged runner; a fresh one when absent. */
  hostFs?: SimHostFs;
  /** PEM certificate and key; default a fresh self-signed one for 127.0.0.1 and localhost. */
  tls?: { cert: string; key: string };
  clock?: Clock;
  /** Seed of the random source behind faults and MACs; default 1. */
  randomSeed?: number;
}

export interface SimTokens {
  agent: string;
  noacl: string;
  root: string;
  /** Every seeded token by its seed `key`. */
  all: Readonly<Record<string, string>>;
}

/** Read access to the simulated host; every call first completes tasks whose time is up. */
export interface SimStateView {
  guest(vmid: number): CtGuest | undefined;
  guests(): CtGuest[];
  storage(id: string): SimStorage | undefined;
  tasks(): readonly SimTask[];
  task(upid: string): SimTask | undefined;
  /** Users, tokens, roles, ACL; call `changed()` after editing in place. */
  access: AccessModel;
}

export interface PveSimulator {
  endpoint: string;
  node: string;
  /** SHA-256 of the leaf certificate, `AA:BB:…` (what GET /nodes shows, docs/proxmox-behaviour.md#ssl-fingerprint). */
  fingerprint: string;
  certPem: string;
  tokens: SimTokens;
  state: SimStateView;
  /** USB disks, mounts and network servers: `unplug`, `setServerOnline`, and `runner()`. */
  hostFs: SimHostFs;
  readonly faults: FaultSpec;
  setFaults(spec: string | Partial<FaultSpec>): void;
  readonly requestCount: number;
  stats(): ServerStats;
  stop(): Promise<void>;
}

const VERSION = { version: "9.1.4", release: "9.1", repoid: "5d3a7c2b9e8f1a04" };

function durations(taskMs: PveSimOptions["taskMs"]): (type: string) => number {
  if (taskMs === undefined || typeof taskMs === "number") {
    const ms = taskMs ?? 1500;
    return () => ms;
  }
  const fallback = taskMs.default ?? 1500;
  return (type) => taskMs[type] ?? fallback;
}

/** Starts a stateful PVE 9.1 API simulator over HTTPS on loopback (docs/architecture.md#proxmox-simulator). */
export async function startPveSimulator(opts: PveSimOptions = {}): Promise<PveSimulator> {
  const seed = opts.seed ?? defaultSeed();
  const clock = opts.clock ?? systemClock;
  const hostname = opts.listen?.hostname ?? "127.0.0.1";
  const tls =
    opts.tls ??
    (await createSelfSignedCert({
      commonName: seed.node,
      altNames: [...new Set([hostname, "127.0.0.1", "localhost", seed.node])],
    }));
  const fingerprint = pemFingerprint(tls.cert);
  let faults =
    typeof opts.faults === "string" ? parseFaultSpec(opts.faults) : faultSpec(opts.faults);
  const access = AccessModel.fromSeed(seed.access, () => crypto.randomUUID());
  const lockTimeoutMs = opts.lockTimeoutMs ?? 10_000;
  const startedAt = clock.now();
  let state: SimState | undefined;
  const tasks = new TaskManager({
    node: seed.node,
    now: () => clock.now(),
    faults: () => faults,
    durationMs: durations(opts.taskMs),
    lockTimeoutMs,
    onChange: () => state?.touch(),
  });
  state = new SimState(seed, startedAt, () => tasks.nextPid());
  const hostFs = opts.hostFs ?? new SimHostFs();
  const core: SimCore = {
    node: seed.node,
    clock,
    rng: seededRandom(opts.randomSeed ?? 1),
    state,
    hostFs,
    tasks,
    access,
    faults: () => faults,
    fingerprint,
    lockTimeoutMs,
    hostCpus: seed.cpus ?? 8,
    hostMemory: seed.memory ?? 64 * 1024 ** 3,
    version: seed.version ?? VERSION,
    startedAt,
    listCache: new Map(),
  };
  const stats: ServerStats = { requests: 0, byStatus: {}, dropped: 0, applied: {} };
  const abort = new AbortController();
  const server = createApiServer(
    {
      core,
      router: new Router(ROUTE_DEFS),
      authFailDelayMs: opts.authFailDelayMs ?? 3000,
      stats,
      signal: abort.signal,
    },
    tls,
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.listen?.port ?? 0, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;

  const all: Record<string, string> = {};
  for (const t of access.tokens.values()) all[t.key] = `${t.userid}!${t.tokenid}=${t.secret}`;
  const advance = () => tasks.advance(clock.now());
  const s = state;
  let stopped: Promise<void> | undefined;

  return {
    endpoint: `https://${host}:${port}`,
    node: seed.node,
    fingerprint,
    certPem: tls.cert,
    tokens: { agent: all.agent ?? "", noacl: all.noacl ?? "", root: all.root ?? "", all },
    state: {
      guest: (vmid) => {
        advance();
        return s.guests.get(vmid);
      },
      guests: () => {
        advance();
        return [...s.guests.values()];
      },
      storage: (id) => {
        advance();
        return s.storages.get(id);
      },
      tasks: () => {
        advance();
        return tasks.list();
      },
      task: (upid) => {
        advance();
        return tasks.get(upid);
      },
      access,
    },
    hostFs,
    get faults() {
      return faults;
    },
    setFaults(spec) {
      faults = typeof spec === "string" ? parseFaultSpec(spec) : faultSpec(spec);
    },
    get requestCount() {
      return stats.requests;
    },
    stats: () => ({ ...stats, byStatus: { ...stats.byStatus }, applied: { ...stats.applied } }),
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        abort.abort();
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
      return stopped;
    },
  };
}

/** Every endpoint the simulator serves, in schema template form. */
export const PVE_ROUTES: ReadonlyArray<{ method: string; path: string }> = ROUTE_DEFS.map((r) => ({
  method: r.method,
  path: r.path,
}));
