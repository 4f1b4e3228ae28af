/**
 * Walks every route the PVE simulator serves and checks it against the official PVE 9.1 schema:
 * parameter errors are the HTTP 400s JSONSchema.pm produces (docs/proxmox-behaviour.md#api-envelope-and-errors), and the `data` of
 * valid requests matches the schema's `returns` (with the wire leniency of docs/proxmox-behaviour.md#json-type-quirks).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PVE_ROUTES, startPveSimulator } from "../../src/sim/pve/index.ts";
import { loadPveSchema, type PropSchema } from "../../src/sim/pve/schema/pve-schema.ts";
import { schemaEndpoints, validateReturns } from "../../src/sim/pve/schema/validate.ts";

type Method = "GET" | "POST" | "PUT" | "DELETE";
type Sim = Awaited<ReturnType<typeof startPveSimulator>>;

const UNKNOWN =
  "property is not defined in schema and the schema does not allow additional properties";
const MISSING = "property is missing and it is not optional";
const TASK_POLL_MS = 10;
const TASK_POLLS = 1000;
/** Some cases run several tasks one after another. */
const LONG_TEST_MS = 30_000;

const schema = loadPveSchema();
const known = new Set(schemaEndpoints().map((e) => `${e.method} ${e.path}`));

let sim: Sim;

interface Reply {
  status: number;
  statusText: string;
  body: { data?: unknown; errors?: Record<string, string>; message?: string } | null;
}

function apiBase(): string {
  const e = sim.endpoint.replace(/\/+$/, "");
  return e.endsWith("/api2/json") ? e : `${e}/api2/json`;
}

async function call(
  method: Method,
  path: string,
  params: Record<string, string> = {},
  json = false,
): Promise<Reply> {
  const url = new URL(apiBase() + path);
  const init: RequestInit & { tls: { ca: string } } = {
    method,
    headers: { Authorization: `PVEAPIToken=${sim.tokens.root}` } as Record<string, string>,
    tls: { ca: sim.certPem },
  };
  if (method === "GET" || method === "DELETE") {
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  } else if (json) {
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
    init.body = JSON.stringify(params);
  } else {
    (init.headers as Record<string, string>)["Content-Type"] = "application/x-www-form-urlencoded";
    init.body = new URLSearchParams(params).toString();
  }
  const res = await fetch(url, init);
  const text = await res.text();
  return {
    status: res.status,
    statusText: res.statusText,
    body: text === "" ? null : (JSON.parse(text) as Reply["body"]),
  };
}

/** Real resources to put into path templates, discovered from the simulator. */
interface World {
  node: string;
  vmid: string;
  storage: string;
  upid: string;
  /** A backup volume id on `storage` (it need not exist for the parameter checks). */
  volume: string;
}
let world: World;

function fill(path: string, over: Partial<Record<string, string>> = {}): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v =
      over[name] ??
      (name === "snapname" ? "confsnap" : (world as unknown as Record<string, string>)[name]);
    if (v === undefined) throw new Error(`no value for path parameter {${name}}`);
    return encodeURIComponent(v);
  });
}

function paramsOf(method: Method, path: string): Record<string, PropSchema> {
  return schema.endpoints[`${method} ${path}`]?.parameters.properties ?? {};
}

async function waitTask(upid: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < TASK_POLLS; i++) {
    const r = await call("GET", `/nodes/${world.node}/tasks/${encodeURIComponent(upid)}/status`);
    const d = r.body?.data as Record<string, unknown> | undefined;
    if (r.status === 200 && d?.status === "stopped") return d;
    await Bun.sleep(TASK_POLL_MS);
  }
  throw new Error(`task ${upid} did not finish`);
}

