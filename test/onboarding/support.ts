import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBootstrapRedeemer } from "../../src/daemon/bootstrap-redeemer.ts";
import { BootstrapSecrets } from "../../src/daemon/bootstrap-secrets.ts";
import type { ProvisionDeps } from "../../src/daemon/provisioning.ts";
import { createLocalApiApp } from "../../src/localapi/app.ts";
import {
  ensureLocalApiCertificate,
  type LocalApiCertificate,
} from "../../src/localapi/certificate.ts";
import { type LocalApiServer, startLocalApiServer } from "../../src/localapi/server.ts";
import { silentLogger } from "../../src/log/types.ts";
import type { PveSimOptions } from "../../src/sim/pve/index.ts";
import { GOLDEN_ARCHIVE } from "../../src/sim/pve/seed.ts";
import { Rig } from "../reconcile/support.ts";

export { GOLDEN_ARCHIVE };

/**
 * A simulator, the agent's store, engine and local API over real HTTPS on loopback, wired as
 * the daemon wires provisioning: the engine holds the bootstrap secrets, the local API trades
 * codes through the redeemer.
 */
export class OnboardingRig {
  readonly dir = mkdtempSync(join(tmpdir(), "felhom-onboarding-"));
  server?: LocalApiServer;
  cert?: LocalApiCertificate;

  private constructor(
    readonly rig: Rig,
    readonly secrets: BootstrapSecrets,
  ) {}

  static async start(simOpts: PveSimOptions = {}): Promise<OnboardingRig> {
    const secrets = new BootstrapSecrets();
    const rig = await Rig.start(simOpts, { engine: { secrets } });
    const o = new OnboardingRig(rig, secrets);
    o.rig.store.goldenImages.record({ volid: GOLDEN_ARCHIVE, source: "registered" });
    return o;
  }

  get deps(): ProvisionDeps {
    return {
      engine: this.rig.engine,
      client: this.rig.client,
      store: this.rig.store,
      secrets: this.secrets,
      logger: silentLogger,
    };
  }

  /** Serves the local API (with the bootstrap route) on 127.0.0.1. */
  async serve(): Promise<string> {
    this.cert = await ensureLocalApiCertificate({ stateDir: this.dir, listen: "127.0.0.1" });
    const cert = this.cert;
    const rig = this.rig;
    const app = createLocalApiApp({
      tokens: rig.store.guestTokens,
      submitter: rig.engine,
      proxmox: rig.client,
      quotas: { quotaFor: () => undefined },
      backups: { backupStorageFor: () => undefined },
      audit: rig.store.audit,
      clock: rig.clock,
      bootstrap: createBootstrapRedeemer({
        store: rig.store,
        client: rig.client,
        engine: rig.engine,
        grantInfo: () => ({
          hostId: "host-test",
          hubUrl: "https://hub.example.test",
          pins: { leafSha256: cert.leafSha256, spkiSha256: cert.spkiSha256 },
        }),
        logger: silentLogger,
      }),
    });
    this.server = startLocalApiServer({ app, tls: cert, hostname: "127.0.0.1", port: 0 });
    return this.server.url;
  }

  /** A fetch pinned to the local API's leaf certificate, as a controller does it. */
  pinnedFetch(path: string, init: RequestInit = {}): Promise<Response> {
    const cert = this.cert as LocalApiCertificate;
    return fetch(`${this.server?.url}${path}`, {
      ...init,
      tls: {
        ca: cert.cert,
        checkServerIdentity: (_host: string, peer: { fingerprint256?: string }) =>
          peer.fingerprint256 === cert.leafSha256 ? undefined : new Error("pin mismatch"),
      },
    } as RequestInit);
  }

  async close(): Promise<void> {
    await this.server?.stop();
    await this.rig.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The guest-side controller stand-in: reads the code from the container's config (what
 * PVE hands PID 1 as its environment at start), trades it over pinned HTTPS, then uses the
 * token it got.
 */
export function codeFromGuestEnv(o: OnboardingRig, vmid: number): string | undefined {
  const g = o.rig.sim.state.guests().find((x) => x.vmid === vmid);
  const env = g?.config.env;
  if (typeof env !== "string") return undefined;
  for (const item of env.split(/\0+/)) {
    if (item.startsWith("FELHOM_BOOTSTRAP=")) return item.slice("FELHOM_BOOTSTRAP=".length);
  }
  return undefined;
}

export async function redeem(o: OnboardingRig, code: string): Promise<Response> {
  return o.pinnedFetch("/v1/bootstrap", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code }),
  });
}
