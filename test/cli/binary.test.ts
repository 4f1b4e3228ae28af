import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileBinary } from "../../scripts/compile.ts";

/**
 * The compiled binary works on its own, run from another directory: the build embeds
 * everything (package.json version, the simulator's schema extract) and reads nothing from the
 * source tree at run time.
 */
let outDir: string;
let bin: string;

beforeAll(() => {
  outDir = mkdtempSync(join(tmpdir(), "felhom-bin-"));
  bin = join(outDir, "felhom-agent");
  const build = compileBinary({ outfile: bin });
  if (!build.ok) throw new Error(`build failed: ${build.stderr}`);
}, 120_000);

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const cwd = () => tmpdir();

describe("dist binary", () => {
  test("version", () => {
    const r = Bun.spawnSync([bin, "version", "--json"], { cwd: cwd(), env: {} });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout.toString()).version).toMatch(/^\d+\.\d+\.\d+/);
  });

  test("--selftest unconfigured: exit 2 with a message", () => {
    const r = Bun.spawnSync([bin, "--config", "/nonexistent/agent.json", "--selftest"], {
      cwd: cwd(),
      env: {},
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toContain("configuration error");
  });

  test("sim prints one ready line, then --selftest against it is healthy, then SIGTERM stops it", async () => {
    const sim = Bun.spawn([bin, "sim", "--task-ms", "50", "--auth-delay-ms", "5"], {
      cwd: cwd(),
      env: {},
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const reader = sim.stdout.getReader();
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      const ready = JSON.parse(text.split("\n")[0] as string);
      expect(ready.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const env = {
        FELHOM_AGENT_PROXMOX_ENDPOINT: ready.endpoint,
        FELHOM_AGENT_PROXMOX_NODE: ready.node,
        FELHOM_AGENT_PROXMOX_TOKEN: ready.tokens.agent,
        FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT: ready.fingerprint,
        // --selftest=task audits into the state store: a temporary one, never the host's.
        FELHOM_AGENT_STATE_DIR: join(outDir, "state"),
      };
      const st = Bun.spawn([bin, "--selftest", "--json"], { cwd: cwd(), env, stdout: "pipe" });
      const out = await new Response(st.stdout).text();
      expect(await st.exited).toBe(0);
      expect(JSON.parse(out).ok).toBe(true);
      const task = Bun.spawn([bin, "--selftest=task", "--vmid", "102"], {
        cwd: cwd(),
        env,
        stdout: "pipe",
      });
      expect(await task.exited).toBe(0);
    } finally {
      sim.kill("SIGTERM");
    }
    expect(await sim.exited).toBe(0);
  }, 60_000);
});
