import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSshPublicKey } from "../../src/authz/ssh-public-key.ts";
import { runConfigShow } from "../../src/cli/config-show.ts";
import type { CliContext } from "../../src/cli/context.ts";
import { runStatus } from "../../src/cli/status.ts";
import { writeIdentity } from "../../src/hub/identity.ts";
import { defaultStorePath, openStore } from "../../src/store/open.ts";

const ALICE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDy9Nl5u2fnkGKBnW/a8drIxuS4dH7bgeIGAWrM0/kBw";
const BOB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOFaH0CJm3k2m8lQfHnO7Gb1SvC7jvqkzqQG4A9q4Sdd";
const fp = (key: string) => parseSshPublicKey(key).fingerprint;
const CREDENTIAL = "c".repeat(43);

let dir: string;
let stateDir: string;
let configPath: string;
let out = "";
let err = "";

function ctx(): CliContext {
  out = "";
  err = "";
  return {
    env: {},
    configPath,
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
  };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "felhom-cli-status-"));
  stateDir = join(dir, "state");
  configPath = join(dir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      proxmox: {
        endpoint: "https://127.0.0.1:8006",
        node: "pve1",
        token: "felhom-agent@pve!agent=00000000-0000-4000-8000-000000000000",
        tls: { fingerprint: `${"AA:".repeat(31)}AA` },
      },
      state_dir: stateDir,
      signers: [{ name: "alice", key: `${ALICE} alice`, role: "recovery" }],
    }),
  );
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function enroll(): Promise<void> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  await writeIdentity(join(stateDir, "hub-identity.json"), {
    version: 1,
    host_id: "host-abc",
    hub_url: "https://hub.example",
    credential: CREDENTIAL,
    host_key: {
      public: Buffer.alloc(32, 1).toString("base64"),
      seed: Buffer.alloc(32, 2).toString("base64"),
    },
    signers: [
      // The same key as a configured signer: the config's entry wins, it is listed once.
      { name: "alice-hub", public_key: ALICE, role: "operational" },
      { name: "bob", public_key: `${BOB} bob@ops`, role: "operational" },
    ],
    enrolled_at: "2026-06-01T00:00:00.000Z",
  });
}

const IN_FORCE = [
  { name: "alice", role: "recovery", fingerprint: fp(ALICE), source: "config" },
  { name: "bob", role: "operational", fingerprint: fp(BOB), source: "enrollment" },
];

test("config show lists every signer in force with its source and fingerprint", async () => {
  await enroll();
  expect(await runConfigShow([], ctx())).toBe(0);
  const doc = JSON.parse(out);
  expect(doc.signers_in_force).toEqual(IN_FORCE);
  expect(out).not.toContain(CREDENTIAL);
});

test("status --json: enrolled, hub, store path, audit head, signers in force", async () => {
  await enroll();
  const store = openStore({ path: defaultStorePath(stateDir) });
  const row = store.audit.append({ actor: "agent", action: "test", outcome: "ok" });
  store.audit.append({ actor: "agent", action: "test", outcome: "ok" });
  store.audit.markDelivered(1);
  const head = store.audit.list({ afterSeq: 1 })[0]?.hash;
  store.close();
  expect(await runStatus(["--json"], ctx())).toBe(0);
  const doc = JSON.parse(out);
  expect(doc.enrollment).toEqual({
    state: "enrolled",
    identity_file: join(stateDir, "hub-identity.json"),
    host_id: "host-abc",
    hub_url: "https://hub.example",
    enrolled_at: "2026-06-01T00:00:00.000Z",
  });
  expect(doc.store).toEqual({
    path: defaultStorePath(stateDir),
    state: "ok",
    audit_head: { seq: 2, hash: head, delivered_seq: 1, anchor_seq: 0 },
  });
  expect(row.seq).toBe(1);
  expect(doc.signers).toEqual(IN_FORCE);
  expect(doc.problems).toEqual([]);
  expect(out).not.toContain(CREDENTIAL);
  // The text form says the same.
  expect(await runStatus([], ctx())).toBe(0);
  expect(out).toContain("enrolled: yes, host host-abc, hub https://hub.example");
  expect(out).toContain(`audit head: seq 2, hash ${head}`);
  expect(out).toContain(`${fp(BOB)}  operational  enrollment  bob`);
  expect(out).toContain(`${fp(ALICE)}  recovery     config      alice`);
});

test("not enrolled, no state yet: says so, creates nothing, exit 0", async () => {
  expect(await runStatus([], ctx())).toBe(0);
  expect(out).toContain("enrolled: no");
  expect(out).toContain(`state database: ${defaultStorePath(stateDir)} (missing)`);
  expect(out).toContain(`${fp(ALICE)}  recovery     config      alice`);
  expect(await runStatus(["--json"], ctx())).toBe(0);
  expect(JSON.parse(out).signers).toEqual([IN_FORCE[0]]);
});

test("an identity readable by others is a problem: exit 1, named", async () => {
  await enroll();
  const { chmodSync } = await import("node:fs");
  chmodSync(join(stateDir, "hub-identity.json"), 0o644);
  expect(await runStatus([], ctx())).toBe(1);
  expect(out).toContain("problem: hub identity");
  expect(out).toContain("chmod 600");
});

