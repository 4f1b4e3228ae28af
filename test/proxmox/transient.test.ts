import { describe, expect, test } from "bun:test";
import { ProxmoxApiError } from "../../src/proxmox/api-error.ts";
import { createProxmoxClient } from "../../src/proxmox/client.ts";
import { classifyTransient, type ProxmoxReach } from "../../src/proxmox/transient.ts";
import {
  ProxmoxDecodeError,
  ProxmoxNetworkError,
  ProxmoxTlsError,
} from "../../src/proxmox/transport-errors.ts";
import { startPveSimulator } from "../../src/sim/pve/index.ts";
import { agentClient } from "./support/agent-client.ts";
import { TOKEN } from "./support/constants.ts";

const api = (status: number, method: string, message = "", statusText = "") =>
  new ProxmoxApiError({
    status,
    statusText,
    method,
    path: "/nodes/pve/lxc/100/status/start",
    body: { data: null, message },
  });
const net = (method: string | undefined, code: string | undefined, timedOut = false) =>
  new ProxmoxNetworkError("https://pve:8006", method, "/x", code, timedOut, "boom");

describe("classifyTransient: can the request have reached Proxmox?", () => {
  const rows: [string, unknown, boolean, ProxmoxReach, boolean][] = [
    // [case, error, transient, reach, resendSafe]
    ["595 on POST: pveproxy never reached pvedaemon", api(595, "POST"), true, "no", true],
    ["596 timed out on POST", api(596, "POST", "", "Connection timed out"), true, "maybe", false],
    ["596 broken pipe on PUT", api(596, "PUT", "", "Broken pipe"), true, "maybe", false],
    ["597 on DELETE: header came back", api(597, "DELETE"), true, "maybe", false],
    ["599 on POST", api(599, "POST"), true, "maybe", false],
    ["596 on GET is safe to resend", api(596, "GET"), true, "maybe", true],
    ["500 handler refusal on POST", api(500, "POST", "some die\n"), true, "yes", true],
    ["503 from a proxy in front", api(503, "POST"), true, "maybe", false],
    ["504 from a proxy in front", api(504, "PUT"), true, "maybe", false],
    ["500 CT is locked", api(500, "POST", "CT is locked (backup)\n"), false, "yes", true],
    [
      "500 missing CT",
      api(500, "POST", "Configuration file 'nodes/pve/lxc/100.conf' does not exist\n"),
      false,
      "yes",
      true,
    ],
    [
      "400 parameter error",
      api(400, "POST", "Parameter verification failed.\n"),
      false,
      "yes",
      true,
    ],
    [
      "403",
      api(403, "POST", "Permission check failed (/vms/100, VM.PowerMgmt)\n"),
      false,
      "yes",
      true,
    ],
    ["probe failed: no method, nothing sent", net(undefined, "ECONNRESET"), true, "no", true],
    ["connection refused on POST", net("POST", "ECONNREFUSED"), true, "no", true],
    ["DNS failure on DELETE", net("DELETE", "ENOTFOUND"), true, "no", true],
    ["reset on POST", net("POST", "ECONNRESET"), true, "maybe", false],
    ["timeout on PUT", net("PUT", undefined, true), true, "maybe", false],
    ["reset on GET", net("GET", "ECONNRESET"), true, "maybe", true],
    [
      "2xx that did not decode, on POST: it ran",
      new ProxmoxDecodeError("POST", "/x", ["data: bad"]),
      false,
      "yes",
      false,
    ],
    [
      "TLS refusal: before any byte",
      new ProxmoxTlsError({ endpoint: "https://pve:8006", failure: "mismatch" }),
      false,
      "no",
      true,
    ],
    ["anything else", new Error("bug"), false, "maybe", false],
  ];
  for (const [name, err, transient, reach, resendSafe] of rows) {
    test(name, () => {
      const v = classifyTransient(err);
      expect({ transient: v.transient, reach: v.reach, resendSafe: v.resendSafe }).toEqual({
        transient,
        reach,
        resendSafe,
      });
      expect(v.cause).toMatch(/^[a-z0-9_]+$/);
    });
  }

  test("an explicit method overrides the one on the error", () => {
    expect(classifyTransient(api(596, "POST"), "GET").resendSafe).toBe(true);
    expect(classifyTransient(new Error("x"), "GET").resendSafe).toBe(true);
  });
});

describe("classifyTransient on errors the client raises", () => {
  test("a POST whose answer the simulator dropped is maybe-reached and not safe to resend", async () => {
    const sim = await startPveSimulator({ authFailDelayMs: 1, taskMs: 10 });
    const c = agentClient(sim);
    try {
      sim.setFaults({ dropAfter: 1 });
      const lost = await c.start(102).catch((e) => e);
      expect(classifyTransient(lost)).toMatchObject({ reach: "maybe", resendSafe: false });
      sim.setFaults({ http596: 1 });
      const hop = await c.start(102).catch((e) => e);
      expect(classifyTransient(hop)).toMatchObject({ cause: "proxy_596", resendSafe: false });
      sim.setFaults({ http500: 1 });
      const refused = await c.start(102).catch((e) => e);
      expect(classifyTransient(refused)).toMatchObject({ reach: "yes", resendSafe: true });
    } finally {
      c.close();
      await sim.stop();
    }
  });

  test("an endpoint with nothing listening is not reached", async () => {
    const c = createProxmoxClient({
      endpoint: "https://127.0.0.1:1",
      node: "pve",
      token: TOKEN,
      trust: { kind: "insecure" },
      requestTimeoutMs: 5000,
    });
    const err = await c.start(100).catch((e) => e);
    expect(classifyTransient(err)).toMatchObject({
      reach: "no",
      resendSafe: true,
      cause: "connect",
    });
    c.close();
  });
});
