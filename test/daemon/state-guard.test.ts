import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runDaemon } from "../../src/cli/run.ts";
import { defaultSeed, type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { openStore } from "../../src/store/open.ts";
import { proxmoxSection } from "./support.ts";

let sim: PveSimulator;
const dir = mkdtempSync(join(tmpdir(), "felhom-guard-"));
beforeAll(async () => {
  sim = await startPveSimulator({
    taskMs: 50,
    authFailDelayMs: 0,
    seed: defaultSeed({ extraGuests: 4 }),
  });
});
afterAll(async () => {
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

function configIn(
  name: string,
  desired: unknown,
): { configPath: string; stateDir: string; desiredPath: string } {
  const base = join(dir, name);
  const desiredPath = join(dir, `${name}-desired.json`);
  writeFileSync(desiredPath, JSON.stringify(desired));
  const configPath = join(dir, `${name}.json`);
  writeFileSync(
    configPath,
    JSON.stringify({
      proxmox: proxmoxSection(sim),
      state_dir: base,
      desired_file: desiredPath,
      reconcile: { interval_s: 1, jitter_pct: 0 },
      local_api: { enabled: false },
    }),
  );
  return { configPath, stateDir: base, desiredPath };
}

/** `run` in-process until `signal` aborts or the daemon stops itself; its stderr is kept. */
async function runCapturing(
  configPath: string,
  signal: AbortSignal,
  onPass: () => void,
): Promise<{ code: number; err: string }> {
  let err = "";
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
    { signal, onPass },
  );
  return { code, err };
}

test("a journal row with bad JSON is quarantined; recovery completes and the daemon converges", async () => {
  // Extra seeded guests 1000 and 1003 start stopped.
  const vmid = 1003;
  expect(sim.state.guest(vmid)?.running).toBe(false);
  const { configPath, stateDir } = configIn("quarantine", {
    version: 1,
    guests: { [String(vmid)]: { run: "running" } },
  });
  const seed = openStore({ path: join(stateDir, "state.db") });
  const id = seed.journal.recordIntent({ op: "guest.start", vmid: 1002, origin: "reconcile" });
  seed.db.query(`UPDATE journal SET params = '{"half": ' WHERE id = $id`).run({ id });
  seed.close();

  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(new Error("test bound")), 20_000);
  let converged = false;
  const { code, err } = await runCapturing(configPath, stop.signal, () => {
    if (sim.state.guest(vmid)?.running) {
      converged = true;
      stop.abort();
    }
  });
  clearTimeout(timer);
  expect(code).toBe(0);
  expect(converged).toBe(true);
  expect(err).toContain("quarantined");
  const after = openStore({ path: join(stateDir, "state.db"), exclusive: false });
  expect(after.journal.quarantined().map((q) => q.id)).toEqual([id]);
  after.close();
}, 25_000);

test("state.db unlinked under a running daemon: it stops with an error and changes nothing more", async () => {
  const { configPath, stateDir, desiredPath } = configIn("unlinked", { version: 1, guests: {} });
  // A stopped seeded guest (extra guests start at 1000, stopped).
  const vmid = 1000;
  expect(sim.state.guest(vmid)?.running).toBe(false);
  let passes = 0;
  const bound = new AbortController();
  const timer = setTimeout(() => bound.abort(new Error("test bound")), 20_000);
  const { code, err } = await runCapturing(configPath, bound.signal, () => {
    passes++;
    if (passes !== 1) return;
    rmSync(join(stateDir, "state.db"));
    // Desired state now asks for a change; the daemon must not make it.
    writeFileSync(
      desiredPath,
      JSON.stringify({ version: 1, guests: { [String(vmid)]: { run: "running" } } }),
    );
  });
  clearTimeout(timer);
  expect(bound.signal.aborted).toBe(false);
  expect(code).toBe(1);
  expect(err).toContain("stops mutating");
  expect(err).toContain("is gone");
  expect(passes).toBe(1);
  expect(sim.state.guest(vmid)?.running).toBe(false);
  expect(sim.state.tasks().filter((t) => t.parts.id === String(vmid))).toHaveLength(0);
}, 25_000);
