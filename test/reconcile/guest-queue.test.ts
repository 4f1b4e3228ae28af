import { describe, expect, test } from "bun:test";
import { GuestQueue, QueueClosedError } from "../../src/reconcile/guest-queue.ts";

/** A job that records when it starts and finishes only when released. */
function gated(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => {
    release = r;
  });
  return {
    release: () => release(),
    fn: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
      return name;
    },
  };
}
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("GuestQueue", () => {
  test("one operation per guest at a time, in order", async () => {
    const q = new GuestQueue(4);
    const log: string[] = [];
    const a = gated(log, "a");
    const b = gated(log, "b");
    const pa = q.run(101, "background", a.fn);
    const pb = q.run(101, "background", b.fn);
    await tick();
    expect(log).toEqual(["start a"]);
    expect(q.busyGuests()).toEqual(new Set([101]));
    a.release();
    expect(await pa).toBe("a");
    await tick();
    expect(log).toEqual(["start a", "end a", "start b"]);
    b.release();
    await pb;
    await q.idle();
    expect(q.busyGuests().size).toBe(0);
  });

  test("global concurrency bounds work across guests", async () => {
    const q = new GuestQueue(2);
    const log: string[] = [];
    const jobs = [101, 102, 103].map((v) => ({ v, j: gated(log, String(v)) }));
    const ps = jobs.map(({ v, j }) => q.run(v, "background", j.fn));
    await tick();
    expect(log).toEqual(["start 101", "start 102"]);
    expect(q.size).toEqual({ waiting: 1, running: 2, released: 0 });
    jobs[0]?.j.release();
    await tick();
    await tick();
    expect(log).toContain("start 103");
    for (const { j } of jobs) j.release();
    await Promise.all(ps);
  });

  test("the interactive lane starts before waiting background work", async () => {
    const q = new GuestQueue(1);
    const log: string[] = [];
    const first = gated(log, "bg1");
    const bg2 = gated(log, "bg2");
    const ui = gated(log, "ui");
    const p1 = q.run(101, "background", first.fn);
    const p2 = q.run(102, "background", bg2.fn);
    const p3 = q.run(101, "interactive", ui.fn);
    await tick();
    first.release();
    await p1;
    await tick();
    expect(log.at(-1)).toBe("start ui");
    ui.release();
    await p3;
    await tick();
    bg2.release();
    await p2;
    expect(log.filter((l) => l.startsWith("start"))).toEqual([
      "start bg1",
      "start ui",
      "start bg2",
    ]);
  });

  test("close drops waiting work unstarted; running work finishes", async () => {
    const q = new GuestQueue(1);
    const log: string[] = [];
    const a = gated(log, "a");
    const b = gated(log, "b");
    const pa = q.run(101, "background", a.fn);
    const pb = q.run(102, "background", b.fn);
    await tick();
    q.close();
    await expect(pb).rejects.toBeInstanceOf(QueueClosedError);
    await expect(q.run(103, "interactive", async () => 1)).rejects.toBeInstanceOf(QueueClosedError);
    a.release();
    expect(await pa).toBe("a");
    expect(log).toEqual(["start a", "end a"]);
  });

  test("refuses a non-positive concurrency", () => {
    expect(() => new GuestQueue(0)).toThrow(RangeError);
  });
});
