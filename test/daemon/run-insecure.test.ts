import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isLoopbackEndpoint } from "../../src/cli/insecure-endpoint.ts";
import { runDaemon } from "../../src/cli/run.ts";

const dir = mkdtempSync(join(tmpdir(), "felhom-run-insecure-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configWith(endpoint: string, stateDir: string): string {
  const path = join(dir, `agent-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      proxmox: {
        endpoint,
        node: "pve1",
        token: "felhom-agent@pve!agent=00000000-0000-0000-0000-000000000000",
        tls: { insecure_skip_verify: true },
      },
      state_dir: stateDir,
      local_api: { enabled: false },
    }),
  );
  return path;
}

describe("run with insecure_skip_verify", () => {
  test.each([
    "https://192.0.2.10:8006",
    "https://pve1.example.lan:8006",
    "https://[2001:db8::1]:8006",
    "https://128.0.0.1:8006",
  ])("is refused (exit 2) for %s, before anything is opened", async (endpoint) => {
    const stateDir = join(dir, `state-${Math.random().toString(36).slice(2)}`);
    let err = "";
    const code = await runDaemon(["run"], {
      env: {},
      stdout: () => {},
      stderr: (t) => {
        err += t;
      },
      configPath: configWith(endpoint, stateDir),
    });
    expect(code).toBe(2);
    expect(err).toContain("insecure_skip_verify is refused for 'run'");
    expect(err).toContain("loopback");
    expect(err).not.toContain("00000000-0000-0000-0000-000000000000");
    expect(existsSync(stateDir)).toBe(false);
  });

  test("a loopback endpoint passes the check (the daemon then starts and is stopped)", async () => {
    const stateDir = join(dir, "state-loopback");
    const stop = new AbortController();
    let err = "";
    const code = await runDaemon(
      ["run"],
      {
        env: {},
        stdout: () => {},
        stderr: (t) => {
          err += t;
        },
        configPath: configWith("https://127.0.0.1:1", stateDir),
      },
      { signal: stop.signal, onReady: () => stop.abort() },
    );
    expect(err).not.toContain("insecure_skip_verify is refused");
    expect(code).toBe(0);
  });
});

test.each([
  ["https://127.0.0.1:8006", true],
  ["https://127.1.2.3:8006", true],
  ["https://0x7f.1:8006", true],
  ["https://localhost:8006", true],
  ["https://LOCALHOST:8006", true],
  ["https://[::1]:8006", true],
  ["https://[::ffff:127.0.0.1]:8006", true],
  ["https://10.0.0.1:8006", false],
  ["https://127.0.0.1.example.com:8006", false],
  ["https://localhost.example.com:8006", false],
  ["https://[::2]:8006", false],
  ["not a url", false],
] as const)("%s is loopback: %p", (endpoint, loopback) => {
  expect(isLoopbackEndpoint(endpoint)).toBe(loopback);
});
