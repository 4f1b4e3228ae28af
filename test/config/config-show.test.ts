import { expect, test } from "bun:test";
import { runConfigShow } from "../../src/cli/config-show.ts";
import { UsageError } from "../../src/cli/context.ts";
import { memoryFs } from "./memory-fs.ts";

const SECRET = "0f1e2d3c-4b5a-6978-8a9b-cdef01234567";
const FP =
  "BA:7C:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:CF";

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s) };
}

test("prints the redacted config as JSON", async () => {
  const o = io();
  const code = await runConfigShow([], {
    ...o,
    env: {
      FELHOM_AGENT_PROXMOX_TOKEN: `felhom-agent@pve!agent=${SECRET}`,
      FELHOM_AGENT_PROXMOX_NODE: "pve1",
      FELHOM_AGENT_PROXMOX_ENDPOINT: "https://192.0.2.1:8006",
      FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT: FP,
    },
    fs: memoryFs({}),
  });
  expect(code).toBe(0);
  const printed = JSON.parse(o.out.join(""));
  expect(printed.proxmox.token).toBe("felhom-agent@pve!agent=<redacted>");
  expect(o.out.join("") + o.err.join("")).not.toContain(SECRET);
});

test("the example config is valid (with its token file)", async () => {
  const example = await Bun.file(
    new URL("../../examples/agent.example.json", import.meta.url),
  ).text();
  const o = io();
  const code = await runConfigShow(["--config", "/etc/felhom-agent/agent.json"], {
    ...o,
    env: {},
    fs: memoryFs({
      "/etc/felhom-agent/agent.json": { text: example },
      "/etc/felhom-agent/proxmox-token": {
        text: `felhom-agent@pve!agent=${SECRET}\n`,
        mode: 0o600,
      },
    }),
  });
  expect(o.err.join("")).toBe("");
  expect(code).toBe(0);
});

test("a config error exits 2 and names the key", async () => {
  const o = io();
  const code = await runConfigShow([], {
    ...o,
    env: { FELHOM_AGENT_PROXMOX_TOKN: "x" },
    fs: memoryFs({}),
  });
  expect(code).toBe(2);
  expect(o.err.join("")).toContain("FELHOM_AGENT_PROXMOX_TOKN: unknown variable");
  expect(o.out).toEqual([]);
});

test("an explicit missing file exits 2", async () => {
  const o = io();
  const code = await runConfigShow([], {
    ...o,
    env: {},
    configPath: "/nope.json",
    fs: memoryFs({}),
  });
  expect(code).toBe(2);
  expect(o.err.join("")).toContain("/nope.json: config file does not exist");
});

test("unknown flags are a usage error", async () => {
  const o = io();
  await expect(runConfigShow(["--bogus"], { ...o, env: {}, fs: memoryFs({}) })).rejects.toThrow(
    UsageError,
  );
});

test("warnings go to stderr", async () => {
  const o = io();
  const code = await runConfigShow([], {
    ...o,
    env: {
      FELHOM_AGENT_PROXMOX_TOKEN: `felhom-agent@pve!agent=${SECRET}`,
      FELHOM_AGENT_PROXMOX_NODE: "pve1",
      FELHOM_AGENT_PROXMOX_ENDPOINT: "https://127.0.0.1:8006",
      FELHOM_AGENT_PROXMOX_TLS_INSECURE_SKIP_VERIFY: "true",
    },
    fs: memoryFs({}),
  });
  expect(code).toBe(0);
  expect(o.err.join("")).toContain("warning: FELHOM_AGENT_PROXMOX_TLS_INSECURE_SKIP_VERIFY");
});
