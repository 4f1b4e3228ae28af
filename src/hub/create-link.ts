import { join } from "node:path";
import { createEd25519 } from "../authz/ed25519.ts";
import type { Logger } from "../log/types.ts";
import type { OperationSubmitter } from "../ops/types.ts";
import type { Clock } from "../util/clock.ts";
import { createHubClient } from "./client.ts";
import type { HubConfig, HubTlsTrust } from "./config-section.ts";
import type { HubIdentity } from "./identity.ts";
import { fileJobLedger } from "./job-ledger.ts";
import { HubLink } from "./link.ts";
import type { AuditFeedPort, DesiredCachePort, OutboxPort } from "./ports.ts";
import type { StatusReportBody } from "./report-collector.ts";
import { createHubTransport } from "./transport.ts";

export const HUB_JOB_LEDGER_FILE = "hub-jobs.json";

export interface CreateHubLinkOptions {
  identity: HubIdentity;
  config: HubConfig;
  stateDir: string;
  /** The store's repositories: `store.desired`, `store.outbox`, `store.audit`. */
  store: { desired: DesiredCachePort; outbox: OutboxPort; audit: AuditFeedPort };
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
export async function createHubLink(
  o: CreateHubLinkOptions,
): Promise<{ link: HubLink; close(): void }> {
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
  const link = new HubLink({
    client,
    creds: {
      hostId: o.identity.host_id,
      credential: o.identity.credential,
      seed: new Uint8Array(Buffer.from(o.identity.host_key.seed, "base64")),
    },
    desiredCache: o.store.desired,
    outbox: o.store.outbox,
    audit: o.store.audit,
    ledger: await fileJobLedger(join(o.stateDir, HUB_JOB_LEDGER_FILE)),
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
  return { link, close: () => transport.close() };
}

async function trustFromIdentity(identity: HubIdentity): Promise<HubTlsTrust> {
  const pin = identity.hub_tls;
  if (pin === undefined) return { kind: "system" };
  if ("fingerprint" in pin) return { kind: "fingerprint", sha256: pin.fingerprint };
  return { kind: "ca", caFile: pin.ca_file, caPem: await Bun.file(pin.ca_file).text() };
}
