import { expect, test } from "bun:test";
import { Hono } from "hono";
import { RequestCounts } from "../../src/localapi/request-counts.ts";

test("answers are counted by route pattern and status, never by the concrete path", async () => {
  const counts = new RequestCounts();
  const app = new Hono();
  app.use(counts.middleware());
  app.get("/v1/self/snapshots/:name", (c) =>
    c.req.param("name") === "gone" ? c.text("no", 404) : c.text("ok"),
  );
  for (const name of ["a", "b", "gone"]) {
    await app.request(`http://x/v1/self/snapshots/${name}`);
  }
  await app.request("http://x/no/such/route");
  expect(
    counts.list().sort((a, b) => a.route.localeCompare(b.route) || a.status - b.status),
  ).toEqual([
    { route: "/v1/self/snapshots/:name", status: 200, count: 2 },
    { route: "/v1/self/snapshots/:name", status: 404, count: 1 },
    { route: "unmatched", status: 404, count: 1 },
  ]);
});
