import { expect, test } from "bun:test";
import { ConfigError } from "../../src/config/errors.ts";
import { loadSections } from "../../src/config/load.ts";
import type { AnySection } from "../../src/config/section.ts";
import { agentSections } from "../../src/daemon/agent-config.ts";
import { gateSections } from "../../src/gate/config-section.ts";
import { fixture } from "../authz/support.ts";
import { memoryFs } from "../config/memory-fs.ts";

const base = {
  proxmox: {
    endpoint: "https://127.0.0.1:8006",
    node: "pve1",
    token: "felhom-agent@pve!agent=00000000-0000-4000-8000-000000000000",
    tls: { fingerprint: `${"AA:".repeat(31)}AA` },
  },
};
const GATE_KEYS = new Set(gateSections.map((s) => s.key as string));
// Until src/daemon/agent-config.ts lists them, this is the list it will become.
const sections = [
  ...(agentSections as readonly AnySection[]).filter((s) => !GATE_KEYS.has(s.key)),
  ...gateSections,
] as const;

const operatorKey = fixture("operator_ed25519.pub").trim();

async function load(extra: Record<string, unknown>, env: Record<string, string> = {}) {
  const fs = memoryFs({ "/etc/a.json": { text: JSON.stringify({ ...base, ...extra }) } });
  return loadSections(sections, { path: "/etc/a.json", env, fs });
}

test("defaults: no host id, no signers, 60 s skew, 900 s lifetime, held a week, +64 GiB, vmbr0", async () => {
  const cfg = await load({});
  expect(cfg.host_id).toBeUndefined();
  expect(cfg.signers).toEqual([]);
  expect(cfg.gate).toEqual({
    skew_s: 60,
    max_ttl_s: 900,
    pending_ttl_s: 604_800,
    max_grow_gib: 64,
    provision_bridges: ["vmbr0"],
  });
});

test("the grow bound and the provisioning bridges are set in the file, the bound by env too", async () => {
  const cfg = await load(
    { gate: { provision_bridges: ["vmbr1", "vmbr2"] } },
    { FELHOM_AGENT_GATE_MAX_GROW_GIB: "16" },
  );
  expect(cfg.gate.max_grow_gib).toBe(16);
  expect(cfg.gate.provision_bridges).toEqual(["vmbr1", "vmbr2"]);
  await expect(load({ gate: { provision_bridges: ["vmbr0,hwaddr=x"] } })).rejects.toThrow(
    "provision_bridges",
  );
});

test("signers become verifiable keys with their OpenSSH fingerprint as key id", async () => {
  const cfg = await load({
    host_id: "box-17",
    signers: [
      { name: "alice", key: operatorKey, role: "operational", expires: "2027-06-01T00:00:00Z" },
    ],
  });
  expect(cfg.host_id).toBe("box-17");
  expect(cfg.signers).toHaveLength(1);
  expect(cfg.signers[0]).toMatchObject({
    name: "alice",
    role: "operational",
    keyId: expect.stringMatching(/^SHA256:/),
    expiresAt: Date.parse("2027-06-01T00:00:00Z"),
  });
});

test("host_id comes from the environment too", async () => {
  const cfg = await load({ host_id: "from-file" }, { FELHOM_AGENT_HOST_ID: "from-env" });
  expect(cfg.host_id).toBe("from-env");
  const tuned = await load({}, { FELHOM_AGENT_GATE_SKEW_S: "5" });
  expect(tuned.gate.skew_s).toBe(5);
});

test("bad input names the key and changes nothing", async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ host_id: "has space" }, /host_id/],
    [{ signers: [{ name: "alice", key: "ssh-rsa AAAA", role: "operational" }] }, /signers\.0\.key/],
    [{ signers: [{ name: "alice", key: operatorKey, role: "admin" }] }, /signers\.0\.role/],
    [
      {
        signers: [
          { name: "a", key: operatorKey, role: "operational" },
          { name: "b", key: operatorKey, role: "recovery" },
        ],
      },
      /already configured/,
    ],
    [{ signers: [{ name: "alice", key: operatorKey, role: "operational", extra: 1 }] }, /extra/],
    [{ gate: { skew_s: -1 } }, /gate\.skew_s/],
    [{ gate: { max_ttl: 10 } }, /max_ttl/],
  ];
  for (const [extra, message] of cases) {
    const err = await load(extra).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
  }
});

test("redaction shows who may sign without the key line", () => {
  const signers = gateSections[1];
  const shown = signers.redact([
    {
      name: "alice",
      role: "operational",
      keyId: "SHA256:abc",
      publicKey: { key: "x", blob: new Uint8Array(), fingerprint: "SHA256:abc" } as never,
    },
  ]);
  expect(shown).toEqual([{ name: "alice", key_id: "SHA256:abc", role: "operational" }]);
});