test("--help, bad flags, bad config", async () => {
  expect(await runStatus(["--help"], ctx())).toBe(0);
  expect(out).toContain("status [--json]");
  await expect(runStatus(["--bogus"], ctx())).rejects.toThrow("bogus");
  writeFileSync(configPath, JSON.stringify({ nonsense: true }));
  expect(await runStatus([], ctx())).toBe(2);
  expect(err).toMatch(/^felhom-agent: [a-z]+(?: [a-z]+)?: configuration error:/);
});

test("a config without a proxmox section: Proxmox not configured, no pin probed, exit 0", async () => {
  await enroll();
  openStore({ path: defaultStorePath(stateDir) }).close();
  writeFileSync(
    configPath,
    JSON.stringify({
      state_dir: stateDir,
      signers: [{ name: "alice", key: `${ALICE} alice`, role: "recovery" }],
    }),
  );
  const probed: string[] = [];
  const c = {
    ...ctx(),
    deps: {
      presented: async (host: string, port: number) => {
        probed.push(`${host}:${port}`);
        return "00";
      },
    },
  };
  expect(await runStatus([], c)).toBe(0);
  expect(err).toBe("");
  expect(out).toContain("enrolled: yes, host host-abc");
  expect(out).toContain("Proxmox is not configured");
  expect(await runStatus(["--json"], { ...c, ...ctx() })).toBe(0);
  const j = JSON.parse(out);
  expect(j.proxmox_certificate.state).toBe("unchecked");
  expect(j.proxmox_certificate.detail).toContain("Proxmox is not configured");
  expect(j.store.state).toBe("ok");
  expect(j.problems).toEqual([]);
  expect(probed).toEqual([]);
});

test("a proxmox section that is there is still checked: invalid is a configuration error, a changed pin a problem", async () => {
  const base = {
    endpoint: "https://127.0.0.1:8006",
    token: "felhom-agent@pve!agent=00000000-0000-4000-8000-000000000000",
    tls: { fingerprint: `${"AA:".repeat(31)}AA` },
  };
  writeFileSync(configPath, JSON.stringify({ state_dir: stateDir, proxmox: base }));
  expect(await runStatus([], ctx())).toBe(2);
  expect(err).toContain("felhom-agent: status: configuration error:");
  expect(err).toContain("node");
  writeFileSync(
    configPath,
    JSON.stringify({ state_dir: stateDir, proxmox: { ...base, node: "pve1" } }),
  );
  const c = { ...ctx(), deps: { presented: async () => `${"BB:".repeat(31)}BB` } };
  expect(await runStatus([], c)).toBe(1);
  expect(out).toContain("problem: Proxmox certificate changed");
});

test("status --json: host health from the daemon's last collections, open alerts", async () => {
  const store = openStore({ path: defaultStorePath(stateDir) });
  const at = Date.UTC(2026, 5, 1, 12);
  store.healthAlerts.putCollection("disks", at, {
    state: "ok",
    at,
    data: [{ devpath: "/dev/sda", passed: false, temperatureC: 41 }],
  });
  store.healthAlerts.putCollection("tunnel", at, {
    state: "unavailable",
    at,
    reason: "connection refused",
  });
  store.healthAlerts.putCollection("node", at, { state: "ok", at, data: { pveVersion: "9.1.2" } });
  store.healthAlerts.apply(
    [
      {
        kind: "smart_failing",
        subject: "disk:/dev/sda",
        severity: "critical",
        since: at,
        detail: "SMART overall verdict FAILED",
      },
    ],
    [],
  );
  store.close();
  const deps = { now: () => at + 60_000 };
  expect(await runStatus(["--json"], { ...ctx(), deps })).toBe(0);
  const doc = JSON.parse(out);
  for (const key of [
    "daemon",
    "proxmox",
    "hub",
    "guests",
    "pending",
    "storage",
    "backups",
    "disks",
    "sensors",
    "tunnel",
    "alerts",
  ]) {
    expect(doc).toHaveProperty(key);
  }
  expect(doc.daemon).toEqual({ state: "running", last_collection_at: new Date(at).toISOString() });
  expect(doc.proxmox).toEqual({ reachable: true, node: { pveVersion: "9.1.2" } });
  expect(doc.disks.state).toBe("ok");
  expect(doc.tunnel).toEqual({
    state: "unavailable",
    at: new Date(at).toISOString(),
    reason: "connection refused",
  });
  expect(doc.sensors).toEqual({ state: "not_collected" });
  expect(doc.pending).toEqual({ held: 0 });
  expect(doc.hub).toMatchObject({ enrolled: false, outbox_depth: 0 });
  expect(doc.alerts).toEqual([
    {
      kind: "smart_failing",
      severity: "critical",
      subject: "disk:/dev/sda",
      since: new Date(at).toISOString(),
      detail: "SMART overall verdict FAILED",
    },
  ]);
  expect(await runStatus([], { ...ctx(), deps: { now: () => at + 3_600_000 } })).toBe(0);
  expect(out).toContain("daemon: not seen");
  expect(out).toContain("disks: /dev/sda FAILING 41°C");
  expect(out).toContain("tunnel: unavailable (connection refused)");
  expect(out).toContain("critical smart_failing disk:/dev/sda");
});
