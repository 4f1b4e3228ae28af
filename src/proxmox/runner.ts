import type { Logger } from "../log/types.ts";
import { silentLogger } from "../log/types.ts";

/**
 * Runs a host command of the privileged side (docs/architecture.md#fence). Never a shell: the command is an
 * absolute path and the arguments are passed as an argv array. This module and privileged.ts
 * never open a network connection (asserted by test/proxmox/fence.test.ts).
 */
export interface Runner {
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

export interface RunOptions {
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed. No stdin at all when absent. */
  stdin?: string;
}

export interface RunResult {
  /** Exit status; null when the process ended by a signal. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** The timeout fired and the process was killed. */
  timedOut: boolean;
  /** Output went past the cap: it was cut and the process killed. */
  truncated: boolean;
}

/** The command could not be started at all (bad path, not executable). */
export class RunnerError extends Error {
  override readonly name = "RunnerError";
  constructor(
    readonly command: string,
    readonly reason: string,
  ) {
    super(`cannot run ${command}: ${reason}`);
  }
}

export interface SpawnRunnerOptions {
  mode: "direct" | "sudo";
  /** Absolute path of sudo (sudo mode). */
  sudoPath?: string;
  /** Cap per stream (stdout, stderr). */
  maxOutputBytes?: number;
  defaultTimeoutMs?: number;
  /** sudo mode: time between the relayed SIGTERM and SIGKILL. */
  killGraceMs?: number;
  /** After the process ends, how long to wait for pipes still held open by its children. */
  drainGraceMs?: number;
  logger?: Logger;
}

const MiB = 1024 * 1024;

// The agent's own environment holds FELHOM_AGENT_PROXMOX_TOKEN; children get a fixed one.
// LC_ALL=C keeps tool output in the form the parsers expect.
const CHILD_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", LANG: "C" };

/** Runner over Bun.spawn, directly (already root) or through `sudo -n`. */
export function createSpawnRunner(opts: SpawnRunnerOptions): Runner {
  const cap = opts.maxOutputBytes ?? MiB;
  const defaultTimeout = opts.defaultTimeoutMs ?? 60_000;
  const killGrace = opts.killGraceMs ?? 2_000;
  const drainGrace = opts.drainGraceMs ?? 1_000;
  const log = opts.logger ?? silentLogger;
  const sudoPath = opts.sudoPath ?? "/usr/bin/sudo";
  if (opts.mode === "sudo" && !isAbsolute(sudoPath)) {
    throw new RunnerError(sudoPath, "sudo path must be absolute");
  }

  return {
    async run(cmd, args, runOpts = {}) {
      if (!isAbsolute(cmd)) throw new RunnerError(cmd, "command must be an absolute path");
      if (args.some((a) => typeof a !== "string" || a.includes("\0"))) {
        throw new RunnerError(cmd, "arguments must be strings without NUL");
      }
      // `-n`: never prompt (a missing sudoers entry fails at once instead of hanging);
      // `--`: sudo stops parsing options, whatever follows.
      const argv = opts.mode === "sudo" ? [sudoPath, "-n", "--", cmd, ...args] : [cmd, ...args];
      const timeoutMs = runOpts.timeoutMs ?? defaultTimeout;
      log.debug("run", { cmd, args: [...args], mode: opts.mode });

      let proc: ReturnType<typeof Bun.spawn<"pipe" | "ignore", "pipe", "pipe">>;
      try {
        proc = Bun.spawn(argv, {
          stdin: runOpts.stdin !== undefined ? "pipe" : "ignore",
          stdout: "pipe",
          stderr: "pipe",
          env: CHILD_ENV,
          // Own process group, so a kill reaches the command's children too.
          detached: true,
        });
      } catch (err) {
        throw new RunnerError(argv[0] as string, (err as Error).message);
      }

      let killed = false;
      let graceTimer: ReturnType<typeof setTimeout> | undefined;
      const kill = () => {
        if (killed) return;
        killed = true;
        if (opts.mode === "sudo") {
          // SIGKILL to sudo would orphan the root command (it cannot be relayed); SIGTERM is
          // relayed by sudo to the command. SIGKILL follows if it does not end.
          signal(proc.pid, "SIGTERM", false);
          graceTimer = setTimeout(() => signal(proc.pid, "SIGKILL", true), killGrace);
        } else {
          signal(proc.pid, "SIGKILL", true);
        }
      };

      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, timeoutMs);

      if (runOpts.stdin !== undefined && proc.stdin) {
        try {
          proc.stdin.write(runOpts.stdin);
          await proc.stdin.end();
        } catch {
          // The command may exit without reading stdin; its exit status tells the story.
        }
      }

      const out = readCapped(proc.stdout, cap, kill);
      const err = readCapped(proc.stderr, cap, kill);
      await proc.exited;
      clearTimeout(timer);
      const drained = Promise.all([out.done, err.done]);
      const grace = new Promise<"late">((r) => setTimeout(() => r("late"), drainGrace).unref());
      if ((await Promise.race([drained, grace])) === "late") {
        out.cancel();
        err.cancel();
      }
      const [o, e] = await drained;
      if (graceTimer) clearTimeout(graceTimer);

      const result: RunResult = {
        code: proc.exitCode,
        signal: proc.signalCode == null ? null : String(proc.signalCode),
        stdout: o.text,
        stderr: e.text,
        timedOut,
        truncated: o.truncated || e.truncated,
      };
      const fields = {
        cmd,
        code: result.code,
        signal: result.signal,
        timedOut,
        truncated: result.truncated,
      };
      if (timedOut) log.warn("command timed out and was killed", { ...fields, timeoutMs });
      else if (result.truncated)
        log.warn("command output over the cap; killed", { ...fields, cap });
      else log.debug("run done", fields);
      return result;
    },
  };
}

