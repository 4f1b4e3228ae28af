import { expect, test } from "bun:test";
import { runAgentAsCli } from "../../src/cli/demo.ts";
import { runDemoScenario } from "../../src/demo/scenario.ts";
import { STORAGE_STEPS } from "../../src/demo/steps/storage.ts";
import { systemClock } from "../../src/util/clock.ts";

test("the backup-target demo step behaves: USB attached, NFS held until signed, the pulled disk reported and audited", async () => {
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
    { taskMs: 50, steps: STORAGE_STEPS },
  );
  expect(results.map((r) => r.behaved)).toEqual([true]);
  expect(out).toContain(
    "-> pending_signature (backups to it would copy customer data to nas.lan, off this host)",
  );
  expect(out).toMatch(/next pass: nas1 held for an operator's signature as po-[0-9a-f]{16}/);
  expect(out).toMatch(/the operator signs po-[0-9a-f]{16} .* -> accepted, done/);
  expect(out).toContain("root: /usr/bin/mount -o nosuid,nodev,noexec UUID=");
  expect(out).toContain('"reason":"USB disk 2f0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3 not attached"');
  expect(out).toMatch(/audit #\d+: agent storage\.presence storage:usb1 missing/);
});
