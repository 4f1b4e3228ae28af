import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalApiApp, type LocalApiApp } from "../../src/localapi/app.ts";
import type { AuditSink, GuestQuota, LocalApiLimits } from "../../src/localapi/deps.ts";
import type {
  OperationRequest,
  OperationState,
  OperationStatus,
  OperationSubmitter,
} from "../../src/ops/types.ts";
import { createProxmoxClient } from "../../src/proxmox/client.ts";
import type { ProxmoxClient } from "../../src/proxmox/client-types.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import { ManualClock } from "../support/manual-clock.ts";

/**
 * Records every submission and answers like the queue would; `decide` plays the gate (e.g. a
 * rollback to a snapshot not recorded as the agent's own is `pending_signature`).
 */
export class FakeSubmitter implements OperationSubmitter {
  readonly calls: OperationRequest[] = [];
  readonly ops = new Map<string, OperationStatus>();
  decide: (req: OperationRequest) => OperationState = () => "queued";
  private n = 0;

  async submit(req: OperationRequest): Promise<OperationStatus> {
    this.calls.push(structuredClone(req));
    const state = this.decide(req);
    const now = new Date(Date.UTC(2026, 5, 10)).toISOString();
    const status: OperationStatus = {
      id: `op-${++this.n}`,
      op: req.op,
      ...(req.vmid !== undefined ? { vmid: req.vmid } : {}),
      state,
      ...(state === "rejected" ? { reason: "binding_mismatch" } : {}),
      createdAt: now,
      updatedAt: now,
    };
    this.ops.set(status.id, status);
    return status;
  }

  status(id: string): OperationStatus | undefined {
    return this.ops.get(id);
  }
}

/** Wraps a client and records which guest each read named (proof that nothing else is read). */
export function recordingClient(inner: ProxmoxClient, seen: number[]): ProxmoxClient {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (typeof args[0] === "number") seen.push(args[0]);
        const o = args[1] as { vmid?: number } | undefined;
        if (o && typeof o === "object" && typeof o.vmid === "number") seen.push(o.vmid);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

export interface Harness {
  app: LocalApiApp;
  sim: PveSimulator;
  client: ProxmoxClient;
  store: Store;
  submitter: FakeSubmitter;
  clock: ManualClock;
  /** Token of guest 101 and of guest 103. */
  token101: string;
  token103: string;
  tokenId101: string;
  quotas: Map<number, GuestQuota>;
  backupStorage: Map<number, string>;
  readsFor: number[];
  audit: Parameters<AuditSink["append"]>[0][];
  remake(limits?: Partial<LocalApiLimits>): LocalApiApp;
  close(): Promise<void>;
}

export async function startHarness(limits: Partial<LocalApiLimits> = {}): Promise<Harness> {
  const sim = await startPveSimulator({ taskMs: 50, authFailDelayMs: 0 });
  const client = createProxmoxClient({
    endpoint: sim.endpoint,
    node: sim.node,
    token: sim.tokens.agent,
    trust: { kind: "fingerprint", sha256: sim.fingerprint },
  });
  const dir = mkdtempSync(join(tmpdir(), "felhom-localapi-"));
  const clock = new ManualClock(Date.UTC(2026, 5, 10, 8, 0, 0));
  const store = openStore({ path: join(dir, "state.db"), clock });
  const t101 = store.guestTokens.mint(101);
  const t103 = store.guestTokens.mint(103);
  const submitter = new FakeSubmitter();
  const quotas = new Map<number, GuestQuota>([
    [101, { maxCores: 4, maxMemoryMiB: 4096 }],
    [103, { maxCores: 4, maxMemoryMiB: 8192 }],
  ]);
  const backupStorage = new Map<number, string>([
    [101, "local"],
    [103, "local"],
  ]);
  const readsFor: number[] = [];
  const audit: Harness["audit"] = [];
  const make = (l: Partial<LocalApiLimits>) =>
    createLocalApiApp({
      tokens: store.guestTokens,
      submitter,
      proxmox: recordingClient(client, readsFor),
      quotas: { quotaFor: (v) => quotas.get(v) },
      backups: { backupStorageFor: (v) => backupStorage.get(v) },
      audit: { append: (e) => audit.push(e) },
      clock,
      limits: { rateLimit: { perMinute: 6000, burst: 1000 }, readCacheMs: 0, ...l },
      version: "test",
    });
  const h: Harness = {
    app: make(limits),
    sim,
    client,
    store,
    submitter,
    clock,
    token101: t101.token,
    token103: t103.token,
    tokenId101: t101.id,
    quotas,
    backupStorage,
    readsFor,
    audit,
    remake: (l = {}) => {
      h.app = make(l);
      return h.app;
    },
    close: async () => {
      store.close();
      client.close();
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

export function bearer(token: string, init: RequestInit = {}): RequestInit {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${token}`);
  return { ...init, headers };
}

export function jsonBody(method: string, body: unknown, token?: string): RequestInit {
  const init: RequestInit = {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
  return token ? bearer(token, init) : init;
}
