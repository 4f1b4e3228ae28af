import { expect, test } from "bun:test";
import { stderrIsJournal, withPriorityPrefix } from "../../src/log/journald.ts";
import { createLogger, lineSink } from "../../src/log/logger.ts";
import { ManualClock } from "../support/manual-clock.ts";

test("each level carries its syslog priority: <3> error, <4> warn, <6> info, <7> debug", () => {
  const out: string[] = [];
  const log = createLogger({
    level: "debug",
    sink: lineSink((t) => out.push(t), true),
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
  });
  log.error("e");
  log.warn("w");
  log.info("i");
  log.debug("d");
  expect(out.map((l) => l.slice(0, 3))).toEqual(["<3>", "<4>", "<6>", "<7>"]);
  for (const l of out) {
    expect(l.endsWith("\n")).toBe(true);
    // What journald keeps once it strips the prefix is the same JSON record as before.
    expect(JSON.parse(l.slice(3))).toMatchObject({ ts: "2026-01-01T00:00:00.000Z" });
  }
  expect(withPriorityPrefix("{}", "warn")).toBe("<4>{}");
});

test("without the journal the lines stay plain JSON", () => {
  const out: string[] = [];
  const log = createLogger({ level: "debug", sink: lineSink((t) => out.push(t), false) });
  log.warn("w", { vmid: 101 });
  expect(out).toHaveLength(1);
  expect(JSON.parse(out[0] as string)).toMatchObject({ level: "warn", msg: "w", vmid: 101 });
});

test("stderr is the journal only when JOURNAL_STREAM names our own fd 2", () => {
  const fd2 = () => ({ dev: 25n, ino: 123456789012345678n });
  expect(stderrIsJournal({ JOURNAL_STREAM: "25:123456789012345678" }, fd2)).toBe(true);
  // Inherited from a service that started us, but our stderr is something else (a pipe).
  expect(stderrIsJournal({ JOURNAL_STREAM: "25:99" }, fd2)).toBe(false);
  expect(stderrIsJournal({}, fd2)).toBe(false);
  expect(stderrIsJournal({ JOURNAL_STREAM: "junk" }, fd2)).toBe(false);
  expect(stderrIsJournal({ JOURNAL_STREAM: "25:123456789012345678" }, () => undefined)).toBe(false);
});

test("the real fd 2 of a test run is not the journal", () => {
  expect(stderrIsJournal({ JOURNAL_STREAM: "1:1" })).toBe(false);
});
