import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createProxmoxClient } from "../../src/proxmox/client.ts";
import type { ProxmoxClient } from "../../src/proxmox/client-types.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { defaultSeed } from "../../src/sim/pve/seed.ts";

let sim: PveSimulator;
let agent: ProxmoxClient;
let auditor: ProxmoxClient;

function clientFor(token: string): ProxmoxClient {
  return createProxmoxClient({
    endpoint: sim.endpoint,
    node: sim.node,
    token,
    trust: { kind: "fingerprint", sha256: sim.fingerprint },
  });
}

beforeAll(async () => {
  const seed = defaultSeed();
  seed.access.roles.Auditor = ["VM.Audit"];
  seed.access.users.push({ userid: "auditor@pve" });
  seed.access.tokens.push({ key: "auditor", userid: "auditor@pve", tokenid: "ro", privsep: false });
  seed.access.acl.push({ path: "/", ugid: "auditor@pve", roleid: "Auditor", propagate: true });
  sim = await startPveSimulator({ seed, taskMs: 30, authFailDelayMs: 0 });
  agent = clientFor(sim.tokens.agent);
  auditor = clientFor(sim.tokens.all.auditor as string);
});

afterAll(async () => {
  agent?.close();
  auditor?.close();
  await sim?.stop();
});

describe("the LXC env option", () => {
  test("set, read back with VM.Config.Options, hidden without it, removed with delete=env", async () => {
    const stopped = sim.state.guests().find((g) => !g.running) as { vmid: number };
    await agent.setConfig(stopped.vmid, { env: "FELHOM_BOOTSTRAP=abc\0OTHER=1" });
    expect((await agent.guestConfig(stopped.vmid)).raw.env).toBe("FELHOM_BOOTSTRAP=abc\0OTHER=1");
    const seen = await auditor.guestConfig(stopped.vmid);
    expect(seen.raw.env).toBeUndefined();
    expect(seen.raw.digest).toBe((await agent.guestConfig(stopped.vmid)).raw.digest as string);
    await agent.setConfig(stopped.vmid, { delete: ["env"] });
    expect((await agent.guestConfig(stopped.vmid)).raw.env).toBeUndefined();
  });

  test("on a running CT env waits as pending until the next start", async () => {
    const running = sim.state.guests().find((g) => g.running) as { vmid: number };
    await agent.setConfig(running.vmid, { env: "A=b" });
    expect(sim.state.guest(running.vmid)?.config.env).toBeUndefined();
    expect(sim.state.guest(running.vmid)?.pending.env).toBe("A=b");
  });
});

describe("GET …/interfaces", () => {
  test("a running CT lists lo first, then its netN with the MAC and a DHCP lease", async () => {
    const running = sim.state.guests().find((g) => g.running) as { vmid: number };
    const list = await agent.guestInterfaces(running.vmid);
    expect(list?.[0]?.name).toBe("lo");
    const eth0 = list?.find((i) => i.name === "eth0");
    const mac = /hwaddr=([0-9A-Fa-f:]+)/.exec(String(sim.state.guest(running.vmid)?.config.net0));
    expect(eth0?.mac).toBe(mac?.[1]?.toLowerCase() as string);
    expect(eth0?.addresses.some((a) => a.family === "inet")).toBe(true);
  });

  test("a stopped CT answers null, not an error", async () => {
    const stopped = sim.state.guests().find((g) => !g.running) as { vmid: number };
    expect(await agent.guestInterfaces(stopped.vmid)).toBeNull();
  });
});
