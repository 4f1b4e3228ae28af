import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createLocalApiApp } from "../../src/localapi/app.ts";
import { ProxmoxNetworkError } from "../../src/proxmox/transport-errors.ts";
import { canonicalJson } from "../../src/util/canonical-json.ts";
import { bearer, type Harness, jsonBody, startHarness } from "./fixture.ts";

let h: Harness;
/** Snapshots the fake gate treats as journal-recorded by the agent for guest 101. */
const own = new Set<string>();

beforeAll(async () => {
  h = await startHarness();
  await h.client.waitTask(await h.client.snapshot(101, "ctl-own"), { deadlineMs: 10_000 });
  own.add("ctl-own");
  // The gate's provenance rule, played by the fake: only the agent's own snapshots are benign.
  h.submitter.decide = (req) =>
    (req.op === "guest.rollback" || req.op === "guest.snapshot.delete") &&
    !own.has(String(req.params.name))
      ? "pending_signature"
      : "queued";
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  h.submitter.calls.length = 0;
  h.audit.length = 0;
  h.quotas.set(101, { maxCores: 4, maxMemoryMiB: 4096 });
  h.backupStorage.set(101, "local");
});

const get = (path: string, token = h.token101) => h.app.request(path, bearer(token));
const post = (path: string, body: unknown, token = h.token101) =>
  h.app.request(path, jsonBody("POST", body, token));

describe("GET /v1/self", () => {
  test("the guest's status, sizes and quota", async () => {
    const res = await get("/v1/self");
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      vmid: 101,
      name: "customer-a",
      status: "running",
      cores: 2,
      memory_mib: 2048,
      quota: { max_cores: 4, max_memory_mib: 4096 },
    });
    expect(body.disk_total_bytes).toBe(8 * 1024 ** 3);
    expect(typeof body.uptime_sec).toBe("number");
  });

  test("reads are served from the short cache: a tight loop costs Proxmox one read per TTL", async () => {
    const app = h.remake({ readCacheMs: 2000 });
    try {
      const base = h.sim.requestCount;
      await Promise.all([1, 2, 3, 4, 5].map(() => app.request("/v1/self", bearer(h.token101))));
      for (let i = 0; i < 5; i++) await app.request("/v1/self", bearer(h.token101));
      const afterLoop = h.sim.requestCount - base;
      expect(afterLoop).toBe(2); // status + config, once
      h.clock.advance(2001);
      await app.request("/v1/self", bearer(h.token101));
      expect(h.sim.requestCount - base).toBe(4);
    } finally {
      h.remake();
    }
  });
});

describe("GET /v1/self/storage", () => {
  test("root disk with class, backup targets with their last backup", async () => {
    const upid = await h.client.vzdump({ vmid: 101, storage: "local" });
    await h.client.waitTask(upid, { deadlineMs: 10_000 });
    const res = await get("/v1/self/storage");
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      rootfs: Record<string, unknown>;
      backup_targets: {
        storage: string;
        configured: boolean;
        backup_count: number;
        backup_bytes: number;
        last_backup: { volid: string; age_s?: number } | null;
      }[];
    };
    expect(body.rootfs).toMatchObject({
      key: "rootfs",
      storage: "local-lvm",
      volume: "local-lvm:vm-101-disk-0",
      size: "8G",
      mount_path: "/",
      class: "local",
      storage_type: "lvmthin",
    });
    const local = body.backup_targets.find((t) => t.storage === "local");
    expect(local?.configured).toBe(true);
    expect(local?.last_backup?.volid).toContain("vzdump-lxc-101-");
    // The caller's own backups only, with the newest one's age (the test clock is not the
    // simulator's, so only its type is checked).
    expect(local?.backup_count).toBeGreaterThanOrEqual(1);
    expect(local?.backup_bytes).toBeGreaterThan(0);
    expect(typeof local?.last_backup?.age_s).toBe("number");
  });
});

