import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ProxmoxApiError } from "../../src/proxmox/api-error.ts";
import { createProxmoxClient } from "../../src/proxmox/client.ts";
import { ProxmoxDecodeError } from "../../src/proxmox/transport-errors.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { TOKEN, TOKEN_ID, TOKEN_SECRET } from "./support/constants.ts";
import {
  type FixtureHandler,
  type FixtureServer,
  legacyError,
  ok,
  pveError,
  startFixtureServer,
} from "./support/fixture-server.ts";
import { makeUpid } from "./support/task-script.ts";

let server: FixtureServer;
beforeAll(async () => {
  server = await startFixtureServer({ handler: () => ok(null) });
});
afterAll(async () => {
  await server.stop();
});

function clientFor(handler: FixtureHandler) {
  server.setHandler(handler);
  server.requests.length = 0;
  return createProxmoxClient({
    endpoint: server.url,
    node: "pve",
    token: TOKEN,
    trust: { kind: "fingerprint", sha256: server.fingerprint },
    clock: new ManualClock(1_700_000_000_000),
    requestTimeoutMs: 5000,
    random: () => 0.5,
  });
}

async function failure(p: Promise<unknown>): Promise<ProxmoxApiError> {
  const err = await p.then(
    () => undefined,
    (e) => e,
  );
  expect(err).toBeInstanceOf(ProxmoxApiError);
  expect((err as Error).message).not.toContain(TOKEN_SECRET);
  expect(JSON.stringify(err)).not.toContain(TOKEN_SECRET);
  return err as ProxmoxApiError;
}

describe("403", () => {
  test("PVE ≥ 8.3: privilege parsed from the body message, privsep token named", async () => {
    const c = clientFor(() => pveError(403, "Permission check failed (/vms/100, VM.Audit)"));
    const err = await failure(c.guestConfig(100));
    expect(err.status).toBe(403);
    expect(err.kind).toBe("forbidden");
    expect(err.method).toBe("GET");
    expect(err.path).toBe("/nodes/pve/lxc/100/config");
    expect(err.permission).toMatchObject({
      aclPath: "/vms/100",
      privileges: ["VM.Audit"],
      anyOf: false,
    });
    expect(err.callerTokenId).toBe(TOKEN_ID);
    expect(err.message).toContain("VM.Audit");
    expect(err.message).toContain("/vms/100");
    expect(err.message).toContain(TOKEN_ID);
    expect(err.message).toContain("privilege-separated");
    c.close();
  });

  test("PVE < 8.3: body is only {data:null}, the text comes from the reason phrase", async () => {
    const c = clientFor(() => legacyError(403, "Permission check failed (/vms/100, VM.Snapshot)"));
    const err = await failure(c.snapshot(100, "pre_deploy"));
    expect(err.pveMessage).toBe("Permission check failed (/vms/100, VM.Snapshot)");
    expect(err.permission).toMatchObject({ aclPath: "/vms/100", privileges: ["VM.Snapshot"] });
    c.close();
  });

  test("the A|B form means any of", async () => {
    const text =
      "Permission check failed (/vms/100, VM.Config.Disk|VM.Config.CPU|VM.Config.Memory|VM.Config.Network|VM.Config.Options)";
    const c = clientFor(() => pveError(403, text));
    const err = await failure(c.setConfig(100, { memoryMiB: 2048 }));
    expect(err.permission?.anyOf).toBe(true);
    expect(err.permission?.privileges).toEqual([
      "VM.Config.Disk",
      "VM.Config.CPU",
      "VM.Config.Memory",
      "VM.Config.Network",
      "VM.Config.Options",
    ]);
    expect(err.message).toContain("any of VM.Config.Disk");
    c.close();
  });

  test("an endpoint closed to tokens is recognised", async () => {
    const c = clientFor(() =>
      pveError(
        403,
        "Permission check failed (URI '/access/ticket' not available with API token, need proper ticket.\n)",
      ),
    );
    const err = await failure(c.version());
    expect(err.permission?.tokenNotAllowed).toBe(true);
    c.close();
  });
});

