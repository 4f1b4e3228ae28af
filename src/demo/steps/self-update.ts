import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createEd25519 } from "../../authz/ed25519.ts";
import { createHubClient } from "../../hub/client.ts";
import { createHubTransport } from "../../hub/transport.ts";
import { openStore } from "../../store/open.ts";
import type { Store } from "../../store/store.ts";
import { installedVersions, linkedVersion, pointLink, updateLayout } from "../../update/layout.ts";
import { Updater } from "../../update/updater.ts";
import { AGENT_VERSION } from "../../version.ts";
import type { DemoEnv, DemoStep } from "../types.ts";
import { type Checklist, checklist } from "./checklist.ts";
import { addSignedJob, hubResult, type Live, need } from "./live-agent.ts";

/**
 * Self-update (docs/self-update.md): first the running agent's gate on `agent.update` (held
 * unsigned, a downgrade refused), then the updater itself, the code the daemon runs, on an
 * installation directory of its own: builds served by the hub over its pinned TLS, verified,
 * smoke-tested and switched, up and back, and a build that never becomes healthy rolled back.
 * The builds here are small stand-in programs that answer `version --json` and `config check`
 * as a build would (the demo is one binary and carries no second one); the demo plays the
 * supervisor that starts whatever `current` names.
 */
export function selfUpdateStep(live: () => Live | undefined): DemoStep {
  return {
    title: "Self-update: signed, verified, smoke-tested, switched, and rolled back when unhealthy",
    async run(env) {
      const l = need(live());
      const list = checklist(env.io.out);
      await gateOnTheRunningAgent(env, l, list);
      await updaterWalkthrough(env, l, list);
      return {
        behaved: list.failed.length === 0,
        note:
          list.failed.length === 0
            ? "up to a second build and back, both healthy; the unhealthy build rolled back and not tried again"
            : `failed: ${list.failed.join("; ")}`,
      };
    },
  };
}

async function gateOnTheRunningAgent(env: DemoEnv, l: Live, list: Checklist): Promise<void> {
  const params = {
    version: "99.0.0",
    target: "x64",
    sha256: "0".repeat(64),
    size: 1024,
    expires: new Date(env.io.clock.now() + 600_000).toISOString(),
  };
  l.hub.addJob({ id: "job-update-unsigned", op: "agent.update", params }, l.identity.host_id);
  await hubResult(l, "job-update-unsigned", "pending_signature");
  list.check("hub job agent.update without a signature -> pending_signature", true);
  await addSignedJob(env, l, {
    id: "job-update-down",
    op: "agent.update",
    params: { ...params, version: "0.0.1" },
  });
  const down = await hubResult(l, "job-update-down", "rejected");
  list.check(
    `signed agent.update to 0.0.1 while ${AGENT_VERSION} runs -> rejected (${String(down.reason).split(":")[0]})`,
    String(down.reason).startsWith("update_downgrade"),
  );
}

/** A stand-in build: answers as the agent's `version --json` and `config check` would. */
function build(version: string): Uint8Array {
  return new TextEncoder().encode(`#!/bin/sh
# stand-in felhom-agent build ${version} (demo)
case "$*" in
  *"version --json"*) echo '{"version":"${version}"}' ;;
  *"config check"*) echo "configuration OK" ;;
  *) exit 64 ;;
esac
`);
}

