import { expect, test } from "bun:test";
import { ConfigError } from "../../src/config/errors.ts";
import { loadSections } from "../../src/config/load.ts";
import type { AnySection } from "../../src/config/section.ts";
import { agentSections } from "../../src/daemon/agent-config.ts";
import { localApiSection } from "../../src/localapi/config-section.ts";
import { memoryFs } from "../config/memory-fs.ts";

const base = {
  proxmox: {
    endpoint: "https://127.0.0.1:8006",
    node: "pve1",
    token: "felhom-agent@pve!agent=00000000-0000-4000-8000-000000000000",
    tls: { fingerprint: `${"AA:".repeat(31)}AA` },
  },
};
// Until src/daemon/agent-config.ts lists local_api, this is the list it will become.
const sections = [
  ...(agentSections as readonly AnySection[]).filter((s) => s.key !== "local_api"),
  localApiSection,
] as const;

async function load(localApi: unknown, env: Record<string, string> = {}) {
  const warnings: string[] = [];
  const fs = memoryFs({
    "/etc/a.json": {
      text: JSON.stringify({ ...base, ...(localApi === undefined ? {} : { local_api: localApi }) }),
    },
  });
  const cfg = await loadSections(sections, {
    path: "/etc/a.json",
    env,
    fs,
    onWarning: (w) => warnings.push(`${w.key}: ${w.message}`),
  });
  return { cfg: cfg.local_api, warnings };
}

test("defaults: port 8443, no wildcard, bridge vmbr0, limits", async () => {
  const { cfg } = await load(undefined);
  expect(cfg).toEqual({
    enabled: true,
    bridge: "vmbr0",
    port: 8443,
    allow_wildcard: false,
    body_limit_bytes: 16_384,
    rate_limit: { per_minute: 120, burst: 30 },
    read_cache_ms: 2000,
  });
});

test("a wildcard listen address is refused with the reason, unless allowed (then warned)", async () => {
  for (const listen of ["0.0.0.0", "::", "[::]"]) {
    const err = await load({ listen }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      /local_api\.listen.*every interface of the host.*allow_wildcard/s,
    );
  }
  const { cfg, warnings } = await load({ listen: "0.0.0.0", allow_wildcard: true });
  expect(cfg.listen).toBe("0.0.0.0");
  expect(warnings.join()).toContain("wildcard bind");
});

test("env overrides name their variable in errors", async () => {
  const { cfg } = await load(
    {},
    {
      FELHOM_AGENT_LOCAL_API_PORT: "9443",
      FELHOM_AGENT_LOCAL_API_LISTEN: "10.0.0.1",
      FELHOM_AGENT_LOCAL_API_RATE_LIMIT_BURST: "5",
    },
  );
  expect(cfg.port).toBe(9443);
  expect(cfg.rate_limit).toEqual({ per_minute: 120, burst: 5 });
  expect(cfg.listen).toBe("10.0.0.1");
  const err = await load({}, { FELHOM_AGENT_LOCAL_API_LISTEN: "0.0.0.0" }).catch((e) => e);
  expect((err as Error).message).toContain("FELHOM_AGENT_LOCAL_API_LISTEN");
});

test("bad values and unknown keys are errors naming the key", async () => {
  for (const [v, key] of [
    [{ port: 0 }, "local_api.port"],
    [{ listen: "not an address!" }, "local_api.listen"],
    [{ rate_limit: { per_minute: 0 } }, "local_api.rate_limit.per_minute"],
    [{ body_limit_bytes: 10 }, "local_api.body_limit_bytes"],
    [{ lsiten: "10.0.0.1" }, "lsiten"],
  ] as const) {
    const err = await load(v).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(key);
  }
});
