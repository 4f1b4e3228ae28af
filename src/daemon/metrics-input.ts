import type { MetricsInput } from "../health/metrics.ts";
import type { HealthMonitor } from "../health/monitor.ts";
import type { HubLinkStatus } from "../hub/link.ts";
import { gateDecisionCounts, operationCounts } from "../store/metrics-counts.ts";
import type { Store } from "../store/store.ts";

export interface PassCounters {
  passes: number;
  errors: number;
  lastPassAt?: number;
}

/** Gathers one scrape's numbers from the running daemon (docs/health.md#metrics). */
export function metricsInput(i: {
  version: string;
  store: Store;
  monitor: HealthMonitor | undefined;
  passes: PassCounters;
  hub?: () => HubLinkStatus;
  localApiRequests?: () => NonNullable<MetricsInput["localApiRequests"]>;
}): MetricsInput {
  const st = i.hub?.();
  return {
    version: i.version,
    collectors: i.monitor?.collectors() ?? [],
    snapshot: i.monitor?.snapshot() ?? {},
    alerts: i.monitor?.alerts() ?? [],
    reconcile: { ...i.passes },
    operations: operationCounts(i.store.db),
    gateDecisions: gateDecisionCounts(i.store.db),
    heldOperations: i.store.pending.list({ status: "pending", limit: 10_000 }).length,
    ...(i.localApiRequests ? { localApiRequests: i.localApiRequests() } : {}),
    ...(st
      ? {
          hub: {
            enrolled: true,
            consecutiveFailures: st.consecutiveFailures,
            ...(st.lastSuccessAt !== undefined ? { lastSuccessAt: st.lastSuccessAt } : {}),
            outboxDepth: i.store.outbox.size(),
          },
        }
      : {}),
  };
}
