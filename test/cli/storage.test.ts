import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CliContext } from "../../src/cli/context.ts";
import { runStorage } from "../../src/cli/storage.ts";
import { createProxmoxClient } from "../../src/proxmox/client.ts";
import { type PveSimulator, SimHostFs, startPveSimulator } from "../../src/sim/pve/index.ts";
import { defaultStorePath, openStore } from "../../src/store/open.ts";

const UUID = "2f0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3";

let dir: string;
let stateDir: string;
let configPath: string;
let sim: PveSimulator;
let fs: SimHostFs;
let out = "";
let err = "";

function ctx(): CliContext & { deps: Parameters<typeof runStorage>[1]["deps"] } {
  out = "";
  err = "";
  return {
    env: {},
    configPath,
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
    deps: {
      client: () =>
        createProxmoxClient({
          endpoint: sim.endpoint,
          node: sim.node,
          token: sim.tokens.agent,
          trust: { kind: "fingerprint", sha256: sim.fingerprint },
        }),
      mounts: fs.probe(),
    },
  };
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "felhom-cli-storage-"));
  stateDir = join(dir, "state");
  configPath = join(dir, "agent.json");
  fs = new SimHostFs();
  sim = await startPveSimulator({ hostFs: fs, authFailDelayMs: 0 });
  writeFileSync(
    configPath,
    JSON.stringify({
      proxmox: {
        endpoint: "https://127.0.0.1:8006",
        node: "pve1",
        token: "felhom-agent@pve!agent=00000000-0000-4000-8000-000000000000",
        tls: { fingerprint: `${"AA:".repeat(31)}AA` },
      },
      state_dir: stateDir,
    }),
  );
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const store = openStore({ path: defaultStorePath(stateDir) });
  store.desired.put({
    document: JSON.stringify({
      version: 1,
      guests: {},
      storage_targets: { usb1: { kind: "usb", fs_uuid: UUID, class: "slow", role: "local" } },
    }),
    source: "test",
  });
  store.close();
});
afterEach(async () => {
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("storage list --json: the manifest's target missing with its reason, the node's backup storage unmanaged; exit 1", async () => {
  const code = await runStorage(["list", "--json"], ctx());
  expect(code).toBe(1);
  const rows = JSON.parse(out) as Record<string, unknown>[];
  expect(rows).toEqual([
    {
      id: "local",
      kind: "other",
      managed: false,
      present: true,
      active: true,
      avail_pct: expect.any(Number),
      since: null,
      reason: "not in the desired state's storage_targets; left alone",
    },
    {
      id: "usb1",
      kind: "usb",
      managed: true,
      present: false,
      active: false,
      avail_pct: null,
      since: null,
      reason: `USB disk ${UUID} not attached`,
    },
  ]);
  expect(err).toBe("");
  // Read only: the CLI records no transition.
  const store = openStore({ path: defaultStorePath(stateDir), exclusive: false });
  expect(store.storagePresence.list()).toEqual([]);
  expect(store.audit.list()).toEqual([]);
  store.close();
});

test("storage list: a table, and --help with an example", async () => {
  await runStorage(["list"], ctx());
  expect(out.split("\n")[0]).toMatch(
    /^ID\s+KIND\s+MANAGED\s+PRESENT\s+ACTIVE\s+AVAIL\s+SINCE\s+REASON$/,
  );
  expect(out).toContain(`USB disk ${UUID} not attached`);
  expect(await runStorage(["list", "--help"], ctx())).toBe(0);
  expect(out).toMatch(/\nExamples?:\n {2}felhom-agent storage list/);
  expect(await runStorage(["nope"], ctx()).catch((e: Error) => e.message)).toContain(
    "unknown storage subcommand",
  );
});