describe("snapshots", () => {
  test("list shows the guest's snapshots and which are in the API's namespace", async () => {
    const res = await get("/v1/self/snapshots");
    const body = (await res.json()) as { snapshots: { name: string; in_api_namespace: boolean }[] };
    expect(body.snapshots).toContainEqual(
      expect.objectContaining({ name: "before-upgrade", in_api_namespace: false }),
    );
    expect(body.snapshots).toContainEqual(
      expect.objectContaining({ name: "ctl-own", in_api_namespace: true }),
    );
  });

  test("create: 202, namespaced name, the guest from the token, interactive priority", async () => {
    const res = await post("/v1/self/snapshots", { name: "pre-deploy", description: "v2" });
    expect(res.status).toBe(202);
    const body = (await res.json()) as {
      snapshot: string;
      status_url: string;
      operation: { id: string; state: string };
    };
    expect(body.snapshot).toBe("ctl-pre-deploy");
    expect(body.operation.state).toBe("queued");
    expect(h.submitter.calls).toEqual([
      {
        op: "guest.snapshot",
        vmid: 101,
        params: { name: "ctl-pre-deploy", description: "v2" },
        origin: "localapi",
        priority: "interactive",
      },
    ]);
    const st = await get(body.status_url);
    expect(st.status).toBe(200);
    expect(((await st.json()) as { id: string }).id).toBe(body.operation.id);
    // Handed on as an operation: the engine and the gate audit it, the API adds no row.
    expect(h.audit).toEqual([]);
  });

  test("create without a name uses the time", async () => {
    const res = await h.app.request("/v1/self/snapshots", bearer(h.token101, { method: "POST" }));
    expect(res.status).toBe(202);
    const stamp = new Date(h.clock.now())
      .toISOString()
      .replace(/[-:]/g, "")
      .slice(0, 15)
      .replace("T", "-");
    expect(((await res.json()) as { snapshot: string }).snapshot).toBe(`ctl-${stamp}`);
  });

  test("create an existing name: 409, nothing submitted", async () => {
    const res = await post("/v1/self/snapshots", { name: "own" });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: string }).error).toBe("snapshot_exists");
    expect(h.submitter.calls).toEqual([]);
  });

  test("rollback to the agent's own snapshot is accepted", async () => {
    const res = await post("/v1/self/snapshots/ctl-own/rollback", {});
    expect(res.status).toBe(202);
    expect(h.submitter.calls[0]).toMatchObject({
      op: "guest.rollback",
      vmid: 101,
      params: { name: "ctl-own" },
    });
  });

  test("rollback to any other snapshot: 403 pending_signature, held not executed", async () => {
    const res = await post("/v1/self/snapshots/before-upgrade/rollback", {});
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: string; operation_id: string };
    expect(body.error).toBe("pending_signature");
    expect(h.submitter.status(body.operation_id)?.state).toBe("pending_signature");
    // The gate's decision is the audit row (the submitter here stands in for the gate).
    expect(h.audit).toEqual([]);
  });

  test("a ctl- name is no provenance claim: the gate's journal decides", async () => {
    await h.client.waitTask(await h.client.snapshot(101, "ctl-operator-made"), {
      deadlineMs: 10_000,
    });
    const res = await post("/v1/self/snapshots/ctl-operator-made/rollback", {});
    expect(res.status).toBe(403);
  });

  test("rollback or delete of a missing snapshot: 404; a malformed name: 422", async () => {
    expect((await post("/v1/self/snapshots/ctl-nope/rollback", {})).status).toBe(404);
    const del = await h.app.request(
      "/v1/self/snapshots/ctl-nope",
      bearer(h.token101, { method: "DELETE" }),
    );
    expect(del.status).toBe(404);
    const bad = await post(`/v1/self/snapshots/${encodeURIComponent("x;rm -rf")}/rollback`, {});
    expect(bad.status).toBe(422);
    expect(h.submitter.calls).toEqual([]);
  });

  test("a refused request with a 16 KB name full of bidi overrides: bounded, escaped audit row", async () => {
    // U+202E (right-to-left override) and a newline would make a row read as something else.
    const name = `ctl-${"\u202e\n\u2066A".repeat(4000)}`;
    const res = await post(`/v1/self/snapshots/${encodeURIComponent(name)}/rollback`, {});
    expect(res.status).toBe(422);
    expect(h.audit).toHaveLength(1);
    const row = h.audit[0] as { outcome: string; details?: Record<string, unknown> };
    expect(row.outcome).toBe("refused:invalid_request");
    const text = canonicalJson(row.details ?? {});
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1024);
    expect(text).not.toMatch(/[\u202a-\u202e\u2066-\u2069\n]/);
    expect(text).not.toContain("/v1/self/snapshots/");
    expect(row.details).toMatchObject({ route: "rollbackSnapshot", method: "POST", status: 422 });
    expect(String((row.details?.params as { name?: string } | undefined)?.name)).toStartWith(
      "ctl-\\u{202e}\\u{a}\\u{2066}A",
    );
  });

  test("delete: own is accepted, other held", async () => {
    const ok = await h.app.request(
      "/v1/self/snapshots/ctl-own",
      bearer(h.token101, { method: "DELETE" }),
    );
    expect(ok.status).toBe(202);
    const held = await h.app.request(
      "/v1/self/snapshots/before-upgrade",
      bearer(h.token101, { method: "DELETE" }),
    );
    expect(held.status).toBe(403);
    expect(h.submitter.calls.map((c) => c.op)).toEqual([
      "guest.snapshot.delete",
      "guest.snapshot.delete",
    ]);
  });

  test("a gate rejection is a 403 with its reason", async () => {
    const prev = h.submitter.decide;
    h.submitter.decide = () => "rejected";
    try {
      const res = await post("/v1/self/snapshots/ctl-own/rollback", {});
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: "rejected", reason: "binding_mismatch" });
    } finally {
      h.submitter.decide = prev;
    }
  });
});

