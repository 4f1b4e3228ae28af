import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { StoreError } from "../../src/store/errors.ts";
import type { Store } from "../../src/store/store.ts";
import { TempStateDir, thrown } from "./support.ts";

let tmp: TempStateDir;
let store: Store;
beforeEach(() => {
  tmp = new TempStateDir();
  store = tmp.open({ outbox: { cap: 5 } });
});
afterEach(() => tmp.cleanup());

const kinds = () => store.outbox.peek(100).map((i) => `${i.kind}:${(i.body as { n: number }).n}`);

describe("report outbox", () => {
  test("FIFO: peek does not remove, ack does; acking twice is harmless", () => {
    const a = store.outbox.enqueue("telemetry", { n: 1 }).id;
    const b = store.outbox.enqueue("audit", { n: 2 }).id;
    store.outbox.enqueue("job_result", { n: 3 });
    expect(kinds()).toEqual(["telemetry:1", "audit:2", "job_result:3"]);
    expect(store.outbox.peek(2).map((i) => i.id)).toEqual([a, b]);
    expect(store.outbox.peek(1)[0]?.createdAt).toBe(tmp.clock.now());
    expect(store.outbox.ack([a, b])).toBe(2);
    expect(store.outbox.ack([a, b])).toBe(0);
    expect(kinds()).toEqual(["job_result:3"]);
  });

  test("over the cap the oldest telemetry goes first", () => {
    store.outbox.enqueue("telemetry", { n: 1 });
    store.outbox.enqueue("audit", { n: 2 });
    store.outbox.enqueue("telemetry", { n: 3 });
    store.outbox.enqueue("event", { n: 4 });
    store.outbox.enqueue("telemetry", { n: 5 });
    expect(store.outbox.enqueue("audit", { n: 6 }).dropped).toBe(1);
    expect(kinds()).toEqual(["audit:2", "telemetry:3", "event:4", "telemetry:5", "audit:6"]);
    store.outbox.enqueue("audit", { n: 7 });
    store.outbox.enqueue("audit", { n: 8 });
    // No telemetry left to drop: then other unprotected kinds, oldest first.
    expect(store.outbox.enqueue("audit", { n: 9 }).dropped).toBe(1);
    expect(kinds()).toEqual(["audit:2", "audit:6", "audit:7", "audit:8", "audit:9"]);
    expect(store.outbox.droppedTotal()).toBe(4);
  });

  test("audit rows and job results are never dropped, even past the cap", () => {
    for (let n = 1; n <= 4; n++) store.outbox.enqueue("audit", { n });
    for (let n = 5; n <= 7; n++) store.outbox.enqueue("job_result", { n });
    expect(store.outbox.size()).toBe(7);
    const { dropped } = store.outbox.enqueue("telemetry", { n: 8 });
    expect(dropped).toBe(1);
    expect(kinds()).not.toContain("telemetry:8");
    expect(store.outbox.size()).toBe(7);
  });

  test("bad kinds and bodies are refused and nothing is queued", () => {
    for (const fn of [
      () => store.outbox.enqueue("", {}),
      () => store.outbox.enqueue("Telemetry", {}),
      () => store.outbox.enqueue("telemetry", { at: new Date() }),
      () => store.outbox.enqueue("telemetry", undefined),
      () => store.outbox.ack([1.5]),
      () => store.outbox.peek(0),
    ]) {
      expect((thrown(fn) as StoreError).kind).toBe("invalid_argument");
    }
    expect(store.outbox.size()).toBe(0);
  });
});
