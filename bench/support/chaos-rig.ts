/**
 * Fault trials against the real command line: `felhom-agent sim --control` in one process,
 * `felhom-agent run` in another, killed with SIGKILL at random moments and restarted, with
 * lost answers (the simulator's `dropafter` fault) switched per trial through the control
 * endpoint. Every change is counted where it happens, in the simulator's task list: each
 * intended change must appear exactly once. Used by test/chaos/ (bounded) and bench/chaos.ts.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { defaultSeed } from "../../src/sim/pve/index.ts";

export interface ChaosOptions {
  trials: number;
  /** Seed of every random choice (which guests change, when the agent is killed). */
  seed: number;
  /** Guests the desired state manages (VMIDs from 1000). */
  guests: number;
  /** How long each simulated task runs. */
  taskMs: number;
  /** SIGKILLs per trial, drawn from 0..maxKills (at least one over the run). */
  maxKills: number;
  /** A kill lands this long at most after the agent logs that it is starting. */
  killWindowMs: number;
  /** Probability per request that Proxmox acts and the answer is lost (0: none). */
  dropAfter: number;
  /**
   * Also change cores (config PUTs) besides run state (POSTs that start tasks). Default true.
   */
  configChanges?: boolean;
  /** How long a trial may take to converge once the agent is left alone. */
  convergeTimeoutMs: number;
  /** The command that is `felhom-agent`; default this checkout's src/main.ts under Bun. */
  command?: string[];
  onTrial?: (t: TrialResult) => void;
  /** Every line the agents log, for diagnosing a slow or failing run. */
  onAgentLine?: (line: string) => void;
}

export interface TrialResult {
  trial: number;
  /** Guests whose run state the trial changes. */
  intended: number;
  /** Intended changes the simulator never ran, or that did not stick. */
  lost: number;
  /** Changes run beyond one per intended change (power tasks, config PUTs), on any guest. */
  duplicated: number;
  kills: number;
  /** Agent starts after a kill. */
  restarts: number;
  /** Agent runs that ended by themselves with an error, or not cleanly on SIGTERM. */
  failedRestarts: number;
  converged: boolean;
  /** The vmids and counts behind lost/duplicated, for the report. */
  problems: string[];
}

export interface ChaosSummary {
  trials: number;
  intended: number;
  lost: number;
  duplicated: number;
  kills: number;
  restarts: number;
  failedRestarts: number;
  unconverged: number;
  problems: string[];
}

const POWER = new Set(["vzstart", "vzshutdown", "vzstop"]);
const REPO = resolve(import.meta.dir, "../..");

/** mulberry32: small, seeded, good enough to pick moments and guests reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SimReady {
  endpoint: string;
  node: string;
  fingerprint: string;
  tokens: { agent: string };
  control: string;
}

interface GuestView {
  vmid: number;
  status: string;
  cores: number;
}

interface SimTaskView {
  upid: string;
  type: string;
  id: string;
  status: string;
}

/** Reads a child's stream line by line, keeping the last lines for a failure report. */
function lines(stream: ReadableStream<Uint8Array>, onLine: (l: string) => void): Promise<void> {
  return (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      buf += decoder.decode(chunk, { stream: true });
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
      }
    }
    if (buf !== "") onLine(buf);
  })();
}

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return (await r.json()) as T;
}

