import { expect, test } from "bun:test";
import { runDemoScenario } from "../../src/demo/scenario.ts";
import { systemClock } from "../../src/util/clock.ts";

test("the demo walkthrough behaves at every step and says so", async () => {
  const out: string[] = [];
  const logs: string[] = [];
  const results = await runDemoScenario(
    { out: (t) => out.push(t), clock: systemClock, logSink: (l) => logs.push(l) },
    { taskMs: 30 },
  );
  expect(results.length).toBeGreaterThanOrEqual(4);
  for (const r of results)
    expect({ step: r.title, behaved: r.behaved }).toEqual({ step: r.title, behaved: true });
  const text = out.join("");
  expect(text).toContain("HTTP requests that reached the simulator: 0");
  expect(text).toContain("guest 101 afterwards: running, snapshot left: no");
});
