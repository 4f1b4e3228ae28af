import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMMANDS } from "../../src/cli/commands.ts";
import { dispatch } from "../../src/cli/dispatch.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { proxmoxSection } from "../daemon/support.ts";

let sim: PveSimulator;
let dir: string;

beforeAll(async () => {
  sim = await startPveSimulator({ taskMs: 50, authFailDelayMs: 5 });
  dir = mkdtempSync(join(tmpdir(), "felhom-selftest-"));
});
afterAll(async () => {
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

function envFor(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    FELHOM_AGENT_PROXMOX_ENDPOINT: sim.endpoint,
    FELHOM_AGENT_PROXMOX_NODE: sim.node,
    FELHOM_AGENT_PROXMOX_TOKEN: token,
    FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT: sim.fingerprint,
    FELHOM_AGENT_STATE_DIR: dir,
    ...extra,
  };
}

async function run(argv: string[], env: Record<string, string | undefined>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await dispatch(argv, COMMANDS, {
    env,
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
  });
  return { code, out: out.join(""), err: err.join("") };
}

const secretOf = (token: string) => token.slice(token.lastIndexOf("=") + 1);

describe("--selftest (read-only)", () => {
  test("healthy against the simulator: exit 0, every check ok, nothing changed", async () => {
    const tasksBefore = sim.state.tasks().length;
    const r = await run(["--selftest"], envFor(sim.tokens.agent));
    expect(r.code).toBe(0);
    expect(r.out).toContain("all 16 required privileges on /");
    expect(r.out).toContain(`ssl_fingerprint ${sim.fingerprint}`);
    expect(r.out).toContain("Result: healthy.");
    expect(sim.state.tasks().length).toBe(tasksBefore);
  });

  test("--json prints a parseable report", async () => {
    const r = await run(["--selftest", "--json"], envFor(sim.tokens.agent));
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.ok).toBe(true);
    expect(report.tokenId).toBe("felhom-agent@pve!agent");
    expect(report.checks.map((c: { name: string }) => c.name)).toEqual([
      "api",
      "nodes",
      "node_status",
      "guests",
      "storage",
      "privileges",
      "backup_storage",
    ]);
    expect(report.backupStorage).toEqual([
      expect.objectContaining({ path: "/storage/local", missing: [] }),
    ]);
    expect(report.guests.length).toBeGreaterThan(0);
  });

  test("a token without ACLs: exit 1, each missing privilege and the pveum fix named", async () => {
    const r = await run(["--selftest"], envFor(sim.tokens.noacl));
    expect(r.code).toBe(1);
    expect(r.out).toContain("missing on /: VM.Allocate");
    expect(r.out).toContain("SDN.Use");
    expect(r.out).toContain("pveum acl modify / -token 'felhom-agent@pve!noacl' -role FelhomAgent");
    expect(r.out).toContain("UNHEALTHY");
  });

  test("a backup storage without Datastore.Allocate: exit 1, the storage and the fix named", async () => {
    // An ACL on the storage itself replaces what the role grants on / (most specific path wins).
    const access = sim.state.access;
    const entries = ["felhom-agent@pve", "felhom-agent@pve!agent"].map((ugid) => ({
      path: "/storage/local",
      ugid,
      roleid: "PVEDatastoreUser",
      propagate: true,
    }));
    access.roles.set("PVEDatastoreUser", new Set(["Datastore.AllocateSpace", "Datastore.Audit"]));
    access.acl.push(...entries);
    access.changed();
    try {
      const r = await run(["--selftest"], envFor(sim.tokens.agent));
      expect(r.code).toBe(1);
      expect(r.out).toContain("missing on /storage/local: Datastore.Allocate");
      expect(r.out).toContain(
        "pveum acl modify /storage/local -token 'felhom-agent@pve!agent' -role FelhomAgent",
      );
      expect(r.out).toContain("all 16 required privileges on /");
    } finally {
      access.acl = access.acl.filter((a) => !entries.includes(a));
      access.changed();
    }
    const again = await run(["--selftest"], envFor(sim.tokens.agent));
    expect(again.code).toBe(0);
  });

  test("unconfigured: a clear message and exit 2", async () => {
    const r = await run(["--config", join(dir, "absent.json"), "--selftest"], {});
    expect(r.code).toBe(2);
    expect(r.err).toContain("configuration error");
    expect(r.err).toContain("absent.json");
  });

  test("unreachable: exit 1 and a hint", async () => {
    const r = await run(
      ["--selftest"],
      envFor(sim.tokens.agent, { FELHOM_AGENT_PROXMOX_ENDPOINT: "https://127.0.0.1:1" }),
    );
    expect(r.code).toBe(1);
    expect(r.out).toContain("UNREACHABLE");
  });

  test("a wrong pin: exit 1, the error names both fingerprints", async () => {
    const wrong = sim.fingerprint.replace(/^../, (b) => (b === "00" ? "11" : "00"));
    const before = sim.requestCount;
    const r = await run(
      ["--selftest"],
      envFor(sim.tokens.agent, { FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT: wrong }),
    );
    expect(r.code).toBe(1);
    expect(r.out).toContain(wrong);
    expect(r.out).toContain(sim.fingerprint);
    expect(sim.requestCount).toBe(before);
  });
});

