import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runDaemon } from "../../src/cli/run.ts";
import { defaultSeed, type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";

let sim: PveSimulator;
const dir = mkdtempSync(join(tmpdir(), "felhom-guard-"));
beforeAll(async () => {
  sim = await startPveSimulator({
    taskMs: 50,
    authFailDelayMs: 0,
    seed: defaultSeed({ extraGuests: 3 }),
  });
});
afterAll(async () => {
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("state.db unlinked under a running daemon: it stops with an error and changes nothing more", async () => {
  const desiredPath = join(dir, "desired.json");
  writeFileSync(desiredPath, JSON.stringify({ version: 1, guests: {} }));
  const configPath = join(dir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      proxmox: {
        endpoint: sim.endpoint,
        node: sim.node,
        token: sim.tokens.agent,
        tls: { fingerprint: sim.fingerprint },
      },
      state_dir: join(dir, "state"),
      desired_file: desiredPath,
      reconcile: { interval_s: 1, jitter_pct: 0 },
      local_api: { enabled: false },
    }),
  );
  // A stopped seeded guest (extra guests start at 1000, stopped).
  const vmid = 1000;
  expect(sim.state.guest(vmid)?.running).toBe(false);
  let err = "";
  let passes = 0;
  const bound = new AbortController();
  const timer = setTimeout(() => bound.abort(new Error("test bound")), 20_000);
  const code = await runDaemon(
    ["run"],
    {
      env: {},
      configPath,
      stdout: () => {},
      stderr: (t) => {
        err += t;
      },
    },
    {
      signal: bound.signal,
      onPass: () => {
        passes++;
        if (passes !== 1) return;
        rmSync(join(dir, "state", "state.db"));
        // Desired state now asks for a change; the daemon must not make it.
        writeFileSync(
          desiredPath,
          JSON.stringify({ version: 1, guests: { [String(vmid)]: { run: "running" } } }),
        );
      },
    },
  );
  clearTimeout(timer);
  expect(bound.signal.aborted).toBe(false);
  expect(code).toBe(1);
  expect(err).toContain("stops mutating");
  expect(err).toContain("is gone");
  expect(passes).toBe(1);
  expect(sim.state.guest(vmid)?.running).toBe(false);
  expect(sim.state.tasks().filter((t) => t.parts.id === String(vmid))).toHaveLength(0);
});
