import { describe, expect, test } from "bun:test";
import {
  canonicalMemoryMiB,
  DesiredStateError,
  parseDesiredDocument,
  parseDesiredText,
} from "../../src/reconcile/desired-state.ts";

describe("desired-state document", () => {
  test("parses every field into the internal form", () => {
    const d = parseDesiredDocument(
      {
        version: 1,
        guests: {
          "101": {
            run: "running",
            cores: 2,
            memory_mib: 2048,
            description: "x",
            max_cores: 4,
            max_memory_mib: 8192,
          },
          "102": {},
        },
      },
      "test",
    );
    expect(d.guests.get(101)).toEqual({
      vmid: 101,
      run: "running",
      cores: 2,
      memoryMiB: 2048,
      description: "x",
      maxCores: 4,
      maxMemoryMiB: 8192,
    });
    expect(d.guests.get(102)).toEqual({ vmid: 102 });
  });

  test("memory in bytes is canonicalised to whole MiB, rounded up", () => {
    expect(canonicalMemoryMiB(2 * 1024 * 1024 * 1024)).toBe(2048);
    expect(canonicalMemoryMiB(2 * 1024 * 1024 * 1024 + 1)).toBe(2049);
    const d = parseDesiredDocument(
      { version: 1, guests: { "101": { memory_bytes: 1_000_000_000 } } },
      "test",
    );
    expect(d.guests.get(101)?.memoryMiB).toBe(954);
  });

  test("an empty guest map is a desired state, distinct from none", () => {
    expect(parseDesiredText('{"version":1,"guests":{}}', "test").guests.size).toBe(0);
  });

  const bad: [string, unknown, string][] = [
    ["wrong version", { version: 2, guests: {} }, "version"],
    ["unknown top-level key", { version: 1, guests: {}, extra: 1 }, "extra"],
    ["unknown guest key", { version: 1, guests: { "101": { ram: 1 } } }, "ram"],
    ["vmid key out of range", { version: 1, guests: { "99": {} } }, "vmid"],
    ["bad run state", { version: 1, guests: { "101": { run: "paused" } } }, "guests.101.run"],
    ["fractional cores", { version: 1, guests: { "101": { cores: 1.5 } } }, "guests.101.cores"],
    [
      "both memory forms",
      { version: 1, guests: { "101": { memory_mib: 512, memory_bytes: 536870912 } } },
      "not both",
    ],
    [
      "description too long",
      { version: 1, guests: { "101": { description: "x".repeat(8193) } } },
      "description",
    ],
  ];
  for (const [name, doc, needle] of bad) {
    test(`refuses ${name} with an error naming it`, () => {
      let err: unknown;
      try {
        parseDesiredDocument(doc, "file:/x.json");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DesiredStateError);
      expect((err as Error).message).toContain("file:/x.json");
      expect((err as Error).message).toContain(needle);
    });
  }

  test("refuses text that is not JSON", () => {
    expect(() => parseDesiredText("{", "t")).toThrow(DesiredStateError);
  });
});