export async function runChaos(o: ChaosOptions): Promise<ChaosSummary> {
  const command = o.command ?? [process.execPath, join(REPO, "src/main.ts")];
  const dir = mkdtempSync(join(tmpdir(), "felhom-chaos-"));
  const random = seededRandom(o.seed);
  const vmids = Array.from({ length: o.guests }, (_, i) => 1000 + i);
  const seedFile = join(dir, "seed.json");
  writeFileSync(seedFile, JSON.stringify(defaultSeed({ extraGuests: o.guests })));

  const sim = Bun.spawn(
    [
      ...command,
      "sim",
      "--seed",
      seedFile,
      "--task-ms",
      String(o.taskMs),
      "--auth-delay-ms",
      "1",
      "--random-seed",
      String(o.seed),
      "--control",
      "127.0.0.1:0",
    ],
    { stdout: "pipe", stderr: "pipe", stdin: "ignore" },
  );
  const simErr: string[] = [];
  void lines(sim.stderr, (l) => simErr.push(l));
  let ready: SimReady | undefined;
  const readyLine = new Promise<void>((res) => {
    void lines(sim.stdout, (l) => {
      if (ready === undefined) {
        ready = JSON.parse(l) as SimReady;
        res();
      }
    });
  });
  const summary: ChaosSummary = {
    trials: 0,
    intended: 0,
    lost: 0,
    duplicated: 0,
    kills: 0,
    restarts: 0,
    failedRestarts: 0,
    unconverged: 0,
    problems: [],
  };
  try {
    await Promise.race([
      readyLine,
      sim.exited.then((c) => {
        throw new Error(`sim exited ${c}: ${simErr.join("\n")}`);
      }),
    ]);
    const s = ready as SimReady;
    const desiredFile = join(dir, "desired.json");
    const configFile = join(dir, "agent.json");
    writeFileSync(
      configFile,
      JSON.stringify({
        proxmox: {
          endpoint: s.endpoint,
          node: s.node,
          token: s.tokens.agent,
          tls: { fingerprint: s.fingerprint },
          timeout_ms: 5000,
        },
        state_dir: join(dir, "state"),
        desired_file: desiredFile,
        local_api: { enabled: false },
        // The simulator lists a task the moment it starts, so a lost answer needs no 60 s
        // window to be told from one that never arrived (docs/reconcile.md#lost-answers); a
        // short one keeps a trial's convergence inside its deadline.
        reconcile: { interval_s: 1, unknown_window_s: 3 },
        // An idle pass logs at debug (docs/architecture.md#logs), and the rig counts idle
        // passes to know a trial converged.
        log: { level: "debug" },
      }),
      { mode: 0o600 },
    );
    const guestStates = async (): Promise<Map<number, GuestView>> => {
      const { guests } = await getJson<{ guests: GuestView[] }>(`${s.control}/v1/guests`);
      return new Map(guests.map((g) => [g.vmid, g]));
    };
    const applied = async () =>
      (await getJson<{ applied: Record<string, number> }>(`${s.control}/v1/stats`)).applied;
    const configPuts = (counts: Record<string, number>, vmid: number) =>
      counts[`PUT /nodes/${s.node}/lxc/${vmid}/config`] ?? 0;
    const powerTasks = async () =>
      (await getJson<{ tasks: SimTaskView[] }>(`${s.control}/v1/tasks`)).tasks.filter((t) =>
        POWER.has(t.type),
      );
    const setFaults = async (spec: string) => {
      const r = await fetch(`${s.control}/v1/faults`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ spec }),
      });
      if (!r.ok) throw new Error(`setting faults '${spec}': ${r.status} ${await r.text()}`);
    };

    let seen = new Set((await powerTasks()).map((t) => t.upid));
    let agent: AgentRun | undefined;
    let lastPuts = await applied();
    for (let trial = 1; trial <= o.trials; trial++) {
      const before = await guestStates();
      // Counted from where the last trial stopped counting, so nothing between trials escapes.
      const putsBefore = lastPuts;
      // Each guest: flip its run state (a task) and/or its cores (a config PUT), each half the
      // time; at least one change per trial.
      const flips = new Set(vmids.filter(() => random() < 0.5));
      const resizes = new Set(vmids.filter(() => random() < 0.5 && o.configChanges !== false));
      if (flips.size + resizes.size === 0)
        flips.add(vmids[Math.floor(random() * vmids.length)] as number);
      const want = new Map(
        vmids.map((v) => {
          const now = before.get(v);
          const running = now?.status === "running";
          const cores = now?.cores ?? 1;
          return [
            v,
            {
              status: flips.has(v) === running ? "stopped" : "running",
              cores: resizes.has(v) ? (cores === 1 ? 2 : 1) : cores,
            },
          ] as const;
        }),
      );
      writeFileSync(
        `${desiredFile}.tmp`,
        JSON.stringify({
          version: 1,
          guests: Object.fromEntries(
            vmids.map((v) => [String(v), { run: want.get(v)?.status, cores: want.get(v)?.cores }]),
          ),
        }),
      );
      renameSync(`${desiredFile}.tmp`, desiredFile);
      await setFaults(o.dropAfter > 0 ? `dropafter=${o.dropAfter}` : "");

      const result: TrialResult = {
        trial,
        intended: flips.size + resizes.size,
        lost: 0,
        duplicated: 0,
        kills: 0,
        restarts: 0,
        failedRestarts: 0,
        converged: false,
        problems: [],
      };
      const kills = trial === 1 && o.maxKills > 0 ? 1 : Math.floor(random() * (o.maxKills + 1));
      for (let k = 0; k < kills; k++) {
        // The first kill of a trial hits the running agent somewhere between reading the new
        // document and finishing its work; later ones hit a fresh agent during recovery or
        // its first pass.
        if (agent === undefined)
          agent = await startAgent(command, configFile, result, o.onAgentLine);
        await Bun.sleep(Math.floor(random() * o.killWindowMs));
        agent.proc.kill("SIGKILL");
        await agent.proc.exited;
        result.kills++;
        agent = await startAgent(command, configFile, result, o.onAgentLine);
        result.restarts++;
      }
      if (agent === undefined) agent = await startAgent(command, configFile, result, o.onAgentLine);
      result.converged = await converge(want, guestStates, agent, o);
      if (!result.converged) {
        result.problems.push(`trial ${trial}: not converged; agent: ${agent.tail().join(" | ")}`);
        agent.proc.kill("SIGKILL");
        await agent.proc.exited;
        agent = undefined;
      }

      const tasks = await powerTasks();
      const fresh = tasks.filter((t) => !seen.has(t.upid));
      seen = new Set(tasks.map((t) => t.upid));
      const after = await guestStates();
      const putsAfter = await applied();
      lastPuts = putsAfter;
      for (const v of vmids) {
        const w = want.get(v);
        const now = after.get(v);
        const count = (what: string, n: number, intended: boolean, ok: boolean) => {
          if (intended && (n === 0 || !ok)) {
            result.lost++;
            result.problems.push(`trial ${trial}: ${v} ${what} ran ${n} times and did not stick`);
          }
          const extra = intended ? Math.max(0, n - 1) : n;
          if (extra > 0) {
            result.duplicated += extra;
            result.problems.push(`trial ${trial}: ${v} ${what} ran ${n} times`);
          }
        };
        count(
          `-> ${w?.status}`,
          fresh.filter((t) => t.id === String(v)).length,
          flips.has(v),
          now?.status === w?.status,
        );
        count(
          `cores -> ${w?.cores}`,
          configPuts(putsAfter, v) - configPuts(putsBefore, v),
          resizes.has(v),
          now?.cores === w?.cores,
        );
      }
      summary.trials++;
      summary.intended += result.intended;
      summary.lost += result.lost;
      summary.duplicated += result.duplicated;
      summary.kills += result.kills;
      summary.restarts += result.restarts;
      summary.failedRestarts += result.failedRestarts;
      if (!result.converged) summary.unconverged++;
      summary.problems.push(...result.problems);
      o.onTrial?.(result);
    }
    if (agent !== undefined) {
      agent.proc.kill("SIGTERM");
      const code = await Promise.race([agent.proc.exited, Bun.sleep(15_000).then(() => -1)]);
      if (code !== 0) {
        agent.proc.kill("SIGKILL");
        summary.failedRestarts++;
        summary.problems.push(`agent exit ${code} on SIGTERM: ${agent.tail().join(" | ")}`);
      }
    }
    // Anything the agent ran after the last trial was counted is a change nobody asked for.
    const late = (await powerTasks()).filter((t) => !seen.has(t.upid));
    summary.duplicated += late.length;
    for (const t of late) summary.problems.push(`after the last trial: ${t.type} on ${t.id}`);
    const finalPuts = await applied();
    for (const v of vmids) {
      const n = configPuts(finalPuts, v) - configPuts(lastPuts, v);
      if (n > 0) {
        summary.duplicated += n;
        summary.problems.push(`after the last trial: ${n} config PUTs on ${v}`);
      }
    }
    return summary;
  } finally {
    sim.kill("SIGTERM");
    await Promise.race([sim.exited, Bun.sleep(5000)]);
    sim.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

interface AgentRun {
  proc: Subprocess<"ignore", "ignore", "pipe">;
  /** Reconcile passes that planned nothing and failed nothing, counted from the log. */
  quietPasses(): number;
  /** True once the process ended. */
  ended(): boolean;
  tail(): string[];
}

/** Spawns `run` and waits until it logs that it is starting (a failed start is recorded). */
async function startAgent(
  command: string[],
  configFile: string,
  result: TrialResult,
  onLine?: (line: string) => void,
): Promise<AgentRun> {
  const proc = Bun.spawn([...command, "--config", configFile, "run"], {
    stdout: "ignore",
    stderr: "pipe",
    stdin: "ignore",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  const recent: string[] = [];
  let quiet = 0;
  let ended = false;
  let markStarted: (v: boolean) => void = () => {};
  const started = new Promise<boolean>((res) => {
    markStarted = res;
  });
  void lines(proc.stderr, (l) => {
    onLine?.(l);
    recent.push(l.slice(0, 300));
    if (recent.length > 8) recent.shift();
    if (l.includes("felhom-agent daemon starting")) markStarted(true);
    if (
      l.includes('"reconcile pass"') &&
      /"planned":0\b/.test(l) &&
      /"failed":0\b/.test(l) &&
      /"skipped":0\b/.test(l)
    ) {
      quiet++;
    }
  }).finally(() => markStarted(false));
  void proc.exited.then(() => {
    ended = true;
  });
  const run: AgentRun = {
    proc,
    quietPasses: () => quiet,
    ended: () => ended,
    tail: () => [...recent],
  };
  if (!(await started)) {
    result.failedRestarts++;
    result.problems.push(`agent ended before starting: ${run.tail().join(" | ")}`);
  }
  return run;
}

/**
 * Waits until every guest is in its wanted state and then the agent finishes a pass that plans
 * nothing: it has seen the result, so no retry of this trial's work can come later.
 */
async function converge(
  want: ReadonlyMap<number, { status: string; cores: number }>,
  guestStates: () => Promise<Map<number, GuestView>>,
  agent: AgentRun,
  o: ChaosOptions,
): Promise<boolean> {
  const deadline = Date.now() + o.convergeTimeoutMs;
  let quietAtSettle: number | undefined;
  while (Date.now() < deadline && !agent.ended()) {
    if (quietAtSettle === undefined) {
      const states = await guestStates();
      const settled = [...want].every(
        ([v, w]) => states.get(v)?.status === w.status && states.get(v)?.cores === w.cores,
      );
      if (settled) quietAtSettle = agent.quietPasses();
    } else if (agent.quietPasses() > quietAtSettle) {
      return true;
    }
    await Bun.sleep(25);
  }
  return false;
}
