import { fstatSync } from "node:fs";
import type { LogLevel } from "./types.ts";

/**
 * syslog priorities of our levels (docs/architecture.md#logs): journald reads a leading `<N>`
 * on a line of a service's stdout or stderr as that line's priority and strips it, so
 * `journalctl -p warning` shows warnings and errors only. There is no `notice` level here.
 */
export const SYSLOG_PRIORITY: Readonly<Record<LogLevel, number>> = {
  error: 3,
  warn: 4,
  info: 6,
  debug: 7,
};

export function withPriorityPrefix(line: string, level: LogLevel): string {
  return `<${SYSLOG_PRIORITY[level]}>${line}`;
}

/** `dev` and `ino` of an open file descriptor, as big integers (an inode may pass 2^53). */
export type FdIdentity = (fd: number) => { dev: bigint; ino: bigint } | undefined;

const fstatIdentity: FdIdentity = (fd) => {
  try {
    const st = fstatSync(fd, { bigint: true });
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
};

/**
 * True when stderr is the journal's stream: systemd sets `JOURNAL_STREAM=<dev>:<ino>` for a
 * service whose stdout or stderr it connected to journald, and the variable is inherited by
 * whatever that service starts, so it counts only when it names our own fd 2. Run by hand in
 * a terminal (or under a test runner), lines stay plain JSON.
 */
export function stderrIsJournal(
  env: Record<string, string | undefined>,
  identity: FdIdentity = fstatIdentity,
): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? "");
  if (!m) return false;
  const fd = identity(2);
  return fd !== undefined && fd.dev === BigInt(m[1] as string) && fd.ino === BigInt(m[2] as string);
}
