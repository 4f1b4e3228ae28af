import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { bearer, type Harness, startHarness } from "./fixture.ts";

/**
 * Request bodies and path names from fast-check against every mutating route: never a 500,
 * and a rejected request hands nothing to the queue and starts no Proxmox task.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const ALLOWED = new Set([200, 202, 400, 403, 404, 409, 413, 415, 422]);

const nearValid = fc.record(
  {
    name: fc.oneof(
      fc.string({ maxLength: 50 }),
      fc.constantFrom("pre", "a".repeat(36), "a".repeat(37), "ctl-x", ""),
      fc.integer(),
    ),
    description: fc.oneof(
      fc.string({ maxLength: 250 }),
      fc.constant("a\u0000b"),
      fc.constant(null),
    ),
    cores: fc.oneof(fc.integer({ min: -5, max: 20 }), fc.double(), fc.string(), fc.constant(null)),
    memory_mib: fc.oneof(fc.integer({ min: -10, max: 10_000 }), fc.double(), fc.boolean()),
    mode: fc.oneof(fc.constantFrom("snapshot", "stop", "suspend"), fc.string()),
    vmid: fc.integer(),
    ["__proto__"]: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

const bodyText = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  nearValid.map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constant(""),
);

const routes = ["/v1/self/snapshots", "/v1/self/resources", "/v1/self/backups"];

test("fuzzed bodies: never a 500, a refusal changes nothing", async () => {
  const tasksBefore = h.sim.state.tasks().length;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...routes),
      bodyText,
      fc.constantFrom(
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        undefined,
      ),
      async (path, body, type) => {
        const calls = h.submitter.calls.length;
        const headers: Record<string, string> = {};
        if (type) headers["content-type"] = type;
        const res = await h.app.request(
          path,
          bearer(h.token101, { method: "POST", headers, body }),
        );
        const text = await res.text();
        expect(ALLOWED.has(res.status)).toBe(true);
        expect(() => JSON.parse(text)).not.toThrow();
        if (res.status !== 202) expect(h.submitter.calls.length).toBe(calls);
        else {
          expect(h.submitter.calls.length).toBe(calls + 1);
          expect(h.submitter.calls.at(-1)?.vmid).toBe(101);
        }
      },
    ),
    { numRuns: 300 },
  );
  // The API never calls Proxmox to change anything itself: only the queue does.
  expect(h.sim.state.tasks().length).toBe(tasksBefore);
});

test("fuzzed snapshot names in paths: never a 500, nothing reaches another guest", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.string({ maxLength: 60 }),
      fc.constantFrom("rollback", "delete"),
      async (name, kind) => {
        const calls = h.submitter.calls.length;
        const enc = encodeURIComponent(name);
        const res =
          kind === "rollback"
            ? await h.app.request(
                `/v1/self/snapshots/${enc}/rollback`,
                bearer(h.token103, { method: "POST" }),
              )
            : await h.app.request(
                `/v1/self/snapshots/${enc}`,
                bearer(h.token103, { method: "DELETE" }),
              );
        expect(res.status).not.toBe(500);
        expect([400, 403, 404, 405, 422, 202]).toContain(res.status);
        for (const c of h.submitter.calls.slice(calls)) expect(c.vmid).toBe(103);
      },
    ),
    { numRuns: 200 },
  );
});
