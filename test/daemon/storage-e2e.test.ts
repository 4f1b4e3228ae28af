import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import { buildPayload, signEnvelope } from "../../src/authz/sign.ts";
import type { CliContext } from "../../src/cli/context.ts";
import { runPending } from "../../src/cli/pending.ts";
import { runDaemon } from "../../src/cli/run.ts";
import type { AgentReady } from "../../src/daemon/agent-daemon.ts";
import type { HubIdentity } from "../../src/hub/identity.ts";
import { createPrivileged } from "../../src/proxmox/privileged.ts";
import type { HubSimulator } from "../../src/sim/hub/index.ts";
import { type PveSimulator, SimHostFs, startPveSimulator } from "../../src/sim/pve/index.ts";
import { freeLoopbackPort } from "../../src/util/free-port.ts";
import { keyFromSeed } from "../authz/support.ts";
import { enrollIn } from "../hub/link-harness.ts";
import { fastSimClient, hubDaemonConfig, pollUntil, startHubWithOperator } from "./support.ts";

/**
 * The whole daemon against the Proxmox and hub simulators: the hub's manifest names a USB disk,
 * an NFS export and a CIFS share whose password it sealed to this host; the daemon attaches the
 * disk, holds the two network targets for a signature (backups to them would leave the host)
 * without sending anything for them, and adds each once the operator approves it on the host.
 * The reports carry all three, and when the disk is pulled the next report says so and the hub
 * receives the audit row. The password is in no log line, report or audit row.
 */

const UUID = "2f0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3";
const PASSWORD = "cifs-e2e-Secret-4711";
const ed = createEd25519();
const operator = await keyFromSeed(32, "operator@example");
const dir = mkdtempSync(join(tmpdir(), "felhom-storage-e2e-"));
const stateDir = join(dir, "state");
const fs = new SimHostFs();
let pve: PveSimulator;
let hub: HubSimulator;
let identity: HubIdentity;
const until = pollUntil(300);

beforeAll(async () => {
  pve = await startPveSimulator({ taskMs: 40, authFailDelayMs: 0, hostFs: fs });
  hub = await startHubWithOperator(operator);
  identity = await enrollIn(hub, stateDir);
});

afterAll(async () => {
  await hub?.stop();
  await pve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("hub manifest → USB attached, NFS and CIFS held → approved on the host → disk pulled → report and audit row at the hub", async () => {
  fs.plug(UUID);
  const port = await freeLoopbackPort();
  const configPath = join(dir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify(hubDaemonConfig({ pve, stateDir, port, logLevel: "debug" })),
  );
  hub.setDesired(
    {
      version: 1,
      guests: {},
      storage_targets: {
        usb1: { kind: "usb", fs_uuid: UUID, class: "slow", role: "local" },
        nas1: {
          kind: "nfs",
          server: "nas.lan",
          export: "/srv/backup",
          class: "slow",
          role: "local",
        },
        smb1: {
          kind: "cifs",
          server: "nas.lan",
          share: "backup",
          username: "felhom",
          password: hub.sealFor(identity.host_id, PASSWORD),
          role: "local",
        },
      },
    },
    identity.host_id,
  );
  const logs: string[] = [];
  const stop = new AbortController();
  let ready: AgentReady | undefined;
  const exit = runDaemon(
    ["run"],
    { configPath, env: {}, stdout: () => {}, stderr: (t) => logs.push(t) },
    {
      signal: stop.signal,
      makeClient: () => fastSimClient(pve),
      onReady: (r) => {
        ready = r;
      },
      privileged: createPrivileged({ runner: fs.runner(), mountRoots: ["/mnt/felhom"] }),
      mounts: fs.probe(),
    },
  );
  let out = "";
  const cli = (): CliContext => {
    out = "";
    return {
      env: {},
      configPath,
      stdout: (t) => {
        out += t;
      },
      stderr: (t) => logs.push(t),
    };
  };
  const posts = () => pve.stats().applied["POST /storage"] ?? 0;
  try {
    await until("the daemon to be ready", () => ready);
    await until("the USB target defined", () => pve.state.storage("usb1"));
    // Several passes later the network targets are still held, each once, and nothing was sent.
    const passes = hub.state.reports.length;
    await until("three more reports", () => hub.state.reports.length >= passes + 3 || undefined);
    expect(posts()).toBe(1);
    expect(pve.state.storage("nas1")).toBeUndefined();
    expect(pve.state.storage("smb1")).toBeUndefined();
    expect(await runPending(["list", "--json"], cli())).toBe(0);
    const held = JSON.parse(out) as { id: string; op: string; params: Record<string, unknown> }[];
    expect(held.map((h) => [h.op, h.params.id]).sort()).toEqual([
      ["storage.add", "nas1"],
      ["storage.add", "smb1"],
    ]);
    // The report says why the two are missing: a signature, not Proxmox.
    const waiting = await until("a report naming the held targets", () => {
      const r = hub.state.reports.filter((x) => x.hostId === identity.host_id).at(-1);
      const nas = r?.storage_targets?.find((t) => t.id === "nas1");
      return nas?.reason?.startsWith("waiting for an operator's signature") ? r : undefined;
    });
    expect(waiting.storage_targets?.find((t) => t.id === "smb1")?.reason).toContain(
      "storage.add held",
    );
    for (const h of held) {
      const payload = buildPayload({
        op: "storage.add",
        host: identity.host_id,
        params: h.params,
        now: Math.floor(Date.now() / 1000),
        ttlSeconds: 300,
      });
      const file = join(dir, `${h.id}.env`);
      writeFileSync(file, JSON.stringify(await signEnvelope(ed, operator, payload)));
      const code = await runPending(
        ["approve", h.id, "--envelope", file, "--wait", "20", "--json"],
        cli(),
      );
      expect(code).toBe(0);
      expect(JSON.parse(out)).toMatchObject({ outcome: "accepted" });
    }
    await until(
      "three targets defined",
      () =>
        ["usb1", "nas1", "smb1"].every((id) => pve.state.storage(id) !== undefined) || undefined,
    );
    expect(pve.state.storage("usb1")?.path).toBe("/mnt/felhom/usb1");
    expect(pve.state.storage("smb1")?.hasPassword).toBe(true);
    expect(posts()).toBe(3);
    const reportWith = (pred: (t: { id: string; present: boolean }[]) => boolean) =>
      until("a report", () => {
        const r = hub.state.reports.filter((x) => x.hostId === identity.host_id).at(-1);
        return r?.storage_targets && pred(r.storage_targets) ? r : undefined;
      });
    await reportWith((t) => t.filter((x) => x.present).length >= 3);

    fs.unplug(UUID);
    const gone = await reportWith((t) => t.some((x) => x.id === "usb1" && !x.present));
    expect(gone.storage_targets?.find((t) => t.id === "usb1")?.reason).toBe(
      `USB disk ${UUID} not attached`,
    );
    await until("the audit row at the hub", () =>
      hub.state.audit.find(
        (a) =>
          a.action === "storage.presence" && a.target === "storage:usb1" && a.outcome === "missing",
      ),
    );
    const everything = [
      logs.join(""),
      JSON.stringify(hub.state.reports),
      JSON.stringify(hub.state.audit),
    ].join("\n");
    expect(everything).not.toContain(PASSWORD);
  } finally {
    stop.abort();
    expect(await exit).toBe(0);
  }
});
