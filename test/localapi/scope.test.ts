import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { GUEST_ROUTES } from "../../src/localapi/route-table.ts";
import { bearer, type Harness, startHarness } from "./fixture.ts";

/**
 * Walks every route the app serves under /v1/self (from `app.routes`, so a route added later
 * is walked too) and proves: no token → 401; another guest's token never reads, changes or
 * reveals guest 101.
 */
let h: Harness;
let op101: string;
beforeAll(async () => {
  h = await startHarness();
  op101 = (
    await h.submitter.submit({
      op: "guest.backup",
      vmid: 101,
      params: {},
      origin: "localapi",
      priority: "interactive",
    })
  ).id;
  h.submitter.calls.length = 0;
});
afterAll(async () => {
  await h.close();
});

const guestRoutes = () => [
  ...new Map(
    h.app.routes
      .filter((r) => r.method !== "ALL" && r.path.startsWith("/v1/self"))
      .map((r) => [`${r.method} ${r.path}`, r]),
  ).values(),
];

function concrete(path: string): string {
  return path.replace(":name", "before-upgrade").replace(":id", op101);
}

const BODIES: Record<string, unknown> = {
  "/v1/self/snapshots": { name: "probe" },
  "/v1/self/resources": { cores: 3 },
  "/v1/self/backups": {},
};

function init(method: string, path: string, token?: string): RequestInit {
  const body = BODIES[path];
  const base: RequestInit = { method };
  if (method === "POST") {
    base.headers = { "content-type": "application/json" };
    base.body = JSON.stringify(body ?? {});
  }
  return token ? bearer(token, base) : base;
}

test("the walk covers every route of the table", () => {
  const served = new Set(guestRoutes().map((r) => `${r.method} ${r.path}`));
  for (const r of GUEST_ROUTES) expect(served.has(`${r.method} ${r.path}`)).toBe(true);
  expect(served.size).toBe(GUEST_ROUTES.length);
});

describe("every guest route", () => {
  test("refuses a missing token with 401 and WWW-Authenticate, touching nothing", async () => {
    for (const r of guestRoutes()) {
      h.readsFor.length = 0;
      const before = h.sim.requestCount;
      const res = await h.app.request(concrete(r.path), init(r.method, r.path));
      expect({ route: `${r.method} ${r.path}`, status: res.status }).toEqual({
        route: `${r.method} ${r.path}`,
        status: 401,
      });
      expect(res.headers.get("www-authenticate")).toStartWith("Bearer");
      expect(h.sim.requestCount).toBe(before);
    }
    expect(h.submitter.calls).toEqual([]);
  });

  test("refuses a revoked token with 401", async () => {
    const minted = h.store.guestTokens.mint(101);
    h.store.guestTokens.revoke(minted.id);
    for (const r of guestRoutes()) {
      const res = await h.app.request(concrete(r.path), init(r.method, r.path, minted.token));
      expect(res.status).toBe(401);
    }
    expect(h.submitter.calls).toEqual([]);
  });

  test("with guest 103's token never reads, changes or shows guest 101", async () => {
    for (const r of guestRoutes()) {
      h.readsFor.length = 0;
      const res = await h.app.request(concrete(r.path), init(r.method, r.path, h.token103));
      const text = await res.text();
      const route = `${r.method} ${r.path}`;
      expect({ route, status: res.status }).not.toEqual({ route, status: 500 });
      expect({ route, reads: h.readsFor.filter((v) => v !== 103) }).toEqual({ route, reads: [] });
      expect(text).not.toContain("customer-a");
      expect(text).not.toMatch(/"vmid":\s*101/);
      if (r.path.includes(":id")) expect(res.status).toBe(404);
      if (r.path.includes(":name")) expect(res.status).toBe(404);
    }
    expect(h.submitter.calls.length).toBeGreaterThan(0);
    for (const call of h.submitter.calls) {
      expect(call.vmid).toBe(103);
      expect(call.origin).toBe("localapi");
    }
  });
});

test("a guest id smuggled into a path, query or body is not a way to another guest", async () => {
  h.submitter.calls.length = 0;
  const paths = ["/v1/self/101", "/v1/guests/101", "/v1/self?vmid=101"];
  for (const p of paths) {
    const res = await h.app.request(p, bearer(h.token103));
    const text = await res.text();
    expect(text).not.toContain("customer-a");
  }
  const res = await h.app.request(
    "/v1/self/backups",
    bearer(h.token103, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ vmid: 101 }),
    }),
  );
  expect(res.status).toBe(422);
  expect(h.submitter.calls).toEqual([]);
});
