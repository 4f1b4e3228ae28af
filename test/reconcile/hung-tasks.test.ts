import { afterEach, expect, test } from "bun:test";
import { JumpClock } from "../support/jump-clock.ts";
import { Rig, until } from "./support.ts";

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

test("N hung tasks with concurrency N: past the hang deadline another guest still converges", async () => {
  const clock = new JumpClock();
  rig = await Rig.start(
    { taskMs: 50, faults: { hang: ["vzstop"] } },
    { clock, concurrency: 2, engine: { hungTaskMs: 90_000, taskDeadlineMs: 15 * 60_000 } },
  );
  const r = rig;
  // Two stops that never finish take both global slots.
  const hung = await Promise.all(
    [101, 103].map((vmid) =>
      r.engine.enqueue({
        op: "guest.stop",
        vmid,
        params: {},
        origin: "operator",
        priority: "interactive",
      }),
    ),
  );
  await until(
    () => r.store.journal.inFlight().filter((e) => e.phase === "posted").length === 2,
    "both stops to be posted",
  );
  r.setDesired({
    version: 1,
    guests: { "101": { run: "running" }, "102": { run: "running" }, "103": { run: "running" } },
  });
  let report: Awaited<ReturnType<typeof r.reconciler.runPass>> | undefined;
  const pass = r.reconciler.runPass().then((p) => {
    report = p;
  });
  // The start of 102 waits for a slot; nothing of it reaches Proxmox yet.
  await until(() => r.engine.queue.size.waiting === 1, "the start to wait for a slot");
  expect(r.sim.state.guest(102)?.running).toBe(false);

  clock.jump(90_000);
  await until(() => report !== undefined, "the pass to finish", 10_000);
  await pass;
  expect(report?.planned.map((a) => `${a.op}:${a.vmid}`)).toEqual(["guest.start:102"]);
  expect(report?.results.map((x) => x.state)).toEqual(["done"]);
  expect(r.sim.state.guest(102)?.running).toBe(true);
  // The hung guests stay busy, and the hangs are reported and audited.
  expect([...r.engine.busyGuests()].sort()).toEqual([101, 103]);
  expect(report?.hung.map((h) => h.vmid).sort()).toEqual([101, 103]);
  expect(r.engine.queue.size).toEqual({ waiting: 0, running: 0, released: 2 });
  const audited = r.store.db
    .query("SELECT action, target, outcome FROM audit WHERE outcome = 'hung' ORDER BY target")
    .all();
  expect(audited).toEqual([
    { action: "guest.stop", target: "guest:101", outcome: "hung" },
    { action: "guest.stop", target: "guest:103", outcome: "hung" },
  ]);
  // Still waited on, not failed: the task may yet finish.
  for (const h of hung) expect(r.engine.status(h.status.id)?.state).toBe("running");
});
