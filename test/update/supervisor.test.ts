import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import { buildPayload, signEnvelope } from "../../src/authz/sign.ts";
import type { HubIdentity } from "../../src/hub/identity.ts";
import type { HubSimulator } from "../../src/sim/hub/index.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { openStore } from "../../src/store/open.ts";
import { linkedVersion, pointLink, updateLayout } from "../../src/update/layout.ts";
import { keyFromSeed } from "../authz/support.ts";
import { hubDaemonConfig, pollUntil, startHubWithOperator } from "../daemon/support.ts";
import { enrollIn } from "../hub/link-harness.ts";
import { installVersion, sha256, sourceArtifact } from "./artifacts.ts";
import { Supervisor } from "./supervisor.ts";

/**
 * The whole update flow with real agent processes (the agent's source run by Bun, each build
 * reporting its own version) under a supervisor that restarts them as `Restart=always` would:
 * 0.1.0 → 0.2.0 (healthy, good) → back to 0.1.0 (signed downgrade) → a 0.3.0 that starts but
 * never becomes healthy, killed, and rolled back on its next start.
 */

const ed = createEd25519();
const operator = await keyFromSeed(41, "operator@example");
const dir = mkdtempSync(join(tmpdir(), "felhom-update-e2e-"));
const stateDir = join(dir, "state");
const configPath = join(dir, "agent.json");
let pve: PveSimulator;
let hub: HubSimulator;
let identity: HubIdentity;
let sup: Supervisor | undefined;
const until = pollUntil(1200); // 60 s: each start of the agent from source takes a second or two

beforeAll(async () => {
  pve = await startPveSimulator({ taskMs: 40, authFailDelayMs: 0 });
  hub = await startHubWithOperator(operator);
  identity = await enrollIn(hub, stateDir);
  const cfg = hubDaemonConfig({ pve, stateDir, port: 0, logLevel: "info" });
  writeFileSync(configPath, JSON.stringify({ ...cfg, local_api: { enabled: false } }));
  hub.setDesired({ version: 1, guests: {} }, identity.host_id);
  installVersion(stateDir, "0.1.0", sourceArtifact("0.1.0"));
  pointLink(updateLayout(stateDir), join(stateDir, "current"), "0.1.0");
});

afterAll(async () => {
  await sup?.stop();
  await hub?.stop();
  await pve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The last update step the agents logged. The test does not open the state database while the
 * agents run: a reader's lock would make a starting agent refuse the database as in use.
 */
function lastAttempt(): { version: string; step: string; reason?: string } | undefined {
  let last: { version: string; step: string; reason?: string } | undefined;
  for (const run of sup?.runs ?? []) {
    for (const line of run.log.split("\n")) {
      if (!line.includes('"update step"')) continue;
      const rec = JSON.parse(line) as { version: string; step: string; reason?: string };
      last = rec;
    }
  }
  return last;
}

async function signedUpdate(
  job: string,
  version: string,
  bytes: Uint8Array,
  extra: Record<string, unknown> = {},
): Promise<void> {
  hub.setArtifact(version, "x64", bytes);
  const params = {
    version,
    target: "x64",
    sha256: sha256(bytes),
    size: bytes.length,
    expires: new Date(Date.now() + 600_000).toISOString(),
    ...extra,
  };
  hub.addJob({ id: job, op: "agent.update", params }, identity.host_id);
  const payload = buildPayload({
    op: "agent.update",
    host: identity.host_id,
    params,
    job,
    now: Math.floor(Date.now() / 1000),
    ttlSeconds: 600,
  });
  hub.signJob(job, await signEnvelope(ed, operator, payload));
}

const links = () => ({
  current: linkedVersion(join(stateDir, "current")),
  previous: linkedVersion(join(stateDir, "previous")),
});

test("update to a second build, back again, and a build that never becomes healthy rolled back", async () => {
  sup = new Supervisor({
    stateDir,
    args: ["--config", configPath, "run"],
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    restartMs: 200,
    maxStarts: 12,
  });
  sup.start();
  await until("0.1.0 reporting to the hub", () =>
    hub.state.reports.length > 0 ? true : undefined,
  );

  // Up: 0.1.0 downloads, verifies and smoke-tests 0.2.0, switches and exits; 0.2.0 starts,
  // polls the hub, and is marked good.
  await signedUpdate("job-up", "0.2.0", sourceArtifact("0.2.0"));
  await until("0.2.0 good", () => (lastAttempt()?.step === "good" ? true : undefined));
  expect(lastAttempt()).toMatchObject({ version: "0.2.0" });
  expect(links()).toEqual({ current: "0.2.0", previous: "0.1.0" });
  expect(sup.runs.map((r) => r.version)).toEqual(["0.1.0", "0.2.0"]);
  expect(sup.runs[0]?.code).toBe(0);
  expect(hub.state.results.find((r) => r.job_id === "job-up")?.state).toBe("ok");

  // Back: a signed downgrade to 0.1.0, still on disk as `previous`.
  await signedUpdate("job-down", "0.1.0", sourceArtifact("0.1.0"), { allow_downgrade: true });
  await until("0.1.0 good again", () =>
    lastAttempt()?.version === "0.1.0" && lastAttempt()?.step === "good" ? true : undefined,
  );
  expect(links()).toEqual({ current: "0.1.0", previous: "0.2.0" });

  // A bad build: it passes the smoke test, but once it runs it never reaches the hub (the
  // hub fails every request from the moment the artifact is downloaded), and it dies.
  await signedUpdate("job-bad", "0.3.0", sourceArtifact("0.3.0"));
  await until("0.3.0 downloaded", () => {
    const a = lastAttempt();
    return a?.version === "0.3.0" && a.step !== "admitted" ? true : undefined;
  });
  hub.setFaults({ status: 503 });
  await until("0.3.0 on its first start", () =>
    lastAttempt()?.step === "started" && sup?.current?.version === "0.3.0" ? true : undefined,
  );
  sup.kill("SIGKILL");
  await until("0.3.0 rolled back", () =>
    lastAttempt()?.step === "rolled_back" ? true : undefined,
  );
  hub.setFaults({});
  await until("0.1.0 running again", () =>
    sup?.current?.version === "0.1.0" && sup.runs.length >= 6 ? true : undefined,
  );
  // Two versions stay: the one rolled back to and the one it had replaced (docs/self-update.md#health-gate-and-rollback).
  expect(links()).toEqual({ current: "0.1.0", previous: "0.2.0" });
  expect(lastAttempt()?.reason).toContain("did not become healthy");
  expect(sup.runs.map((r) => r.version)).toEqual([
    "0.1.0",
    "0.2.0",
    "0.1.0",
    "0.3.0",
    "0.3.0",
    "0.1.0",
  ]);
  // The killed start, then the start that rolled back and exited 0 for the supervisor.
  expect(sup.runs[3]?.signal).toBe("SIGKILL");
  expect(sup.runs[4]?.code).toBe(0);
  await until("the rollback audited at the hub", () =>
    hub.state.audit.find((a) => a.action === "agent.update" && a.outcome === "rolled_back"),
  );
  await sup.stop();
  const store = openStore({ path: join(stateDir, "state.db"), exclusive: false });
  try {
    expect(store.agentUpdates.last()).toMatchObject({
      version: "0.3.0",
      fromVersion: "0.1.0",
      step: "rolled_back",
    });
    expect(store.agentUpdates.hasFailed("0.3.0")).toBe(true);
  } finally {
    store.close();
  }
}, 180_000);
