import { join } from "node:path";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import { createHubClient } from "../../src/hub/client.ts";
import { enrollHost } from "../../src/hub/enroll.ts";
import type { HubIdentity } from "../../src/hub/identity.ts";
import { storeJobLedger } from "../../src/hub/job-ledger.ts";
import { HubLink } from "../../src/hub/link.ts";
import type { StatusReportBody } from "../../src/hub/report-collector.ts";
import { acceptExactly, offeredSigners } from "../../src/hub/signer-acceptance.ts";
import { createHubTransport } from "../../src/hub/transport.ts";
import { silentLogger } from "../../src/log/types.ts";
import type { OperationSubmitter } from "../../src/ops/types.ts";
import type { HubSimulator } from "../../src/sim/hub/index.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { systemClock } from "../../src/util/clock.ts";
import { type LogRecord, recordingLogger } from "../proxmox/support/recording-logger.ts";

export function fakeReport(now = Date.now()): StatusReportBody {
  return {
    at: new Date(now).toISOString(),
    agent: { version: "0.0.0-test" },
    host: { node: "pve1", reachable: true },
    storage: [{ id: "local", type: "dir", active: true, enabled: true }],
    guests: [{ vmid: 101, status: "running", cores: 2, memory_mib: 2048 }],
    reconcile: { failures: 0 },
    pending_signatures: [],
  };
}

export async function enrollIn(sim: HubSimulator, dir: string): Promise<HubIdentity> {
  return enrollHost({
    hubUrl: sim.url,
    code: sim.issueCode(),
    force: false,
    identityPath: join(dir, "hub-identity.json"),
    trust: { kind: "fingerprint", sha256: sim.fingerprint },
    pin: { fingerprint: sim.fingerprint },
    agentVersion: "0.0.0-test",
    clock: systemClock,
    logger: silentLogger,
    // The tests set the simulator's signers themselves; accept exactly those.
    acceptSigners: acceptExactly(offeredSigners(sim.state.signers).map((s) => s.fingerprint)),
  });
}

export interface LinkHarness {
  link: HubLink;
  store: Store;
  logs: LogRecord[];
  close(): void;
}

/** One agent process's hub link; call again on the same dir to simulate a restart. */
export async function openLink(
  sim: HubSimulator,
  dir: string,
  identity: HubIdentity,
  submitter: OperationSubmitter,
  opts: {
    reportIntervalMs?: number;
    requestTimeoutMs?: number;
    intervalMs?: number;
    auditRetentionMs?: number;
  } = {},
): Promise<LinkHarness> {
  const store = openStore({ path: join(dir, "state.db") });
  const logger = recordingLogger();
  const transport = createHubTransport({
    baseUrl: sim.url,
    trust: { kind: "fingerprint", sha256: sim.fingerprint },
    logger,
    connectTimeoutMs: 2000,
  });
  const client = createHubClient({
    baseUrl: sim.url,
    transport,
    ed: createEd25519(),
    clock: systemClock,
    requestTimeoutMs: opts.requestTimeoutMs ?? 2000,
  });
  const link = new HubLink({
    client,
    creds: {
      hostId: identity.host_id,
      credential: identity.credential,
      seed: new Uint8Array(Buffer.from(identity.host_key.seed, "base64")),
    },
    desiredCache: store.desired,
    outbox: store.outbox,
    audit: store.audit,
    ledger: storeJobLedger(store.hubJobs),
    submitter,
    collectReport: async () => fakeReport(),
    timing: {
      intervalMs: opts.intervalMs ?? 1000,
      jitterPct: 0,
      backoffMaxMs: 8000,
      reportIntervalMs: opts.reportIntervalMs ?? 3_600_000,
    },
    ...(opts.auditRetentionMs !== undefined ? { auditRetentionMs: opts.auditRetentionMs } : {}),
    clock: systemClock,
    logger,
    random: () => 0.5,
  });
  return {
    link,
    store,
    logs: logger.records,
    close() {
      transport.close();
      store.close();
    },
  };
}
