import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSimCommand } from "../../src/cli/sim.ts";
import { enrollHost } from "../../src/hub/enroll.ts";
import { silentLogger } from "../../src/log/types.ts";
import { createProxmoxClient } from "../../src/proxmox/index.ts";
import { systemClock } from "../../src/util/clock.ts";
import { capture } from "./cli-capture.ts";

const dir = mkdtempSync(join(tmpdir(), "felhom-sim-control-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts a command in this process and returns its ready line; SIGTERM stops it. */
async function start(argv: string[]) {
  const c = capture();
  const done = runSimCommand(argv, c.io);
  for (let i = 0; i < 500 && c.out.length === 0; i++) await Bun.sleep(10);
  const ready = JSON.parse(c.out.join(""));
  return {
    ready,
    stop: async () => {
      process.emit("SIGTERM");
      return done;
    },
  };
}

const call = (url: string, init?: RequestInit) =>
  fetch(url, init).then(async (r) => ({ status: r.status, body: await r.text() }));
const put = (url: string, body: unknown, method = "PUT") =>
  call(url, {
    method,
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

describe("felhom-agent sim --control", () => {
  test("--help documents the control endpoint", async () => {
    const { io, out } = capture();
    expect(await runSimCommand(["--help"], io)).toBe(0);
    expect(out.join("")).toContain("--control HOST:PORT");
    expect(out.join("")).toContain("PUT  /v1/faults");
  });

  test.each([["0.0.0.0:0"], ["192.0.2.1:9000"], ["[::]:0"], ["localhost.example.com:1"], ["nope"]])(
    "--control %s is refused (loopback only), exit 2",
    async (addr) => {
      const { io, err, out } = capture();
      expect(await runSimCommand(["--control", addr], io)).toBe(2);
      expect(err.join("")).toContain("--control");
      expect(out).toEqual([]);
    },
  );

  test("switches the faults of the running simulator, zod-validated, bad input changes nothing", async () => {
    const sim = await start([
      "--auth-delay-ms",
      "1",
      "--task-ms",
      "10",
      "--control",
      "127.0.0.1:0",
    ]);
    try {
      const control = sim.ready.control as string;
      expect(control).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const faults = `${control}/v1/faults`;
      expect(JSON.parse((await call(faults)).body).faults.http500).toBe(0);

      const client = createProxmoxClient({
        endpoint: sim.ready.endpoint,
        node: sim.ready.node,
        token: sim.ready.tokens.agent,
        trust: { kind: "fingerprint", sha256: sim.ready.fingerprint },
        logger: silentLogger,
        clock: systemClock,
        retry: { attempts: 1 },
      });
      try {
        expect((await client.guestStatus(101)).vmid).toBe(101);
        // The --faults grammar, then the JSON form: each replaces the whole set.
        const set = await put(faults, { spec: "http500=1,latency=2ms" });
        expect(set.status).toBe(200);
        expect(JSON.parse(set.body).faults).toMatchObject({ http500: 1, latencyMs: 2 });
        expect(
          await client.guestStatus(101).then(
            () => "answered",
            () => "failed",
          ),
        ).toBe("failed");
        const byPost = await put(faults, { faults: { taskFail: ["vzstart"] } }, "POST");
        expect(byPost.status).toBe(200);
        expect(JSON.parse((await call(faults)).body).faults).toMatchObject({
          http500: 0,
          latencyMs: 0,
          taskFail: ["vzstart"],
        });
        expect((await client.guestStatus(101)).vmid).toBe(101);

        const before = (await call(faults)).body;
        for (const [body, message] of [
          ["not json", "body must be JSON"],
          [{ spec: "http500=7" }, "invalid fault 'http500=7'"],
          [{ faults: { http500: 2 } }, "invalid faults.http500"],
          [{ faults: { explode: true } }, "invalid"],
          [{ spec: "drop=0.1", faults: {} }, "invalid"],
          [{ faults: { taskFail: ["VZ START"] } }, "task type"],
        ] as const) {
          const r = await put(faults, body);
          expect(r.status).toBe(400);
          expect(r.body).toContain(message);
        }
        expect((await put(faults, { spec: "x".repeat(70_000) })).status).toBe(413);
        expect((await call(faults)).body).toBe(before);
        expect((await call(faults, { method: "DELETE" })).status).toBe(405);
        expect((await call(`${control}/v1/nothing`)).status).toBe(404);

        // What the host did, counted where it happens.
        await put(faults, { spec: "" });
        const upid = await client.start(102);
        await client.waitTask(upid, { deadlineMs: 10_000 });
        const tasks = JSON.parse((await call(`${control}/v1/tasks`)).body).tasks;
        expect(tasks).toContainEqual(
          expect.objectContaining({ upid, type: "vzstart", id: "102", status: "stopped" }),
        );
        const guests = JSON.parse((await call(`${control}/v1/guests`)).body).guests;
        expect(guests).toContainEqual(expect.objectContaining({ vmid: 102, status: "running" }));
        const stats = JSON.parse((await call(`${control}/v1/stats`)).body);
        expect(stats.requests).toBeGreaterThan(0);
        expect(stats.applied[`POST /nodes/${sim.ready.node}/lxc/102/status/start`]).toBe(1);

        // A change whose answer is lost still counts as applied, once.
        await put(faults, { spec: "dropafter=1" });
        expect(
          await client.shutdown(102).then(
            () => "answered",
            () => "lost",
          ),
        ).toBe("lost");
        await put(faults, { spec: "" });
        const after = JSON.parse((await call(`${control}/v1/stats`)).body);
        expect(after.applied[`POST /nodes/${sim.ready.node}/lxc/102/status/shutdown`]).toBe(1);
        expect(after.dropped).toBeGreaterThan(0);
      } finally {
        client.close();
      }
    } finally {
      expect(await sim.stop()).toBe(0);
    }
  });
});

describe("felhom-agent sim hub", () => {
  test("--help names the printed fields and the enroll line", async () => {
    const { io, out } = capture();
    expect(await runSimCommand(["hub", "--help"], io)).toBe(0);
    expect(out.join("")).toContain("enroll --hub URL --fingerprint FP --code CODE");
  });

  test.each([
    [["hub", "--listen", "0.0.0.0:0"], "loopback"],
    [["hub", "--bogus"], "bogus"],
    [["hub", "--code-ttl-ms", "0"], "--code-ttl-ms"],
    [["hub", "--desired", "/nonexistent/desired.json"], "cannot read --desired"],
  ])("%p exits 2", async (argv, text) => {
    const { io, err } = capture();
    expect(await runSimCommand(argv, io)).toBe(2);
    expect(err.join("")).toContain(text);
  });

  test("an invalid --desired document exits 2", async () => {
    const file = join(dir, "bad-desired.json");
    writeFileSync(file, JSON.stringify({ version: 1, guests: { abc: {} } }));
    const { io, err } = capture();
    expect(await runSimCommand(["hub", "--desired", file], io)).toBe(2);
    expect(err.join("")).toContain("--desired");
  });

  test("prints URL, fingerprint and a code a host enrolls with", async () => {
    const file = join(dir, "desired.json");
    writeFileSync(file, JSON.stringify({ version: 1, guests: { "101": { run: "running" } } }));
    const hub = await start(["hub", "--desired", file]);
    try {
      expect(hub.ready.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(hub.ready.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      const enroll = (force: boolean, identityFile: string) =>
        enrollHost({
          hubUrl: hub.ready.url,
          code: hub.ready.code,
          force,
          identityPath: join(dir, identityFile),
          trust: { kind: "fingerprint", sha256: hub.ready.fingerprint },
          pin: { fingerprint: hub.ready.fingerprint },
          agentVersion: "0.0.0-test",
          // This test is about the simulator's code; accepting its signers is the enroll tests'.
          acceptSigners: () => true,
          clock: systemClock,
          logger: silentLogger,
        });
      const identity = await enroll(false, "hub-identity.json");
      expect(identity.host_id).toBeString();
      // Single use: the same code again is refused.
      const again = await enroll(true, "hub-identity-2.json").catch((e) => e);
      expect(again).toBeInstanceOf(Error);
    } finally {
      expect(await hub.stop()).toBe(0);
    }
  });
});
