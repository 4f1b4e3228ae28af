import { describe, expect, test } from "bun:test";
import { stopOnSignal } from "../../src/cli/stop-on-signal.ts";

function listeners(): { int: number; term: number } {
  return { int: process.listenerCount("SIGINT"), term: process.listenerCount("SIGTERM") };
}

describe("stopOnSignal", () => {
  test("the first SIGTERM runs stop once, resolves, and removes both listeners", async () => {
    const before = listeners();
    let calls = 0;
    const stopped = stopOnSignal(async () => {
      calls++;
    });
    expect(listeners()).toEqual({ int: before.int + 1, term: before.term + 1 });
    process.emit("SIGTERM");
    await stopped;
    expect(calls).toBe(1);
    expect(listeners()).toEqual(before);
  });

  test("a failing stop still resolves on SIGINT", async () => {
    const before = listeners();
    const stopped = stopOnSignal(() => Promise.reject(new Error("port already closed")));
    process.emit("SIGINT");
    await expect(stopped).resolves.toBeUndefined();
    expect(listeners()).toEqual(before);
  });
});
