/**
 * A stock third-party client against the PVE simulator: Debian's python3-proxmoxer lists the
 * guests, starts a snapshot task with an API token, and polls the task until it stops, verifying
 * TLS against the simulator's certificate (IP SAN 127.0.0.1).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPveSimulator } from "../../src/sim/pve/index.ts";

const PYTHON = "/usr/bin/python3";
const RUN_TIMEOUT_MS = 60_000;

function proxmoxerAvailable(): boolean {
  try {
    const r = Bun.spawnSync([PYTHON, "-c", "import proxmoxer"], {
      stdout: "ignore",
      stderr: "ignore",
    });
    return r.exitCode === 0;
  } catch {
    return false;
  }
}

const available = proxmoxerAvailable();
const inCi = Boolean(process.env.CI);

if (!available && !inCi) {
  console.warn(
    "proxmoxer.test.ts: skipped - python3-proxmoxer is not installed (`import proxmoxer` failed in /usr/bin/python3)",
  );
}

const SCRIPT = `
import json, os, sys, time
import proxmoxer

api = proxmoxer.ProxmoxAPI(
    os.environ["SIM_HOST"],
    port=int(os.environ["SIM_PORT"]),
    user=os.environ["SIM_USER"],
    token_name=os.environ["SIM_TOKEN_NAME"],
    token_value=os.environ["SIM_TOKEN_VALUE"],
    verify_ssl=os.environ["SIM_CA"],
)
node = os.environ["SIM_NODE"]
guests = api.nodes(node).lxc.get()
vmid = sorted(int(g["vmid"]) for g in guests)[0]
upid = api.nodes(node).lxc(vmid).snapshot.post(snapname="pyclient", description="from proxmoxer")
polls = []
status = None
for _ in range(600):
    status = api.nodes(node).tasks(upid).status.get()
    polls.append(status["status"])
    if status["status"] == "stopped":
        break
    time.sleep(0.05)
snaps = api.nodes(node).lxc(vmid).snapshot.get()
try:
    api.nodes(node).lxc(vmid).config.put(cores="abc")
    bad = None
except proxmoxer.core.ResourceException as e:
    bad = {"status": e.status_code, "reason": e.content}
print(json.dumps({
    "guests": guests,
    "vmid": vmid,
    "upid": upid,
    "polls": polls,
    "status": status,
    "snapshots": [s["name"] for s in snaps],
    "bad": bad,
}))
`;

interface ScriptOutput {
  guests: Array<{ vmid: number | string; status: string }>;
  vmid: number;
  upid: string;
  polls: string[];
  status: Record<string, unknown>;
  snapshots: string[];
  bad: { status: number; reason: string } | null;
}

describe.skipIf(!available && !inCi)("python3-proxmoxer against the simulator", () => {
  let sim: Awaited<ReturnType<typeof startPveSimulator>> | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    if (!available) return;
    sim = await startPveSimulator({ taskMs: 200 });
    dir = mkdtempSync(join(tmpdir(), "pve-sim-ca-"));
    writeFileSync(join(dir, "ca.pem"), sim.certPem);
  });

  afterAll(async () => {
    await sim?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("is installed (CI installs python3-proxmoxer)", () => {
    expect(available).toBe(true);
  });

  test.skipIf(!available)(
    "lists guests, runs a snapshot task to completion, sees a 400",
    async () => {
      const s = sim as NonNullable<typeof sim>;
      const url = new URL(s.endpoint);
      // Token ids split at the last '=' into id and secret, the id at '!' (docs/proxmox-behaviour.md#api-tokens).
      const full = s.tokens.agent;
      const eq = full.lastIndexOf("=");
      const [user, tokenName] = full.slice(0, eq).split("!") as [string, string];
      const proc = Bun.spawn([PYTHON, "-c", SCRIPT], {
        env: {
          PATH: "/usr/bin:/bin",
          SIM_HOST: url.hostname,
          SIM_PORT: url.port,
          SIM_USER: user,
          SIM_TOKEN_NAME: tokenName,
          SIM_TOKEN_VALUE: full.slice(eq + 1),
          SIM_CA: join(dir as string, "ca.pem"),
          SIM_NODE: s.node,
        },
        stdout: "pipe",
        stderr: "pipe",
        timeout: RUN_TIMEOUT_MS,
        killSignal: "SIGKILL",
      });
      const [stdout, stderr, code] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ]);
      expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
      const out = JSON.parse(stdout) as ScriptOutput;

      expect(out.guests.length).toBeGreaterThan(0);
      expect(out.guests.every((g) => g.status === "running" || g.status === "stopped")).toBe(true);
      expect(out.upid).toMatch(
        /^UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:vzsnapshot:\d+:[^:]+:$/,
      );
      expect(out.upid).toContain(`:vzsnapshot:${out.vmid}:`);
      expect(out.status).toMatchObject({ status: "stopped", exitstatus: "OK", upid: out.upid });
      expect(out.polls.at(-1)).toBe("stopped");
      expect(out.snapshots).toContain("pyclient");
      // proxmoxer 1.2 looks for `errors` inside `data` (always null), so only the status and the
      // reason phrase (its `content`) reach the caller; PVE's reason phrase is the message's first
      // line (docs/proxmox-behaviour.md#api-envelope-and-errors).
      expect(out.bad).toEqual({ status: 400, reason: "Parameter verification failed." });
    },
  );
});