describe("other statuses", () => {
  test("401 is unauthorized and names the token id, never the secret", async () => {
    const c = clientFor(() => ({ status: 401, statusText: "Authentication failed!", raw: "" }));
    const err = await failure(c.version());
    expect(err.kind).toBe("unauthorized");
    expect(err.message).toContain(TOKEN_ID);
    c.close();
  });

  test("596 is named as a proxy error with its AnyEvent meaning, and a GET is retried", async () => {
    const c = clientFor(() => ({
      status: 596,
      statusText: "Connection timed out",
      json: { data: null },
    }));
    const err = await failure(c.nodeStatus());
    expect(err.kind).toBe("proxy");
    expect(err.proxyMeaning).toContain("TLS negotiation");
    expect(err.message).toContain("proxy");
    expect(err.message).toContain("Connection timed out");
    expect(server.requests).toHaveLength(3);
    c.close();
  });

  test("a mutating POST is never retried", async () => {
    const c = clientFor(() => ({ status: 596, statusText: "Broken pipe", json: { data: null } }));
    const err = await failure(c.start(100));
    expect(err.kind).toBe("proxy");
    expect(server.requests).toHaveLength(1);
    c.close();
  });

  test("a transient 5xx on a GET is retried until it succeeds", async () => {
    let n = 0;
    const c = clientFor(() =>
      ++n < 3 ? { status: 503, statusText: "Service Unavailable", raw: "" } : ok("123"),
    );
    expect(await c.nextId()).toBe(123);
    expect(n).toBe(3);
    c.close();
  });

  test("500 missing CT config is not_found_ct with the vmid, and is not retried", async () => {
    const c = clientFor(() =>
      pveError(500, "Configuration file 'nodes/pve/lxc/100.conf' does not exist"),
    );
    const err = await failure(c.guestStatus(100));
    expect(err.kind).toBe("not_found_ct");
    expect(err.reason).toMatchObject({ kind: "missing_guest", vmid: 100 });
    expect(server.requests).toHaveLength(1);
    c.close();
  });

  test("500 CT is locked is classified as locked", async () => {
    const c = clientFor(() => pveError(500, "CT is locked (backup)"));
    const err = await failure(c.setConfig(100, { cores: 2 }));
    expect(err.kind).toBe("locked");
    expect(err.reason).toEqual({ kind: "locked", guestType: "CT", lock: "backup" });
    c.close();
  });

  test("400 carries the per-parameter errors map", async () => {
    const c = clientFor(() =>
      pveError(400, "Parameter verification failed.", { vmid: "VM 200 already exists" }),
    );
    const err = await failure(c.nextId({ vmid: 200 }));
    expect(err.kind).toBe("bad_request");
    expect(err.errors).toEqual({ vmid: "VM 200 already exists" });
    expect(err.message).toContain("vmid: VM 200 already exists");
    c.close();
  });

  test("501 unknown route", async () => {
    const c = clientFor(() => ({
      status: 501,
      statusText: "Method 'GET /nodes/pve/x' not implemented",
      json: { data: null },
    }));
    const err = await failure(c.version());
    expect(err.kind).toBe("not_implemented");
    c.close();
  });

  test("a 2xx body of the wrong shape is a decode error", async () => {
    const c = clientFor(() => ok("not a upid"));
    const err = await c.start(100).catch((e) => e);
    expect(err).toBeInstanceOf(ProxmoxDecodeError);
    c.close();
  });
});

describe("requests", () => {
  test("the token header is sent as PVEAPIToken=ID=SECRET", async () => {
    const c = clientFor(() => ok({ version: "9.1.4", release: "9.1", repoid: "abcdef01" }));
    await c.version();
    expect(server.requests[0]?.headers.authorization).toBe(`PVEAPIToken=${TOKEN}`);
    c.close();
  });

  test("restoreLXC posts a form with restore=1 and MiB memory", async () => {
    const upid = makeUpid("vzrestore", "120");
    const c = clientFor(() => ok(upid));
    const r = await c.restoreLXC({
      vmid: 120,
      archive: "local:backup/vzdump-lxc-900-2025_01_01-00_00_00.tar.zst",
      storage: "local-lvm",
      unique: true,
      hostname: "customer-a",
      memoryMiB: 2048,
      net: { net0: "name=eth0,bridge=vmbr0,ip=dhcp" },
    });
    expect(r).toBe(upid);
    const req = server.requests[0];
    expect(req?.method).toBe("POST");
    expect(req?.path).toBe("/nodes/pve/lxc");
    expect(Object.fromEntries(req?.form ?? [])).toEqual({
      vmid: "120",
      ostemplate: "local:backup/vzdump-lxc-900-2025_01_01-00_00_00.tar.zst",
      restore: "1",
      storage: "local-lvm",
      unique: "1",
      hostname: "customer-a",
      memory: "2048",
      net0: "name=eth0,bridge=vmbr0,ip=dhcp",
    });
    c.close();
  });

  test("setConfig accepts null and a UPID", async () => {
    const upid = makeUpid("vzconfig", "100");
    let reply: unknown = null;
    const c = clientFor(() => ok(reply));
    expect(await c.setConfig(100, { description: "hello", delete: ["env"] })).toBeNull();
    expect(Object.fromEntries(server.requests[0]?.form ?? [])).toEqual({
      description: "hello",
      delete: "env",
    });
    reply = upid;
    expect(await c.setConfig(100, { cores: 2 })).toBe(upid);
    c.close();
  });

  test("DELETE parameters go in the query string", async () => {
    const upid = makeUpid("vzdelsnapshot", "100");
    const c = clientFor(() => ok(upid));
    await c.deleteSnapshot(100, "pre_deploy", { force: true });
    expect(server.requests[0]?.method).toBe("DELETE");
    expect(server.requests[0]?.path).toBe("/nodes/pve/lxc/100/snapshot/pre_deploy");
    expect(server.requests[0]?.query.get("force")).toBe("1");
    c.close();
  });

  test("bad parameters are refused before anything is sent", async () => {
    const c = clientFor(() => ok(null));
    await expect(c.snapshot(100, "bad name")).rejects.toThrow("snapname");
    await expect(c.guestStatus(42)).rejects.toThrow("VMID");
    await expect(c.resize(100, { disk: "rootfs", size: "lots" })).rejects.toThrow("size");
    await expect(c.setConfig(100, { hostname: "a\nb" })).rejects.toThrow("newline");
    expect(server.requests).toHaveLength(0);
    c.close();
  });
});
