import { expect, test } from "bun:test";
import { runAgentAsCli } from "../../src/cli/demo.ts";
import { runDemoScenario } from "../../src/demo/scenario.ts";
import { RECONCILE_STEPS } from "../../src/demo/steps/reconcile.ts";
import { systemClock } from "../../src/util/clock.ts";

test("the reconcile demo steps behave", async () => {
  let out = "";
  const results = await runDemoScenario(
    {
      out: (t) => {
        out += t;
      },
      clock: systemClock,
      logSink: () => {},
      runAgent: runAgentAsCli,
    },
    { taskMs: 50, steps: RECONCILE_STEPS },
  );
  expect(results.map((r) => r.behaved)).toEqual([true, true]);
  expect(out).toContain("plan: guest.config 102");
  expect(out).toContain("plan: guest.start 102");
  expect(out).toContain("plan: nothing to do");
});