function isAbsolute(p: string): boolean {
  return typeof p === "string" && p.startsWith("/") && !p.includes("\0");
}

function signal(pid: number, sig: "SIGTERM" | "SIGKILL", group: boolean): void {
  try {
    process.kill(group ? -pid : pid, sig);
  } catch {
    // Already gone, or (sudo mode) a root process we may not signal.
  }
}

interface CappedRead {
  done: Promise<{ text: string; truncated: boolean }>;
  cancel(): void;
}

/** Reads a stream up to `cap` bytes; past it, keeps the first `cap` bytes and calls onOverflow. */
function readCapped(
  stream: ReadableStream<Uint8Array>,
  cap: number,
  onOverflow: () => void,
): CappedRead {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let truncated = false;
  const done = (async () => {
    try {
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        if (total + value.byteLength > cap) {
          chunks.push(value.subarray(0, cap - total));
          total = cap;
          truncated = true;
          onOverflow();
          await reader.cancel().catch(() => {});
          break;
        }
        chunks.push(value);
        total += value.byteLength;
      }
    } catch {
      // Cancelled after the drain grace: keep what was read.
    }
    const bytes = Buffer.concat(chunks, total);
    return { text: new TextDecoder("utf-8", { fatal: false }).decode(bytes), truncated };
  })();
  return { done, cancel: () => void reader.cancel().catch(() => {}) };
}

/** A scripted result: fields default to a clean exit 0 with empty output; an Error rejects. */
export type ScriptedResult = Partial<RunResult> | Error;

export interface RecordedCall {
  cmd: string;
  args: string[];
  opts: RunOptions | undefined;
}

export type RunScript =
  | readonly (ScriptedResult | ((call: RecordedCall) => ScriptedResult))[]
  | ((call: RecordedCall) => ScriptedResult);

export interface RecordingRunner extends Runner {
  /** Every call, in order. */
  readonly calls: RecordedCall[];
}

/**
 * A fake Runner for tests: records each call and answers from the script (a list consumed in
 * order, or a function of the call). Running past the end of a list is an error, so a test
 * notices commands it did not expect.
 */
export function createRecordingRunner(script: RunScript = []): RecordingRunner {
  const calls: RecordedCall[] = [];
  let next = 0;
  return {
    calls,
    async run(cmd, args, opts) {
      const call: RecordedCall = { cmd, args: [...args], opts };
      calls.push(call);
      let entry: ScriptedResult | ((c: RecordedCall) => ScriptedResult);
      if (typeof script === "function") entry = script;
      else {
        if (next >= script.length) {
          throw new Error(`unexpected command #${calls.length}: ${cmd} ${args.join(" ")}`);
        }
        entry = script[next++] as ScriptedResult | ((c: RecordedCall) => ScriptedResult);
      }
      const r = typeof entry === "function" ? entry(call) : entry;
      if (r instanceof Error) throw r;
      return {
        code: 0,
        signal: null,
        stdout: "",
        stderr: "",
        timedOut: false,
        truncated: false,
        ...r,
      };
    },
  };
}