describe("--selftest=task", () => {
  test("refuses without --vmid (usage, exit 2)", async () => {
    const r = await run(["--selftest=task"], envFor(sim.tokens.agent));
    expect(r.code).toBe(2);
    expect(r.err).toContain("--vmid");
  });

  test("snapshot, rollback, delete on a running guest: exit 0, guest running, no snapshot left", async () => {
    const r = await run(["--selftest=task", "--vmid", "101"], envFor(sim.tokens.agent));
    expect(r.code).toBe(0);
    for (const step of ["snapshot", "rollback", "delete-snapshot"]) {
      expect(r.out).toMatch(new RegExp(`\\[ ok \\] ${step}\\s+OK`));
    }
    const g = sim.state.guest(101);
    expect(g?.running).toBe(true);
    expect([...(g?.snapshots.keys() ?? [])].some((n) => n.startsWith("felhom-selftest-"))).toBe(
      false,
    );
  });

  test("a rollback that fails still leaves no snapshot behind, exit 1", async () => {
    sim.setFaults("taskfail=vzrollback");
    try {
      const r = await run(["--selftest=task", "--vmid", "102", "--json"], envFor(sim.tokens.agent));
      expect(r.code).toBe(1);
      const report = JSON.parse(r.out);
      expect(report.ok).toBe(false);
      expect(report.leftClean).toBe(true);
      expect(report.steps.find((s: { step: string }) => s.step === "rollback").ok).toBe(false);
    } finally {
      sim.setFaults({ taskFail: [] });
    }
    const g = sim.state.guest(102);
    expect([...(g?.snapshots.keys() ?? [])].some((n) => n.startsWith("felhom-selftest-"))).toBe(
      false,
    );
  });
});

describe("secrets never reach output", () => {
  test("the selftest paths at debug level never print the token secret", async () => {
    const secret = secretOf(sim.tokens.agent);
    const noaclSecret = secretOf(sim.tokens.noacl);
    const cfgFile = join(dir, "agent.json");
    writeFileSync(
      cfgFile,
      JSON.stringify({
        proxmox: proxmoxSection(sim),
        state_dir: dir,
        log: { level: "debug" },
      }),
      { mode: 0o600 },
    );
    const wrong = sim.fingerprint.replace(/^../, (b) => (b === "00" ? "11" : "00"));
    const outputs = [
      await run(["--config", cfgFile, "--selftest"], {}),
      await run(["--config", cfgFile, "--selftest", "--json"], {}),
      await run(["--config", cfgFile, "--selftest=task", "--vmid", "101"], {}),
      await run(["--config", cfgFile, "config", "show"], {}),
      await run(["--selftest"], envFor(sim.tokens.noacl, { FELHOM_AGENT_LOG_LEVEL: "debug" })),
      await run(
        ["--selftest"],
        envFor(sim.tokens.agent, {
          FELHOM_AGENT_LOG_LEVEL: "debug",
          FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT: wrong,
        }),
      ),
      await run(
        ["--selftest"],
        envFor(`felhom-agent@pve!agent=${secret}x`, { FELHOM_AGENT_LOG_LEVEL: "debug" }),
      ),
    ];
    for (const o of outputs) {
      for (const s of [secret, noaclSecret]) {
        expect(o.out).not.toContain(s);
        expect(o.err).not.toContain(s);
      }
    }
    // The runs did produce output, including debug log lines on stderr.
    expect(outputs[0]?.out).toContain("Result: healthy.");
    expect(outputs[3]?.out).toContain("felhom-agent@pve!agent=<redacted>");
    expect(outputs[6]?.out).toContain("UNREACHABLE");
  });
});
