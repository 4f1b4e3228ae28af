import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileBinary } from "../../scripts/compile.ts";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import { createHubClient, type HubCredentials } from "../../src/hub/client.ts";
import { HubHttpError, HubUnreachableError } from "../../src/hub/errors.ts";
import type { HubIdentity } from "../../src/hub/identity.ts";
import { createHubTransport } from "../../src/hub/transport.ts";
import { silentLogger } from "../../src/log/types.ts";
import type { HubSimulator } from "../../src/sim/hub/index.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import { linkedVersion, pointLink, updateLayout } from "../../src/update/layout.ts";
import { Updater } from "../../src/update/updater.ts";
import { systemClock } from "../../src/util/clock.ts";
import { keyFromSeed } from "../authz/support.ts";
import { startHubWithOperator } from "../daemon/support.ts";
import { enrollIn } from "../hub/link-harness.ts";
import { installVersion, scriptArtifact, sha256 } from "./artifacts.ts";

/**
 * The one test with a real compiled build as the artifact (`bun build --compile` with another
 * version string): served by the hub simulator, downloaded over the pinned hub TLS with the
 * request signature, verified, smoke-tested (`version --json` and `config check` against a
 * real configuration file) and switched to.
 */

const VERSION = "0.9.0";
let dir: string;
let bin: string;
let bytes: Uint8Array;
let hub: HubSimulator;
let identity: HubIdentity;
let store: Store;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "felhom-update-bin-"));
  bin = join(dir, "build", "felhom-agent");
  const build = compileBinary({ outfile: bin, version: VERSION });
  if (!build.ok) throw new Error(`build failed: ${build.stderr}`);
  bytes = new Uint8Array(readFileSync(bin));
  hub = await startHubWithOperator(await keyFromSeed(51, "operator@example"));
  identity = await enrollIn(hub, join(dir, "state"));
  store = openStore({ path: join(dir, "state", "state.db") });
}, 180_000);

afterAll(async () => {
  store?.close();
  await hub?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function clientFor(pin: string) {
  const transport = createHubTransport({
    baseUrl: hub.url,
    trust: { kind: "fingerprint", sha256: pin },
    logger: silentLogger,
    connectTimeoutMs: 5_000,
  });
  const client = createHubClient({
    baseUrl: hub.url,
    transport,
    ed: createEd25519(),
    clock: systemClock,
    requestTimeoutMs: 5_000,
  });
  return { client, close: () => transport.close() };
}

const creds = (): HubCredentials => ({
  hostId: identity.host_id,
  credential: identity.credential,
  seed: new Uint8Array(Buffer.from(identity.host_key.seed, "base64")),
});

test("the compiled build reports the version it was built with", () => {
  const r = Bun.spawnSync([bin, "version", "--json"], { env: {} });
  expect(JSON.parse(r.stdout.toString())).toMatchObject({ version: VERSION });
});

test("a compiled build is downloaded from the hub over the pin, verified, smoke-tested and switched to", async () => {
  const stateDir = join(dir, "state");
  installVersion(stateDir, "0.1.0", scriptArtifact("0.1.0"));
  pointLink(updateLayout(stateDir), join(stateDir, "current"), "0.1.0");
  const configPath = join(dir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      proxmox: {
        endpoint: "https://127.0.0.1:8006",
        node: "pve",
        token: "felhom@pve!agent=00000000-0000-0000-0000-000000000000",
        tls: { fingerprint: hub.fingerprint },
      },
      state_dir: stateDir,
    }),
  );
  hub.setArtifact(VERSION, "x64", bytes);
  const { client, close } = clientFor(hub.fingerprint);
  try {
    store.agentUpdates.record({
      journalId: 1,
      version: VERSION,
      fromVersion: "0.1.0",
      target: "x64",
      sha256: sha256(bytes),
      size: bytes.length,
      expiresAt: Date.now() + 600_000,
    });
    const updater = new Updater({
      store,
      layout: updateLayout(stateDir),
      runningVersion: "0.1.0",
      fetchArtifact: (v, t) => client.artifact(creds(), v, t, 60_000),
      smoke: { env: {}, timeoutMs: 20_000, configPath },
      clock: systemClock,
      logger: silentLogger,
    });
    expect(await updater.advance()).toBe("switched");
    expect(linkedVersion(join(stateDir, "current"))).toBe(VERSION);
    expect(linkedVersion(join(stateDir, "previous"))).toBe("0.1.0");
    const r = Bun.spawnSync([join(stateDir, "current", "felhom-agent"), "version", "--json"], {
      env: {},
    });
    expect(JSON.parse(r.stdout.toString()).version).toBe(VERSION);
  } finally {
    close();
  }
}, 120_000);

test("the artifact route: unknown artifact is a 404, a wrong pin never reaches the hub", async () => {
  const good = clientFor(hub.fingerprint);
  try {
    const err = await good.client.artifact(creds(), "9.9.9", "x64", 5_000).catch((e) => e);
    expect(err).toBeInstanceOf(HubHttpError);
    expect((err as HubHttpError).status).toBe(404);
  } finally {
    good.close();
  }
  const before = hub.requests.length;
  const wrong = clientFor(`${"AA:".repeat(31)}AA`);
  try {
    const err = await wrong.client.artifact(creds(), VERSION, "x64", 5_000).catch((e) => e);
    expect(err).toBeInstanceOf(HubUnreachableError);
    expect(hub.requests.length).toBe(before);
  } finally {
    wrong.close();
  }
});
