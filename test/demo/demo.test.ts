import { expect, test } from "bun:test";
import { runAgentAsCli } from "../../src/cli/demo.ts";
import { runDemoScenario } from "../../src/demo/scenario.ts";
import { systemClock } from "../../src/util/clock.ts";

test("the demo walkthrough behaves at every step and says so", async () => {
  const out: string[] = [];
  const logs: string[] = [];
  const results = await runDemoScenario(
    {
      out: (t) => out.push(t),
      clock: systemClock,
      logSink: (l) => logs.push(l),
      runAgent: runAgentAsCli,
    },
    { taskMs: 30 },
  );
  expect(results.length).toBeGreaterThanOrEqual(12);
  for (const r of results)
    expect({ step: r.title, behaved: r.behaved }).toEqual({ step: r.title, behaved: true });
  const text = out.join("");
  expect(text).toContain("HTTP requests that reached the simulator: 0");
  expect(text).toContain("guest 101 afterwards: running, snapshot left: no");
  expect(text).toContain("POST /v1/self/snapshots/ctl-deploy-42/rollback -> 202, done");
  expect(text).toContain("results the hub received for job-7: pending_signature, ok");
  expect(text).toMatch(/chain: verified, \d+ rows/);
  // A night of scheduled backups: the floor-kept retention, the NAS failure, the overdue flag.
  const night = text.slice(text.indexOf("A night of scheduled backups"));
  expect(night).toContain("guest 101 on local: pruned 2 (the 10 and 20 days old)");
  expect(night).toMatch(/report 101\/nas1: .*last failure: .*OVERDUE/);
  expect(night).toContain("backup.retention guest:101 prune");
  // Self-update: the running agent's gate, then up, back, and an unhealthy build rolled back.
  const update = text.slice(text.indexOf("Self-update:"), text.indexOf("The audit log"));
  for (const line of [
    "[ ok ] hub job agent.update without a signature -> pending_signature",
    "(update_downgrade)",
    "[ ok ] the supervisor starts 1.1.0: on probation, then healthy (first hub poll) -> good",
    "[ ok ] the supervisor starts 1.0.0: on probation, then healthy (first hub poll) -> good",
    "its second start: rolled_back; current -> 1.0.0",
    "[ ok ] rolled back to 1.0.0, 1.2.0 removed and never tried again (versions on disk: 1.0.0, 1.1.0)",
    "[ ok ] audited: good, good, rolled_back",
  ])
    expect(update).toContain(line);
  expect(update).not.toContain("[FAIL]");
  // A compromised hub, unsigned: each attempt is held or refused, and the step says so.
  const hub = results.find((r) => r.title.startsWith("A compromised hub"));
  expect(hub?.behaved).toBe(true);
  const step = text.slice(text.indexOf("A compromised hub"), text.indexOf("The audit log"));
  for (const line of [
    "[ ok ] hub job job-prune: guest.backup 101 with remove: true -> pending_signature",
    "guest 101's archives on local: 1 -> 2, none removed",
    "[ ok ] hub job job-copy: guest.provision 150 from guest 101's backup -> pending_signature",
    "unprivileged: false -> pending_signature",
    "its token: GET /v1/self -> 401",
    "job-stale -> rejected binding_mismatch",
  ])
    expect(step).toContain(line);
  expect(step).not.toContain("[FAIL]");
});
