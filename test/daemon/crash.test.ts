import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StepPoint } from "../../src/reconcile/engine.ts";
import { defaultSeed, type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { openStore } from "../../src/store/open.ts";
import { proxmoxSection } from "./support.ts";

const ENTRY = join(import.meta.dir, "fixtures", "daemon-entry.ts");

/** A daemon child process whose stdout and stderr lines can be awaited. */
class Daemon {
  private readonly lines: string[] = [];
  private readonly waiters: { match: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  readonly proc: ReturnType<typeof Bun.spawn>;

  constructor(configPath: string, crashAt?: StepPoint) {
    this.proc = Bun.spawn([process.execPath, ENTRY, configPath], {
      env: { ...process.env, ...(crashAt ? { FELHOM_TEST_CRASH_AT: crashAt } : {}) },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
      killSignal: "SIGKILL",
    });
    void this.pump(this.proc.stdout as ReadableStream<Uint8Array>);
    void this.pump(this.proc.stderr as ReadableStream<Uint8Array>);
  }

  private async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    let buf = "";
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      buf += decoder.decode(chunk);
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.lines.push(line);
        for (const w of [...this.waiters]) {
          if (w.match(line)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
        nl = buf.indexOf("\n");
      }
    }
  }

  /** The first line (past or future) that satisfies `match`; fails after 15 s. */
  line(match: (record: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const test = (l: string) => {
      try {
        return match(JSON.parse(l));
      } catch {
        return false;
      }
    };
    const seen = this.lines.find(test);
    if (seen) return Promise.resolve(JSON.parse(seen));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching line; output so far:\n${this.lines.join("\n")}`)),
        15_000,
      );
      this.waiters.push({
        match: test,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(JSON.parse(l));
        },
      });
    });
  }

  get output(): string {
    return this.lines.join("\n");
  }
}

let sim: PveSimulator;
const dirs: string[] = [];

beforeAll(async () => {
  sim = await startPveSimulator({
    taskMs: 250,
    authFailDelayMs: 0,
    seed: defaultSeed({ extraGuests: 12 }),
  });
});
afterAll(async () => {
  await sim.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(desired: unknown): { configPath: string; dbPath: string } {
  const dir = mkdtempSync(join(tmpdir(), "felhom-daemon-"));
  dirs.push(dir);
  const desiredPath = join(dir, "desired.json");
  writeFileSync(desiredPath, JSON.stringify(desired));
  const configPath = join(dir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      proxmox: proxmoxSection(sim),
      state_dir: join(dir, "state"),
      desired_file: desiredPath,
      log: { level: "debug" },
      // A short lost-answer window: a POST killed before it was sent is decided in 1 s.
      reconcile: { interval_s: 1, jitter_pct: 0, unknown_window_s: 1 },
      local_api: { enabled: false },
    }),
  );
  return { configPath, dbPath: join(dir, "state", "state.db") };
}

function tasksOf(type: string, vmid: number): number {
  return sim.state.tasks().filter((t) => t.parts.type === type && t.parts.id === String(vmid))
    .length;
}

const converged = (r: Record<string, unknown>) =>
  r.msg === "reconcile pass" &&
  r.desired === "present" &&
  r.planned === 0 &&
  r.skipped === 0 &&
  r.held === 0;

/**
 * Kills the daemon with SIGKILL at `point` of an action, restarts it, and checks that the
 * operation happened exactly once and the journal ends terminal.
 */
async function crashAndRecover(
  point: StepPoint,
  opts: { desired: unknown; taskType: string | null; vmid: number; check: () => void },
): Promise<{ resolutions: string[] }> {
  const { configPath, dbPath } = setup(opts.desired);
  const tasksBefore = opts.taskType ? tasksOf(opts.taskType, opts.vmid) : 0;
  const first = new Daemon(configPath, point);
  const reached = await first.line((r) => r.reached === point);
  first.proc.kill("SIGKILL");
  await first.proc.exited;
  expect(first.proc.signalCode).toBe("SIGKILL");

  const before = openStore({ path: dbPath, exclusive: false });
  const entry = before.journal.byId(reached.journalId as number);
  before.close();
  expect(entry?.phase === "intent" || entry?.phase === "posted").toBe(true);

  const second = new Daemon(configPath);
  await second.line((r) => r.msg === "recovery complete");
  await second.line(converged);
  second.proc.kill("SIGTERM");
  expect(await second.proc.exited).toBe(0);

  opts.check();
  if (opts.taskType) expect(tasksOf(opts.taskType, opts.vmid) - tasksBefore).toBe(1);
  const after = openStore({ path: dbPath, exclusive: false });
  try {
    expect(after.journal.inFlight()).toEqual([]);
    const crashed = after.journal.byId(reached.journalId as number);
    expect(crashed?.resolution ?? "").toStartWith("recovery");
    return {
      resolutions: after.journal
        .recent()
        .reverse()
        .map((e) => `${e.op}:${e.phase}`),
    };
  } finally {
    after.close();
  }
}

describe("SIGKILL at each step of an action, then restart", () => {
  const points: StepPoint[] = ["intent", "post_returned", "upid", "task_done"];
  let vmid = 1000;

  for (const point of points) {
    test(`guest.start killed at ${point}: started exactly once, journal terminal`, async () => {
      // Extra seeded guests stopped at 1000, 1003, …: one fresh guest per case.
      const id = vmid;
      vmid += 3;
      const { resolutions } = await crashAndRecover(point, {
        desired: { version: 1, guests: { [String(id)]: { run: "running" } } },
        taskType: "vzstart",
        vmid: id,
        check: () => expect(sim.state.guest(id)?.running).toBe(true),
      });
      // Killed before the POST: abandoned, then re-planned; after it: one entry, done.
      expect(resolutions).toEqual(
        point === "intent" ? ["guest.start:abandoned", "guest.start:done"] : ["guest.start:done"],
      );
    });
  }

  for (const point of ["intent", "post_returned"] as const) {
    test(`guest.config killed at ${point}: applied once, journal terminal`, async () => {
      const { resolutions } = await crashAndRecover(point, {
        desired: { version: 1, guests: { "103": { cores: point === "intent" ? 3 : 5 } } },
        taskType: null,
        vmid: 103,
        check: () => expect(sim.state.guest(103)?.config.cores).toBe(point === "intent" ? 3 : 5),
      });
      expect(resolutions).toEqual(
        point === "intent"
          ? ["guest.config:abandoned", "guest.config:done"]
          : ["guest.config:done"],
      );
    });
  }
});

describe("graceful shutdown", () => {
  test("SIGTERM while a task runs: exit 0, the task stays journaled with its UPID", async () => {
    sim.setFaults({ hang: ["vzshutdown"] });
    try {
      const { configPath, dbPath } = setup({ version: 1, guests: { "1001": { run: "stopped" } } });
      const daemon = new Daemon(configPath);
      await daemon.line((r) => r.msg === "action planned");
      let posted: { phase: string; upid: string | null } | undefined;
      for (let i = 0; i < 200 && posted?.phase !== "posted"; i++) {
        await Bun.sleep(25);
        const s = openStore({ path: dbPath, exclusive: false });
        posted = s.journal.recent(1)[0];
        s.close();
      }
      expect(posted?.phase).toBe("posted");
      daemon.proc.kill("SIGTERM");
      expect(await daemon.proc.exited).toBe(0);
      await daemon.line((r) => r.msg === "felhom-agent daemon stopped");
      const s = openStore({ path: dbPath, exclusive: false });
      const [entry] = s.journal.inFlight();
      s.close();
      expect(entry?.phase).toBe("posted");
      expect(entry?.upid).toBe(posted?.upid ?? "");
    } finally {
      sim.setFaults({});
    }
  });
});