beforeAll(async () => {
  sim = await startPveSimulator({ taskMs: 30, authFailDelayMs: 0 });
  const node = sim.node;
  const cts = await call("GET", `/nodes/${node}/lxc`);
  const list = (cts.body?.data ?? []) as Array<{ vmid: number | string; status: string }>;
  const first = list[0];
  if (first === undefined) throw new Error("the simulator's default seed has no container");
  const stores = await call("GET", `/nodes/${node}/storage`);
  const storage = ((stores.body?.data ?? []) as Array<{ storage: string }>)[0]?.storage ?? "local";
  world = {
    node,
    vmid: String(first.vmid),
    storage,
    upid: "",
    volume: `${storage}:backup/vzdump-lxc-${first.vmid}-2020_01_01-00_00_00.tar.zst`,
  };
  const snap = await call("POST", `/nodes/${node}/lxc/${world.vmid}/snapshot`, {
    snapname: "confsnap",
  });
  if (snap.status !== 200 || typeof snap.body?.data !== "string") {
    throw new Error(`snapshot create failed: ${snap.status} ${JSON.stringify(snap.body)}`);
  }
  world.upid = snap.body.data;
  await waitTask(world.upid);
});

afterAll(async () => {
  await sim?.stop();
});

test("every simulator route has a schema entry", () => {
  const missing = PVE_ROUTES.filter((r) => !known.has(`${r.method} ${r.path}`));
  expect(missing).toEqual([]);
});

describe.each(PVE_ROUTES.map((r) => [`${r.method} ${r.path}`, r] as const))(
  "%s",
  (_name, route) => {
    const method = route.method as Method;
    const PATH_PARAMS = new Set([...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string));
    const props = paramsOf(method, route.path);
    const ep = schema.endpoints[`${method} ${route.path}`];
    const tokenOnly = ep?.allowtoken === 0;
    const allowsExtra = ep?.parameters.additionalProperties !== 0 || tokenOnly;
    const nonPath = Object.entries(props).filter(
      ([n]) => !PATH_PARAMS.has(n) && !n.endsWith("[n]"),
    );
    const required = nonPath.filter(([, p]) => !p.optional).map(([n]) => n);
    const typed =
      nonPath.find(
        ([, p]) => p.type === "integer" || p.type === "boolean" || p.type === "number",
      ) ?? Object.entries(props).find(([n, p]) => PATH_PARAMS.has(n) && p.type === "integer");

    // Only the cases that apply to an endpoint are generated for it.
    if (!allowsExtra)
      test("an unknown parameter is refused with JSONSchema.pm's text", async () => {
        const r = await call(method, fill(route.path), { felhom_bogus: "1" });
        expect(r.status).toBe(400);
        expect(r.body?.message).toBe("Parameter verification failed.\n");
        expect(r.body?.errors?.felhom_bogus).toBe(UNKNOWN);
      });

    // A token never reaches parameter validation on allowtoken: 0 endpoints (docs/proxmox-behaviour.md#api-envelope-and-errors).
    if (tokenOnly)
      test("refuses API tokens before validating parameters", async () => {
        const r = await call(method, fill(route.path), { felhom_bogus: "1" });
        expect(r.status).toBe(403);
        expect(r.body?.message ?? "").toStartWith("Permission check failed (URI ");
      });

    if (typed !== undefined && !tokenOnly)
      test("a parameter of the wrong type is refused", async () => {
        const [name, p] = typed as [string, PropSchema];
        const isPath = PATH_PARAMS.has(name);
        const r = await call(
          method,
          fill(route.path, isPath ? { [name]: "abc" } : {}),
          isPath ? {} : { [name]: "abc" },
        );
        expect(r.status).toBe(400);
        expect(r.body?.errors?.[name]).toBe(`type check ('${p.type}') failed - got 'abc'`);
      });

    if (required.length > 0 && !tokenOnly)
      test("a missing required parameter is refused", async () => {
        const r = await call(method, fill(route.path), {});
        expect(r.status).toBe(400);
        for (const name of required) expect(r.body?.errors?.[name]).toBe(MISSING);
      });

    if (method === "GET" && !tokenOnly)
      test("a valid request returns data matching the schema", async () => {
        const over = route.path.includes("{snapname}") ? { snapname: "confsnap" } : {};
        // The one GET with a required query parameter: a disk the simulated host has.
        const query = route.path.endsWith("/disks/smart") ? { disk: "/dev/sda" } : undefined;
        const r = await call(method, fill(route.path, over), query);
        expect(r.status).toBe(200);
        expect(validateReturns(method, route.path, r.body?.data)).toEqual([]);
      });
  },
);

