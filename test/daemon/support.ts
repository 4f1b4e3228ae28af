import { formatSshPublicKey } from "../../src/authz/ssh-public-key.ts";
import type { Ed25519SeedKey } from "../../src/authz/sshsig.ts";
import type { StartedLocalApi } from "../../src/localapi/start.ts";
import { createProxmoxClient } from "../../src/proxmox/client.ts";
import type { ProxmoxClient } from "../../src/proxmox/client-types.ts";
import { startHubSimulator } from "../../src/sim/hub/index.ts";
import type { PveSimulator } from "../../src/sim/pve/index.ts";

type PveTarget = Pick<PveSimulator, "endpoint" | "node" | "tokens" | "fingerprint">;

/** The `proxmox` section of agent.json that points the agent at a Proxmox simulator. */
export function proxmoxSection(pve: PveTarget) {
  return {
    endpoint: pve.endpoint,
    node: pve.node,
    token: pve.tokens.agent,
    tls: { fingerprint: pve.fingerprint },
  };
}

/**
 * agent.json for the whole daemon against the Proxmox and hub simulators (enrolled beforehand
 * into `stateDir`): one-second reconcile and hub timings without jitter, local API on loopback.
 */
export function hubDaemonConfig(opts: {
  pve: PveTarget;
  stateDir: string;
  port: number;
  logLevel: "debug" | "info" | "warn" | "error";
}) {
  return {
    proxmox: proxmoxSection(opts.pve),
    state_dir: opts.stateDir,
    log: { level: opts.logLevel },
    reconcile: { interval_s: 1, jitter_pct: 0 },
    hub: { poll_interval_s: 1, jitter_pct: 0, report_interval_s: 1, backoff_max_s: 2 },
    local_api: { listen: "127.0.0.1", port: opts.port },
  };
}

/** A client for the simulator that polls tasks fast, for `runDaemon`'s `makeClient`. */
export function fastSimClient(pve: PveTarget): ProxmoxClient {
  return createProxmoxClient({
    endpoint: pve.endpoint,
    node: pve.node,
    token: pve.tokens.agent,
    trust: { kind: "fingerprint", sha256: pve.fingerprint },
    taskPoll: { initialMs: 20, factor: 1.5, maxMs: 100 },
  });
}

/** A wait that polls its probe every 50 ms until it gives a value, at most `tries` times. */
export function pollUntil(tries: number) {
  return async <T>(what: string, probe: () => T | undefined | Promise<T | undefined>) => {
    for (let i = 0; i < tries; i++) {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      await Bun.sleep(50);
    }
    throw new Error(`timed out waiting for ${what}`);
  };
}

/** A hub simulator that hands out one operational signer, `operator@example`, at enrollment. */
export function startHubWithOperator(operator: Pick<Ed25519SeedKey, "publicKey">) {
  return startHubSimulator({
    signers: [
      {
        name: "operator",
        public_key: formatSshPublicKey(operator.publicKey, "operator@example"),
        role: "operational",
      },
    ],
  });
}

/** fetch's `tls` option that trusts the daemon's local API only by its leaf's SHA-256. */
export function pinnedTls(local: StartedLocalApi | undefined) {
  return {
    ca: local?.certificate.cert,
    checkServerIdentity: (_h: string, peer: { fingerprint256?: string }) =>
      peer.fingerprint256 === local?.certificate.leafSha256 ? undefined : new Error("pin mismatch"),
  };
}
