import { expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../../src/log/types.ts";
import { StoreError } from "../../src/store/errors.ts";
import { type OpenStoreOptions, openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";

// The same manual clock the simulator tests use.
import { ManualClock } from "../support/manual-clock.ts";

export { ManualClock };

/** A temporary state dir; `cleanup()` closes every store opened through it and removes it. */
export class TempStateDir {
  readonly dir = mkdtempSync(join(tmpdir(), "felhom-store-"));
  readonly clock = new ManualClock();
  private readonly opened: Store[] = [];

  get dbPath(): string {
    return join(this.dir, "state.db");
  }

  open(options: Partial<OpenStoreOptions> = {}): Store {
    const store = openStore({ path: this.dbPath, clock: this.clock, ...options });
    this.opened.push(store);
    return store;
  }

  cleanup(): void {
    for (const s of this.opened) s.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs `fn` and returns the error it threw (fails the test when it does not throw). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to throw");
}

/** Runs `fn` and returns the StoreError it threw (fails the test on any other outcome). */
export function storeError(fn: () => unknown): StoreError {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(StoreError);
  return err as StoreError;
}

export interface SpawnedWriter {
  pid: number;
  journalId: number | undefined;
  kill(): Promise<void>;
}

/** Starts fixtures/crash-writer.ts and waits for its report line. */
export async function spawnWriter(
  dbPath: string,
  step: "hold" | "intent" | "posted",
): Promise<SpawnedWriter> {
  const child = Bun.spawn(
    [process.execPath, join(import.meta.dir, "fixtures", "crash-writer.ts"), dbPath, step],
    {
      stdout: "pipe",
      stderr: "pipe",
      timeout: 20_000,
      killSignal: "SIGKILL",
    },
  );
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      const err = await new Response(child.stderr).text();
      throw new Error(`crash writer exited before reporting: ${err}`);
    }
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const report = JSON.parse(text.slice(0, text.indexOf("\n"))) as {
    pid: number;
    journalId?: number;
  };
  return {
    pid: report.pid,
    journalId: report.journalId,
    async kill() {
      child.kill("SIGKILL");
      await child.exited;
    },
  };
}

export interface LogRecord {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** A Logger that keeps what it was given. */
export function recordingLogger(records: LogRecord[] = []): Logger & { records: LogRecord[] } {
  const make = (base: Record<string, unknown>): Logger => ({
    debug: (msg, fields) => records.push({ level: "debug", msg, fields: { ...base, ...fields } }),
    info: (msg, fields) => records.push({ level: "info", msg, fields: { ...base, ...fields } }),
    warn: (msg, fields) => records.push({ level: "warn", msg, fields: { ...base, ...fields } }),
    error: (msg, fields) => records.push({ level: "error", msg, fields: { ...base, ...fields } }),
    child: (fields) => make({ ...base, ...fields }),
  });
  return Object.assign(make({}), { records });
}
