import type { AgentReady } from "../daemon/agent-daemon.ts";
import type { Logger } from "../log/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { PveSimulator } from "../sim/pve/index.ts";
import type { Clock } from "../util/clock.ts";

/** One run of the agent daemon the way `felhom-agent run` starts it, until `signal` aborts. */
export interface AgentRun {
  configPath: string;
  /** The daemon's own output (its JSON log lines). */
  stderr(text: string): void;
  signal: AbortSignal;
  clock: Clock;
  makeClient(): ProxmoxClient;
  onReady(ready: AgentReady): void;
}

/** Resolves with the daemon's exit code. */
export type RunAgent = (run: AgentRun) => Promise<number>;

export interface DemoIo {
  out(text: string): void;
  clock: Clock;
  /** Where the agent's JSON log lines go (stderr in the CLI with --verbose). */
  logSink(line: string): void;
  /**
   * Starts the daemon; handed in by the CLI, which owns `run`, because the demo is a leaf that
   * never imports the CLI (docs/architecture.md#layers).
   */
  runAgent: RunAgent;
}

export interface DemoStepResult {
  title: string;
  behaved: boolean;
  note: string;
}

/** What every demo step gets: the running simulator and ways to talk to it as the agent. */
export interface DemoEnv {
  sim: PveSimulator;
  io: DemoIo;
  logger: Logger;
  /** A Proxmox client as the agent builds it, pinned to the simulator (or to `fingerprint`). */
  client(token: string, fingerprint?: string): ProxmoxClient;
  /** A fresh directory for this demo run (state dir, config files); removed afterwards. */
  workDir: string;
  /** Runs `fn` when the demo ends, whatever happened (newest first), before the work dir goes. */
  defer(fn: () => Promise<void> | void): void;
}

/**
 * One step of `felhom-agent demo`: says what a newcomer should see, shows it, and checks that
 * the agent behaved that way. `note` is the one-line outcome printed after the step.
 */
export interface DemoStep {
  title: string;
  run(env: DemoEnv): Promise<{ behaved: boolean; note: string }>;
}
