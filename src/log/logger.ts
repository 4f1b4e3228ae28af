import { type Clock, systemClock } from "../util/clock.ts";
import { withPriorityPrefix } from "./journald.ts";
import { createRedactor } from "./redact.ts";
import type { LogFields, Logger, LogLevel } from "./types.ts";

export interface CreateLoggerOptions {
  level: LogLevel;
  /** Receives each record as one JSON line, without the newline, and its level. */
  sink: (line: string, level: LogLevel) => void;
  clock?: Clock;
  /** Known secrets (config token, guest tokens, …); asked for on every record. */
  secrets?: () => Iterable<string>;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const RESERVED = new Set(["ts", "level", "msg"]);

/**
 * JSON-lines logger. Redaction is by construction (redact.ts): secret-named fields, every
 * known secret anywhere in the record, Authorization-header shapes; Errors become plain data.
 * Logging never throws.
 */
export function createLogger(opts: CreateLoggerOptions): Logger {
  const clock = opts.clock ?? systemClock;
  const redactor = createRedactor(opts.secrets ? { secrets: opts.secrets } : {});
  const threshold = RANK[opts.level];

  const emit = (level: LogLevel, base: LogFields, msg: string, fields: LogFields | undefined) => {
    if (RANK[level] < threshold) return;
    let line: string;
    let lineLevel = level;
    try {
      const merged: LogFields = {};
      for (const src of [base, fields ?? {}]) {
        for (const [k, v] of Object.entries(src)) merged[RESERVED.has(k) ? `_${k}` : k] = v;
      }
      const clean = redactor.value(merged) as Record<string, unknown>;
      line = JSON.stringify({
        ts: new Date(clock.now()).toISOString(),
        level,
        msg: redactor.text(String(msg)),
        ...clean,
      });
    } catch {
      lineLevel = "error";
      line = JSON.stringify({
        ts: new Date().toISOString(),
        level: "error",
        msg: "log record could not be serialised",
      });
    }
    try {
      opts.sink(line, lineLevel);
    } catch {
      // A failing sink must not take the caller down with it.
    }
  };

  const make = (base: LogFields): Logger => ({
    debug: (msg, fields) => emit("debug", base, msg, fields),
    info: (msg, fields) => emit("info", base, msg, fields),
    warn: (msg, fields) => emit("warn", base, msg, fields),
    error: (msg, fields) => emit("error", base, msg, fields),
    child: (fields) => make({ ...base, ...fields }),
  });
  return make({});
}

/** A sink writing lines to stderr (stdout is reserved for command output). */
export function stderrSink(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * A sink for a long-running command: one line per record to `write`, with its syslog priority
 * in front when `priorityPrefix` (stderr is the journal: docs/architecture.md#logs).
 */
export function lineSink(
  write: (text: string) => void,
  priorityPrefix: boolean,
): (line: string, level: LogLevel) => void {
  return priorityPrefix
    ? (line, level) => write(`${withPriorityPrefix(line, level)}\n`)
    : (line) => write(`${line}\n`);
}