async function updaterWalkthrough(env: DemoEnv, l: Live, list: Checklist): Promise<void> {
  const stateDir = join(env.workDir, "update-host");
  const layout = updateLayout(stateDir);
  // Installed as install.sh lays it out: versions/1.0.0 and `current` naming it.
  const first = join(layout.versionsDir, "1.0.0");
  mkdirSync(first, { recursive: true, mode: 0o700 });
  writeFileSync(join(first, "felhom-agent"), build("1.0.0"));
  chmodSync(join(first, "felhom-agent"), 0o700);
  pointLink(layout, layout.current, "1.0.0");
  env.io.out(`    an installation at ${stateDir}: current -> versions/1.0.0\n`);

  const pin = l.identity.hub_tls;
  const transport = createHubTransport({
    baseUrl: l.identity.hub_url,
    trust:
      pin !== undefined && "fingerprint" in pin
        ? { kind: "fingerprint", sha256: pin.fingerprint }
        : { kind: "system" },
    logger: env.logger,
    connectTimeoutMs: 5_000,
  });
  const client = createHubClient({
    baseUrl: l.identity.hub_url,
    transport,
    ed: createEd25519(),
    clock: env.io.clock,
    requestTimeoutMs: 5_000,
  });
  const creds = {
    hostId: l.identity.host_id,
    credential: l.identity.credential,
    seed: new Uint8Array(Buffer.from(l.identity.host_key.seed, "base64")),
  };
  const store = openStore({ path: join(stateDir, "state.db"), clock: env.io.clock });
  env.defer(() => {
    store.close();
    transport.close();
  });
  /** The version the program `current` names reports, as the supervisor would start it. */
  const running = (): string => {
    const r = Bun.spawnSync([join(layout.current, "felhom-agent"), "version", "--json"]);
    return (JSON.parse(r.stdout.toString()) as { version: string }).version;
  };
  const updater = () =>
    new Updater({
      store,
      layout,
      runningVersion: running(),
      fetchArtifact: (v, t) => client.artifact(creds, v, t, 30_000),
      smoke: { env: {}, timeoutMs: 5_000 },
      clock: env.io.clock,
      logger: env.logger,
    });
  const links = () =>
    `current -> ${linkedVersion(layout.current)}, previous -> ${linkedVersion(layout.previous) ?? "(none)"}`;

  // Up to 1.1.0, and back to 1.0.0 (a signed downgrade; the build is still on disk).
  for (const [version, note] of [
    ["1.1.0", "an operator-signed update"],
    ["1.0.0", "and back, signed with allow_downgrade"],
  ] as const) {
    admit(env, l, store, version);
    const step = await updater().advance();
    env.io.out(
      `    ${note} to ${version}: downloaded from the hub over its pin, SHA-256 and size checked, smoke-tested -> ${step}; ${links()}\n`,
    );
    const start = updater().onStart();
    const good = start.kind === "health_gate";
    if (start.kind === "health_gate") updater().markGood(start.attempt);
    list.check(
      `the supervisor starts ${running()}: on probation, then healthy (first hub poll) -> ${store.agentUpdates.last()?.step}`,
      step === "switched" &&
        good &&
        running() === version &&
        store.agentUpdates.last()?.step === "good",
    );
  }

  // 1.2.0 passes its smoke test but never becomes healthy: its first start dies before the hub
  // poll, and its second start puts `current` back.
  admit(env, l, store, "1.2.0");
  await updater().advance();
  const firstStart = updater().onStart();
  env.io.out(
    `    a bad build 1.2.0 switched to; its first start (${firstStart.kind}) dies before it is healthy\n`,
  );
  const second = updater().onStart();
  env.io.out(
    `    its second start: ${second.kind}; ${links()}; reason: ${store.agentUpdates.last()?.reason}\n`,
  );
  list.check(
    `rolled back to ${running()}, 1.2.0 removed and never tried again (versions on disk: ${installedVersions(layout).sort().join(", ")})`,
    second.kind === "rolled_back" &&
      running() === "1.0.0" &&
      !installedVersions(layout).includes("1.2.0") &&
      store.agentUpdates.hasFailed("1.2.0"),
  );
  const audited = store.audit
    .list({ limit: 100 })
    .filter((a) => a.action === "agent.update")
    .map((a) => a.outcome);
  list.check(`audited: ${audited.join(", ")}`, audited.join() === "good,good,rolled_back");
}

/**
 * What the agent.update executor records once the gate accepted the operator's envelope (shown
 * on the running agent above); the hub serves the build under the signed digest.
 */
function admit(env: DemoEnv, l: Live, store: Store, version: string): void {
  const bytes = build(version);
  l.hub.setArtifact(version, "x64", bytes);
  store.agentUpdates.record({
    journalId: 0,
    version,
    fromVersion: linkedVersion(updateLayout(join(env.workDir, "update-host")).current) ?? "",
    target: "x64",
    sha256: createHash("sha256").update(bytes).digest("hex"),
    size: bytes.length,
    expiresAt: env.io.clock.now() + 600_000,
  });
}
