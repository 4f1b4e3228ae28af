import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../src/config/errors.ts";
import { loadSections } from "../../src/config/load.ts";
import { agentSections } from "../../src/daemon/agent-config.ts";
import { type HubConfig, hubIdentityPath, hubSection } from "../../src/hub/config-section.ts";
import { memoryFs } from "../config/memory-fs.ts";

const sections = agentSections.some((s) => (s.key as string) === "hub")
  ? agentSections
  : [...agentSections, hubSection];
const FP = `${"AB:".repeat(31)}AB`;
const base = {
  proxmox: {
    endpoint: "https://pve:8006",
    node: "pve1",
    token: "felhom-agent@pve!agent=00000000-0000-0000-0000-000000000000",
    tls: { fingerprint: FP },
  },
};

async function load(
  hub: unknown,
  env: Record<string, string> = {},
  files: Record<string, { text: string }> = {},
) {
  const fs = memoryFs({
    "/etc/agent.json": { text: JSON.stringify({ ...base, ...(hub === undefined ? {} : { hub }) }) },
    ...files,
  });
  const cfg = (await loadSections(sections, {
    path: "/etc/agent.json",
    env,
    fs,
  })) as unknown as Record<string, unknown>;
  return cfg.hub as HubConfig;
}

describe("hub config section", () => {
  test("defaults: system CAs, 30 s polling, 20 % jitter, 300 s back-off cap, identity in the state dir", async () => {
    const hub = await load(undefined);
    expect(hub).toEqual({
      poll_interval_s: 30,
      jitter_pct: 20,
      backoff_max_s: 300,
      report_interval_s: 60,
      request_timeout_s: 30,
      audit_retention_days: 365,
    });
    expect(hubIdentityPath(hub, "/var/lib/felhom-agent")).toBe(
      "/var/lib/felhom-agent/hub-identity.json",
    );
  });

  test("a pin and a URL; env overrides", async () => {
    const hub = await load(
      { url: "https://hub.example/api/", tls: { fingerprint: FP.toLowerCase() } },
      {
        FELHOM_AGENT_HUB_POLL_INTERVAL_S: "10",
      },
    );
    expect(hub.url).toBe("https://hub.example/api");
    expect(hub.tls).toEqual({ kind: "fingerprint", sha256: FP });
    expect(hub.poll_interval_s).toBe(10);
  });

  test("a CA file is read", async () => {
    const hub = await load(
      { tls: { ca_file: "/etc/hub-ca.pem" } },
      {},
      {
        "/etc/hub-ca.pem": { text: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n" },
      },
    );
    expect(hub.tls?.kind).toBe("ca");
  });

  test.each([
    [{ url: "http://hub.example" }, "hub.url"],
    [{ tls: { fingerprint: FP, ca_file: "/x.pem" } }, "hub.tls"],
    [{ tls: { fingerprint: "nope" } }, "hub.tls.fingerprint"],
    [{ poll_interval_s: 0 }, "hub.poll_interval_s"],
    [{ poll_interval_s: 60, backoff_max_s: 30 }, "hub.backoff_max_s"],
    [{ identity_file: "relative.json" }, "hub.identity_file"],
    [{ insecure_skip_verify: true }, "insecure_skip_verify"],
  ])("%p is refused naming %s", async (hub, key) => {
    const err = await load(hub).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(key);
  });
});