describe("POST /v1/self/resources", () => {
  test("grow within quota: 202 with exactly the grown fields", async () => {
    const res = await post("/v1/self/resources", { cores: 3, memory_mib: 4096 });
    expect(res.status).toBe(202);
    expect(h.submitter.calls).toEqual([
      {
        op: "guest.config",
        vmid: 101,
        params: { cores: 3, memoryMiB: 4096 },
        origin: "localapi",
        priority: "interactive",
      },
    ]);
  });

  test("past the quota: 403 quota_exceeded, nothing submitted, audited", async () => {
    const res = await post("/v1/self/resources", { memory_mib: 8192 });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: "quota_exceeded", quota: 4096 });
    expect(h.submitter.calls).toEqual([]);
    expect(h.audit).toContainEqual(
      expect.objectContaining({
        actor: "guest:101",
        action: "guest.config",
        outcome: "refused:quota_exceeded",
      }),
    );
  });

  test("a shrink: 403 shrink_not_permitted", async () => {
    const res = await post("/v1/self/resources", { cores: 1 });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe("shrink_not_permitted");
    expect(h.submitter.calls).toEqual([]);
  });

  test("no quota for the guest: 403 no_quota", async () => {
    h.quotas.delete(101);
    const res = await post("/v1/self/resources", { cores: 3 });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe("no_quota");
  });

  test("asking for what it has: 200 unchanged, nothing submitted", async () => {
    const res = await post("/v1/self/resources", { cores: 2 });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ changed: false, cores: 2 });
    expect(h.submitter.calls).toEqual([]);
  });

  test("bad bodies: 422 with field errors", async () => {
    const cases: [unknown, string][] = [
      [{}, ""],
      [{ cores: "3" }, "cores"],
      [{ cores: 2.5 }, "cores"],
      [{ memory_mib: -1 }, "memory_mib"],
      [{ cores: 3, vmid: 103 }, ""],
      [[1, 2], ""],
    ];
    for (const [body, path] of cases) {
      const res = await post("/v1/self/resources", body);
      expect(res.status).toBe(422);
      const out = (await res.json()) as { error: string; fields: { path: string }[] };
      expect(out.error).toBe("invalid_request");
      expect(out.fields.map((f) => f.path)).toContain(path);
    }
    expect(h.submitter.calls).toEqual([]);
  });
});

describe("POST /v1/self/backups", () => {
  test("a vzdump to the guest's configured tier", async () => {
    const res = await post("/v1/self/backups", {});
    expect(res.status).toBe(202);
    expect(h.submitter.calls[0]).toMatchObject({
      op: "guest.backup",
      vmid: 101,
      params: { storage: "local", mode: "snapshot" },
    });
  });

  test("no tier configured: 403 no_backup_target", async () => {
    h.backupStorage.delete(101);
    const res = await post("/v1/self/backups", { mode: "stop" });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe("no_backup_target");
    expect(h.submitter.calls).toEqual([]);
  });
});