test("the 400 reason phrase is the first line of the message (docs/proxmox-behaviour.md#api-envelope-and-errors)", async () => {
  const r = await call("GET", `/nodes/${world.node}/lxc`, { felhom_bogus: "1" });
  expect({ status: r.status, statusText: r.statusText }).toEqual({
    status: 400,
    statusText: "Parameter verification failed.",
  });
});

describe("valid mutating requests return schema-conformant data", () => {
  const expectOk = (method: Method, path: string, r: Reply): void => {
    expect({ status: r.status, body: r.status === 200 ? "" : r.body }).toEqual({
      status: 200,
      body: "",
    });
    expect(validateReturns(method, path, r.body?.data)).toEqual([]);
  };

  test(
    "PUT config (form and JSON bodies) returns null",
    async () => {
      const path = "/nodes/{node}/lxc/{vmid}/config";
      expectOk("PUT", path, await call("PUT", fill(path), { description: "conformance" }));
      const viaJson = await call("PUT", fill(path), { description: "conformance json" }, true);
      expectOk("PUT", path, viaJson);
    },
    LONG_TEST_MS,
  );

  test(
    "snapshot create, rollback and delete return UPIDs",
    async () => {
      const create = "/nodes/{node}/lxc/{vmid}/snapshot";
      const c = await call("POST", fill(create), { snapname: "confsnap2" });
      expectOk("POST", create, c);
      await waitTask(c.body?.data as string);
      const rollback = "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback";
      const rb = await call("POST", fill(rollback, { snapname: "confsnap2" }));
      expectOk("POST", rollback, rb);
      await waitTask(rb.body?.data as string);
      const del = "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}";
      const d = await call("DELETE", fill(del, { snapname: "confsnap2" }));
      expectOk("DELETE", del, d);
      await waitTask(d.body?.data as string);
    },
    LONG_TEST_MS,
  );

  test(
    "resize returns a UPID",
    async () => {
      const path = "/nodes/{node}/lxc/{vmid}/resize";
      const r = await call("PUT", fill(path), { disk: "rootfs", size: "+1G" });
      expectOk("PUT", path, r);
      await waitTask(r.body?.data as string);
    },
    LONG_TEST_MS,
  );

  test(
    "start, stop and shutdown return UPIDs",
    async () => {
      const status = "/nodes/{node}/lxc/{vmid}/status/current";
      const cur = await call("GET", fill(status));
      const running = (cur.body?.data as { status?: string } | undefined)?.status === "running";
      const step = async (action: "start" | "stop" | "shutdown"): Promise<void> => {
        const path = `/nodes/{node}/lxc/{vmid}/status/${action}`;
        const r = await call("POST", fill(path), action === "shutdown" ? { timeout: "5" } : {});
        expectOk("POST", path, r);
        await waitTask(r.body?.data as string);
      };
      if (running) await step("stop");
      await step("start");
      await step("shutdown");
      await step("start");
      await step("stop");
      if (running) await step("start");
    },
    LONG_TEST_MS,
  );

  test(
    "vzdump returns a UPID",
    async () => {
      const path = "/nodes/{node}/vzdump";
      const stores = (await call("GET", `/nodes/${world.node}/storage`)).body?.data as Array<{
        storage: string;
        content?: string;
      }>;
      const backup = stores.find((s) => (s.content ?? "").split(",").includes("backup"));
      expect(backup).toBeDefined();
      const r = await call("POST", fill(path), {
        vmid: world.vmid,
        mode: "snapshot",
        storage: backup?.storage as string,
      });
      expectOk("POST", path, r);
      await waitTask(r.body?.data as string);
    },
    LONG_TEST_MS,
  );

  test(
    "vzdump without remove uses the schema default (1) and prunes by the storage retention",
    async () => {
      const props = paramsOf("POST", "/nodes/{node}/vzdump");
      expect(props.remove?.default).toBe(1);
      expect(props["prune-backups"]?.default).toBe("keep-all=1");
      const storage = "/storage/{storage}";
      const set = (value: string) =>
        call("PUT", fill(storage, { storage: "local" }), { "prune-backups": value });
      expectOk("PUT", storage, await set("keep-last=1"));
      try {
        const path = "/nodes/{node}/vzdump";
        const r = await call("POST", fill(path), { vmid: world.vmid, storage: "local" });
        expectOk("POST", path, r);
        const upid = r.body?.data as string;
        expect((await waitTask(upid)).exitstatus).toBe("OK");
        const log = await call(
          "GET",
          `/nodes/${world.node}/tasks/${encodeURIComponent(upid)}/log`,
          { limit: "500" },
        );
        const lines = ((log.body?.data ?? []) as Array<{ t: string }>).map((l) => l.t);
        expect(lines).toContain("INFO: prune older backups with retention: keep-last=1");
      } finally {
        expectOk("PUT", storage, await set("keep-all=1"));
      }
    },
    LONG_TEST_MS,
  );

  test("PUT /storage/{storage} sets prune-backups and returns {storage, type}", async () => {
    const path = "/storage/{storage}";
    const r = await call("PUT", fill(path, { storage: "local" }), {
      "prune-backups": "keep-last=3,keep-weekly=2",
    });
    expectOk("PUT", path, r);
    expect(r.body?.data).toEqual({ storage: "local", type: "dir" });
    const list = await call("GET", "/storage");
    expectOk("GET", "/storage", list);
    const local = ((list.body?.data ?? []) as Array<Record<string, unknown>>).find(
      (s) => s.storage === "local",
    );
    expect(local?.["prune-backups"]).toBe("keep-last=3,keep-weekly=2");
    const back = await call("PUT", fill(path, { storage: "local" }), {
      "prune-backups": "keep-all=1",
      digest: String(local?.digest),
    });
    expectOk("PUT", path, back);
  });

  test(
    "create from a template and destroy return UPIDs",
    async () => {
      const node = world.node;
      const next = await call("GET", `/cluster/nextid`);
      expectOk("GET", "/cluster/nextid", next);
      const vmid = String(next.body?.data);
      let template: string | undefined;
      const stores = (await call("GET", `/nodes/${node}/storage`)).body?.data as Array<{
        storage: string;
        content?: string;
      }>;
      const rootStore = stores.find((s) => (s.content ?? "").split(",").includes("rootdir"));
      expect(rootStore).toBeDefined();
      for (const s of stores) {
        const content = await call("GET", `/nodes/${node}/storage/${s.storage}/content`, {
          content: "vztmpl",
        });
        const vol = (content.body?.data as Array<{ volid: string }> | undefined)?.[0];
        if (vol) {
          template = vol.volid;
          break;
        }
      }
      expect(template).toBeDefined();
      const create = "/nodes/{node}/lxc";
      const c = await call("POST", fill(create), {
        vmid,
        ostemplate: template as string,
        hostname: "conformance",
        rootfs: `${rootStore?.storage}:1`,
        storage: rootStore?.storage as string,
      });
      expectOk("POST", create, c);
      const done = await waitTask(c.body?.data as string);
      expect(done.exitstatus).toBe("OK");
      const destroy = "/nodes/{node}/lxc/{vmid}";
      const d = await call("DELETE", fill(destroy, { vmid }), { purge: "1" });
      expectOk("DELETE", destroy, d);
      await waitTask(d.body?.data as string);
    },
    LONG_TEST_MS,
  );
});
