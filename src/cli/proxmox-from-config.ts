import type { ProxmoxConfig } from "../config/proxmox-section.ts";
import type { Logger } from "../log/types.ts";
import { createProxmoxClient } from "../proxmox/client.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { Clock } from "../util/clock.ts";

/** The one place a configured Proxmox section becomes an API client. */
export function proxmoxClientFromConfig(
  cfg: ProxmoxConfig,
  deps: { logger: Logger; clock?: Clock },
): ProxmoxClient {
  return createProxmoxClient({
    endpoint: cfg.endpoint,
    node: cfg.node,
    token: `${cfg.token.id}=${cfg.token.secret}`,
    trust: cfg.tls,
    requestTimeoutMs: cfg.timeout_ms,
    logger: deps.logger,
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
}
