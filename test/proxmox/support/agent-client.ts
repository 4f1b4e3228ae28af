import { createProxmoxClient } from "../../../src/proxmox/client.ts";
import type { ProxmoxClientOptions } from "../../../src/proxmox/client-types.ts";
import type { PveSimulator } from "../../../src/sim/pve/index.ts";

/** A client of `sim` with the agent's token, pinning its certificate; `more` adds options. */
export function agentClient(
  sim: PveSimulator,
  more: Omit<Partial<ProxmoxClientOptions>, "endpoint" | "node" | "token" | "trust"> = {},
) {
  return createProxmoxClient({
    endpoint: sim.endpoint,
    node: sim.node,
    token: sim.tokens.agent,
    trust: { kind: "fingerprint", sha256: sim.fingerprint },
    ...more,
  });
}
