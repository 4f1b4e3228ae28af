import { expect, test } from "bun:test";
import { runDemoScenario } from "../../src/demo/scenario.ts";
import { HEALTH_STEPS } from "../../src/demo/steps/health.ts";
import { systemClock } from "../../src/util/clock.ts";

test("the demo's host-health step: failing disk and tunnel drop reach the report and status", async () => {
  const out: string[] = [];
  const results = await runDemoScenario(
    {
      out: (t) => out.push(t),
      clock: systemClock,
      logSink: () => {},
      runAgent: async () => 1,
    },
    { taskMs: 30, steps: HEALTH_STEPS },
  );
  const text = out.join("");
  expect(results.map((r) => r.behaved)).toEqual([true]);
  expect(text).toContain("alert opened: critical smart_failing disk:/dev/sda");
  expect(text).toContain("alert opened: critical tunnel_down tunnel:cloudflared");
  expect(text).toContain("status | open alerts: 3");
});
