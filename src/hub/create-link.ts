import { join } from "node:path";
import { createEd25519 } from "../authz/ed25519.ts";
import type { Logger } from "../log/types.ts";
import type { OperationSubmitter } from "../ops/types.ts";
import type { HubJobRecord } from "../store/hub-jobs.ts";
import type { Clock } from "../util/clock.ts";
import { createHubClient } from "./client.ts";
import type { HubConfig, HubTlsTrust } from "./config-section.ts";
import type { HubIdentity } from "./identity.ts";
import { type HubJobsPort, storeJobLedger } from "./job-ledger.ts";
import { HUB_JOB_LEDGER_FILE, importJobLedgerFile } from "./job-ledger-import.ts";
import { HubLink } from "./link.ts";
import type { AuditFeedPort, DesiredCachePort, OutboxPort } from "./ports.ts";
import type { StatusReportBody } from "./report-collector.ts";
import { createHubTransport } from "./transport.ts";

export interface CreateHubLinkOptions {
  identity: HubIdentity;
  config: HubConfig;
  stateDir: string;
  /** The store's repositories: `store.desired`, `store.outbox`, `store.audit`, `store.hubJobs`. */
  store: {
    desired: DesiredCachePort;
    outbox: OutboxPort;
    audit: AuditFeedPort;
    hubJobs: HubJobsPort & { importRecords: (records: readonly HubJobRecord[]) => number };
  };
  submitter: OperationSubmitter;
  collectReport: () => Promise<StatusReportBody>;
  clock: Clock;
  logger: Logger;
}

/**
 * Builds the daemon's hub link from the enrolled identity and the `hub` config section:
 * config URL/TLS override what enrollment recorded. Call `link.run(signal)` to poll, and hand
 * `link.provider` to the reconcile engine. `close()` drops pooled connections.
 */
export async function createHubLink(o: CreateHubLinkOptions): Promise<{
  link: HubLink;
  /** Opens an update artifact's body over the same pinned transport (docs/self-update.md). */
  fetchArtifact(
    version: string,
    target: string,
    timeoutMs: number,
  ): Promise<ReadableStream<Uint8Array>>;
  close(): void;
}> {
  importLedgerFile(o);
  const baseUrl = o.config.url ?? o.identity.hub_url;
  const trust = o.config.tls ?? (await trustFromIdentity(o.identity));
  const transport = createHubTransport({
    baseUrl,
    trust,
    logger: o.logger,
    connectTimeoutMs: o.config.request_timeout_s * 1000,
  });
  const client = createHubClient({
    baseUrl,
    transport,
    ed: createEd25519(),
    clock: o.clock,
    requestTimeoutMs: o.config.request_timeout_s * 1000,
  });
  const creds = {
    hostId: o.identity.host_id,
    credential: o.identity.credential,
    seed: new Uint8Array(Buffer.from(o.identity.host_key.seed, "base64")),
  };
  const link = new HubLink({
    client,
    creds,
    desiredCache: o.store.desired,
    outbox: o.store.outbox,
    audit: o.store.audit,
    ledger: storeJobLedger(o.store.hubJobs),
    submitter: o.submitter,
    collectReport: o.collectReport,
    timing: {
      intervalMs: o.config.poll_interval_s * 1000,
      jitterPct: o.config.jitter_pct,
      backoffMaxMs: o.config.backoff_max_s * 1000,
      reportIntervalMs: o.config.report_interval_s * 1000,
    },
    auditRetentionMs: o.config.audit_retention_days * 86_400_000,
    clock: o.clock,
    logger: o.logger.child({ component: "hub" }),
  });
  return {
    link,
    fetchArtifact: (version, target, timeoutMs) =>
      client.artifact(creds, version, target, timeoutMs),
    close: () => transport.close(),
  };
}

/** Moves the ledger file of earlier builds into the store, once (job-ledger-import.ts). */
function importLedgerFile(o: CreateHubLinkOptions): void {
  const path = join(o.stateDir, HUB_JOB_LEDGER_FILE);
  const r = importJobLedgerFile(path, {
    importRecords: (records) => o.store.hubJobs.importRecords(records),
    now: o.clock.now(),
  });
  if (r.kind === "imported") {
    o.logger.info("hub job ledger file moved into the state store", {
      file: path,
      jobs: r.jobs,
      added: r.added,
      kept_at: r.keptAt,
    });
  } else if (r.kind === "invalid") {
    o.logger.error(
      "hub job ledger file could not be imported; it was kept aside and the agent goes on without it (a forgotten job is at worst submitted again under the same job id)",
      { file: path, reason: r.reason, kept_at: r.keptAt },
    );
  }
}

async function trustFromIdentity(identity: HubIdentity): Promise<HubTlsTrust> {
  const pin = identity.hub_tls;
  if (pin === undefined) return { kind: "system" };
  if ("fingerprint" in pin) return { kind: "fingerprint", sha256: pin.fingerprint };
  return { kind: "ca", caFile: pin.ca_file, caPem: await Bun.file(pin.ca_file).text() };
}