describe("GET /v1/self/operations/{id}", () => {
  test("another guest's operation is 404, as is an unknown one; a malformed id 422", async () => {
    const other = await h.submitter.submit({
      op: "guest.backup",
      vmid: 103,
      params: {},
      origin: "localapi",
      priority: "interactive",
    });
    expect((await get(`/v1/self/operations/${other.id}`)).status).toBe(404);
    expect((await get(`/v1/self/operations/${other.id}`, h.token103)).status).toBe(200);
    expect((await get("/v1/self/operations/op-999999")).status).toBe(404);
    expect((await get(`/v1/self/operations/${encodeURIComponent("a b")}`)).status).toBe(422);
  });
});

describe("refusals", () => {
  test("unknown token or another scheme: 401; a malformed Bearer header: 400 invalid_request", async () => {
    // RFC 6750 §3.1: invalid_request is 400, invalid_token 401, no credentials 401 without a code.
    const cases: [string, number, string][] = [
      ["Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401, 'error="invalid_token"'],
      ["Basic Zm9vOmJhcg==", 401, 'Bearer realm="felhom-agent"'],
      ["Bearer", 400, 'error="invalid_request"'],
      [`Bearer ${h.token101} extra`, 400, 'error="invalid_request"'],
      ["Bearer a\u00e9b", 400, 'error="invalid_request"'],
    ];
    for (const [header, status, challenge] of cases) {
      const res = await h.app.request("/v1/self", { headers: { authorization: header } });
      expect(res.status).toBe(status);
      const www = res.headers.get("www-authenticate") ?? "";
      expect(www).toStartWith('Bearer realm="felhom-agent"');
      expect(www).toContain(challenge);
      if (header.startsWith("Basic")) expect(www).not.toContain("error=");
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe(status === 400 ? "invalid_request" : "unauthorized");
      expect(body.message).not.toContain(h.token101);
    }
  });

  test("every answer carries the security headers: success, refusals, 404, 405, errors", async () => {
    const answers = [
      await h.app.request("/v1/self", bearer(h.token101)),
      await h.app.request("/v1/openapi.json"),
      await h.app.request("/v1/self"),
      await h.app.request("/v1/self", { headers: { authorization: "Bearer" } }),
      await h.app.request("/nowhere"),
      await h.app.request("/v1/openapi.json", { method: "DELETE" }),
      await h.app.request("/v1/self?token=x"),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 401, 400, 404, 405, 400]);
    for (const res of answers) {
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    }
  });

  test("a token in the query string is refused, not accepted", async () => {
    for (const q of [`access_token=${h.token101}`, `token=${h.token101}`]) {
      const res = await h.app.request(`/v1/self?${q}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe("token_in_query");
      const both = await h.app.request(`/v1/self?${q}`, bearer(h.token101));
      expect(both.status).toBe(400);
    }
  });

  test("a foreign Origin or a cross-site browser request: 403", async () => {
    const res = await h.app.request(
      "/v1/self",
      bearer(h.token101, { headers: { origin: "http://evil.example" } }),
    );
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe("foreign_origin");
    const xs = await h.app.request(
      "/v1/self",
      bearer(h.token101, { headers: { "sec-fetch-site": "cross-site" } }),
    );
    expect(xs.status).toBe(403);
    const post2 = await h.app.request(
      "/v1/self/backups",
      bearer(h.token101, { method: "POST", headers: { origin: "null" } }),
    );
    expect(post2.status).toBe(403);
    expect(h.submitter.calls).toEqual([]);
  });

  test("unknown route 404, wrong method 405 with Allow", async () => {
    const nf = await get("/v1/self/nothing");
    expect(nf.status).toBe(404);
    const na = await h.app.request("/v1/self", bearer(h.token101, { method: "PUT" }));
    expect(na.status).toBe(405);
    expect(na.headers.get("allow")).toContain("GET");
    const na2 = await h.app.request("/v1/self/snapshots", bearer(h.token101, { method: "DELETE" }));
    expect(na2.status).toBe(405);
    expect(na2.headers.get("allow")).toBe("GET, HEAD, POST");
  });

  test("body over the limit: 413, with or without Content-Length", async () => {
    const app = h.remake({ bodyLimitBytes: 512 });
    try {
      const big = JSON.stringify({ description: "x".repeat(2000) });
      const a = await app.request(
        "/v1/self/snapshots",
        bearer(h.token101, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: big,
        }),
      );
      expect(a.status).toBe(413);
      const stream = new ReadableStream({
        start(c) {
          for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode("x".repeat(100)));
          c.close();
        },
      });
      const b = await app.request(
        "/v1/self/snapshots",
        bearer(h.token101, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: stream,
        }),
      );
      expect(b.status).toBe(413);
      expect(h.submitter.calls).toEqual([]);
    } finally {
      h.remake();
    }
  });

  test("not JSON: 415; invalid JSON: 400", async () => {
    const a = await h.app.request(
      "/v1/self/backups",
      bearer(h.token101, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" }),
    );
    expect(a.status).toBe(415);
    const b = await h.app.request(
      "/v1/self/backups",
      bearer(h.token101, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{",
      }),
    );
    expect(b.status).toBe(400);
    expect(h.submitter.calls).toEqual([]);
  });

  const failingWith = (err: Error) =>
    createLocalApiApp({
      tokens: h.store.guestTokens,
      submitter: h.submitter,
      proxmox: new Proxy(h.client, {
        get: (t, p, r) => (p === "guestStatus" ? () => Promise.reject(err) : Reflect.get(t, p, r)),
      }),
      quotas: { quotaFor: () => undefined },
      backups: { backupStorageFor: () => undefined },
      clock: h.clock,
    });

  test("Proxmox failing: 502 without its details", async () => {
    const err = new ProxmoxNetworkError(
      "https://10.0.0.1:8006",
      "GET",
      "/nodes/pve/lxc/101/status/current",
      "ECONNREFUSED",
      false,
      "connect ECONNREFUSED 10.0.0.1:8006",
    );
    const res = await failingWith(err).request("/v1/self", bearer(h.token101));
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(JSON.parse(text).error).toBe("proxmox_unavailable");
    expect(text).not.toContain("10.0.0.1");
  });

  test("an error that only borrows a Proxmox error's name is an internal error, not a 502", async () => {
    class Impostor extends Error {
      override readonly name = "ProxmoxNetworkError";
    }
    const res = await failingWith(new Impostor("not from the client")).request(
      "/v1/self",
      bearer(h.token101),
    );
    expect(res.status).toBe(500);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(JSON.parse(await res.text()).error).toBe("internal_error");
  });

  test("paths next to /v1/self are not guest routes", async () => {
    expect((await h.app.request("/v1/selfish")).status).toBe(404);
  });
});

describe("rate limit", () => {
  test("per token: the burst, then 429 with Retry-After; refills with time; other tokens unaffected", async () => {
    const app = h.remake({ rateLimit: { perMinute: 60, burst: 3 } });
    try {
      for (let i = 0; i < 3; i++)
        expect((await app.request("/v1/self", bearer(h.token101))).status).toBe(200);
      const limited = await app.request("/v1/self", bearer(h.token101));
      expect(limited.status).toBe(429);
      expect(limited.headers.get("retry-after")).toBe("1");
      expect((await app.request("/v1/self", bearer(h.token103))).status).toBe(200);
      h.clock.advance(1000);
      expect((await app.request("/v1/self", bearer(h.token101))).status).toBe(200);
      expect((await app.request("/v1/self", bearer(h.token101))).status).toBe(429);
    } finally {
      h.remake();
    }
  });
});

describe("OpenAPI", () => {
  test("served without a token, lists every guest route with the schemas that validate them", async () => {
    const res = await h.app.request("/v1/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: {
              content: Record<string, { schema: { properties: Record<string, unknown> } }>;
            };
          }
        >
      >;
    };
    expect(doc.openapi).toBe("3.1.0");
    for (const r of h.app.routes.filter(
      (x) => x.method !== "ALL" && x.path.startsWith("/v1/self"),
    )) {
      const p = r.path.replace(/:([A-Za-z]+)/g, "{$1}");
      expect(doc.paths[p]?.[r.method.toLowerCase()]).toBeDefined();
    }
    const snap =
      doc.paths["/v1/self/snapshots"]?.post?.requestBody?.content["application/json"]?.schema;
    expect(Object.keys(snap?.properties ?? {})).toEqual(["name", "description"]);
  });
});
