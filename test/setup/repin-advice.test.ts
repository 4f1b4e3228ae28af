import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runStatus } from "../../src/cli/status.ts";
import { collectStatusReport } from "../../src/hub/report-collector.ts";
import { createProxmoxClient } from "../../src/proxmox/client.ts";
import { REPIN_ADVICE } from "../../src/proxmox/transport-errors.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";

/**
 * After a certificate renewal the pin no longer matches: the daemon keeps refusing to talk to
 * Proxmox and says what to do, in its status report to the hub and in `felhom-agent status`.
 */
const OTHER_PIN = `${"AB:".repeat(31)}AB`;

let sim: PveSimulator;
let dir: string;
beforeAll(async () => {
  sim = await startPveSimulator({ authFailDelayMs: 0, taskMs: 50 });
  dir = mkdtempSync(join(tmpdir(), "felhom-repin-"));
});
afterAll(async () => {
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a Proxmox certificate that no longer matches the pin", () => {
  test("the hub's status report says to re-pin, and no request reached Proxmox", async () => {
    const before = sim.requestCount;
    const client = createProxmoxClient({
      endpoint: sim.endpoint,
      node: sim.node,
      token: sim.tokens.agent,
      trust: { kind: "fingerprint", sha256: OTHER_PIN },
      random: () => 0,
    });
    try {
      const r = await collectStatusReport({ proxmox: client, agentVersion: "t", now: () => 0 });
      expect(r.host.reachable).toBe(false);
      expect(r.host.error?.startsWith(REPIN_ADVICE)).toBe(true);
      expect(r.host.error).toContain(sim.fingerprint);
      expect(sim.requestCount).toBe(before);
    } finally {
      client.close();
    }
  });

  function config(pin: string): string {
    const path = join(dir, `agent-${pin.slice(0, 2)}.json`);
    writeFileSync(
      path,
      JSON.stringify({
        proxmox: {
          endpoint: sim.endpoint,
          node: sim.node,
          token: "felhom-agent@pve!agent=00000000-0000-4000-8000-000000000000",
          tls: { fingerprint: pin },
        },
        state_dir: join(dir, "state"),
      }),
    );
    return path;
  }

  async function status(configPath: string, json = false) {
    let out = "";
    let err = "";
    const code = await runStatus(json ? ["--json"] : [], {
      env: {},
      configPath,
      stdout: (t) => {
        out += t;
      },
      stderr: (t) => {
        err += t;
      },
    });
    return { code, out, err };
  }

  test("`status` names it as a problem (exit 1) with the command to run", async () => {
    const r = await status(config(OTHER_PIN));
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      `problem: ${REPIN_ADVICE} (pinned ${OTHER_PIN}, ${sim.endpoint} presents ${sim.fingerprint})`,
    );
    const j = await status(config(OTHER_PIN), true);
    expect(JSON.parse(j.out).proxmox_certificate.state).toBe("changed");
  });

  test("`status` with the right pin says it matches", async () => {
    const r = await status(config(sim.fingerprint));
    expect(r.code).toBe(0);
    expect(r.out).toContain(`proxmox certificate: ok, matches the pin ${sim.fingerprint}`);
  });
});
