import { join } from "node:path";
import { linkedVersion } from "../../src/update/layout.ts";

/** One start of the service as the supervisor saw it. */
export interface SupervisedRun {
  /** What `<state_dir>/current` named when this start began. */
  version: string | undefined;
  pid: number;
  code: number | null;
  signal: string | null;
  log: string;
}

/**
 * A stand-in for systemd with `Restart=always`: it starts `<state_dir>/current/felhom-agent`
 * with the unit's arguments, resolving the link afresh at every start as systemd does when it
 * executes the path, and starts it again `restartMs` after any exit, clean or not, until
 * stopped. There is no systemd in the test environment; this is the part of its behaviour the
 * self-update relies on.
 */
export class Supervisor {
  readonly runs: SupervisedRun[] = [];
  private proc: ReturnType<typeof Bun.spawn> | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly o: {
      stateDir: string;
      args: string[];
      env: Record<string, string | undefined>;
      restartMs: number;
      /** A bound on starts, so a crash loop ends the test instead of spinning. */
      maxStarts: number;
    },
  ) {}

  start(): void {
    this.loop = this.run();
  }

  /** The run in progress (the last one started). */
  get current(): SupervisedRun | undefined {
    return this.proc === undefined ? undefined : this.runs.at(-1);
  }

  /** Sends `signal` to the process running now, as a crash or an operator would. */
  kill(signal: "SIGKILL" | "SIGTERM"): void {
    this.proc?.kill(signal);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.proc?.kill("SIGTERM");
    const p = this.proc;
    if (p) {
      const t = setTimeout(() => p.kill("SIGKILL"), 10_000);
      await p.exited;
      clearTimeout(t);
    }
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped && this.runs.length < this.o.maxStarts) {
      const version = linkedVersion(join(this.o.stateDir, "current"));
      const proc = Bun.spawn([join(this.o.stateDir, "current", "felhom-agent"), ...this.o.args], {
        env: this.o.env,
        stdin: "ignore",
        stdout: "ignore",
        stderr: "pipe",
      });
      this.proc = proc;
      const entry: SupervisedRun = { version, pid: proc.pid, code: null, signal: null, log: "" };
      this.runs.push(entry);
      const reading = (async () => {
        const dec = new TextDecoder();
        for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
          entry.log += dec.decode(chunk);
        }
      })();
      await proc.exited;
      await reading.catch(() => {});
      entry.code = proc.exitCode;
      entry.signal = proc.signalCode === null ? null : String(proc.signalCode);
      this.proc = undefined;
      if (this.stopped) break;
      await Bun.sleep(this.o.restartMs);
    }
  }
}
