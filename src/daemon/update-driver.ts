import type { Logger } from "../log/types.ts";
import type { Store } from "../store/store.ts";
import { updateLayout } from "../update/layout.ts";
import { type StartOutcome, Updater } from "../update/updater.ts";
import type { Clock } from "../util/clock.ts";
import { AGENT_VERSION } from "../version.ts";

/** How the daemon paces a self-update; defaults for a real host, shorter in tests. */
export interface UpdateTiming {
  /** How often an open attempt is looked at and carried on. */
  checkEveryMs: number;
  /** The new version's first start must become healthy within this, or it is rolled back. */
  healthDeadlineMs: number;
  /** Each smoke-test command of the new binary. */
  smokeTimeoutMs: number;
  /** The whole artifact download. */
  downloadTimeoutMs: number;
}

export const DEFAULT_UPDATE_TIMING: UpdateTiming = {
  checkEveryMs: 5_000,
  healthDeadlineMs: 10 * 60_000,
  smokeTimeoutMs: 30_000,
  downloadTimeoutMs: 15 * 60_000,
};

export interface UpdateDriverOptions {
  store: Store;
  stateDir: string;
  /** The configuration file the daemon was started with, for the smoke test's `config check`. */
  configPath?: string;
  env: Record<string, string | undefined>;
  fetchArtifact?: (
    version: string,
    target: string,
    timeoutMs: number,
  ) => Promise<ReadableStream<Uint8Array>>;
  timing: UpdateTiming;
  clock: Clock;
  logger: Logger;
  /** Versions are compared with this; the build's own version unless a test plays another. */
  runningVersion?: string;
  /** Stops the daemon so the supervisor starts whatever `current` names now. */
  restart(why: string): void;
}

/**
 * The daemon's side of self-update (docs/self-update.md#steps-and-recovery): the start-up check
 * before anything else runs, the health gate of a new version's first start, and the loop that
 * carries an admitted attempt to the switch and then asks for a restart.
 */
export class UpdateDriver {
  private readonly updater: Updater;
  private probation: ReturnType<Updater["onStart"]> | undefined;
  private healthTimer: ReturnType<typeof setTimeout> | undefined;
  private settled = false;

  constructor(private readonly o: UpdateDriverOptions) {
    const fetch = o.fetchArtifact;
    this.updater = new Updater({
      store: o.store,
      layout: updateLayout(o.stateDir),
      runningVersion: o.runningVersion ?? AGENT_VERSION,
      ...(fetch
        ? { fetchArtifact: (v: string, t: string) => fetch(v, t, o.timing.downloadTimeoutMs) }
        : {}),
      smoke: {
        env: o.env,
        timeoutMs: o.timing.smokeTimeoutMs,
        ...(o.configPath !== undefined ? { configPath: o.configPath } : {}),
      },
      clock: o.clock,
      logger: o.logger,
    });
  }

  /** Runs once at start-up, before recovery; `rolled_back` means: exit now, do not start. */
  start(): StartOutcome {
    const out = this.updater.onStart();
    if (out.kind === "health_gate") {
      this.probation = out;
      this.o.logger.info("new version on its first start: it must become healthy in time", {
        version: out.attempt.version,
        deadline_ms: this.o.timing.healthDeadlineMs,
      });
      this.healthTimer = setTimeout(() => this.unhealthy(), this.o.timing.healthDeadlineMs);
    }
    return out;
  }

  /** The health gate's signal: recovery done and one hub poll (or reconcile pass) succeeded. */
  healthy(): void {
    const p = this.probation;
    if (p?.kind !== "health_gate" || this.settled) return;
    this.settled = true;
    clearTimeout(this.healthTimer);
    this.updater.markGood(p.attempt);
  }

  /**
   * Carries an open attempt on until `signal` aborts; asks for a restart once switched. While
   * a new version is on probation, `isHealthy` is asked on every round.
   */
  async run(signal: AbortSignal, isHealthy: () => boolean): Promise<void> {
    while (!signal.aborted) {
      if (!this.settled && this.probation?.kind === "health_gate" && isHealthy()) this.healthy();
      let r: Awaited<ReturnType<Updater["advance"]>> = "idle";
      try {
        r = await this.updater.advance();
      } catch (err) {
        this.o.logger.error("update step failed unexpectedly", { error: (err as Error).message });
      }
      if (r === "switched") {
        this.o.restart("switched to a new version");
        return;
      }
      await sleep(this.o.timing.checkEveryMs, signal);
    }
  }

  stop(): void {
    clearTimeout(this.healthTimer);
  }

  private unhealthy(): void {
    const p = this.probation;
    if (p?.kind !== "health_gate" || this.settled) return;
    this.settled = true;
    if (this.updater.rollbackNeedsState()) {
      // The state copy goes back only before anything else runs: exit, and the next start
      // (the attempt is `started`) rolls back (docs/self-update.md#rollback-across-a-schema-change).
      this.o.restart(
        `did not become healthy within ${this.o.timing.healthDeadlineMs} ms; rolled back at the next start`,
      );
      return;
    }
    const out = this.updater.rollBack(
      p.attempt,
      `did not become healthy within ${this.o.timing.healthDeadlineMs} ms`,
    );
    if (out.kind === "rolled_back") this.o.restart("rolled back to the previous version");
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
