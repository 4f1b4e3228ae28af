import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMMANDS } from "../../src/cli/commands.ts";
import { dispatch } from "../../src/cli/dispatch.ts";
import { openStore } from "../../src/store/open.ts";
import { pointLink, updateLayout } from "../../src/update/layout.ts";
import { compareVersions } from "../../src/util/semver.ts";
import { installVersion, scriptArtifact } from "./artifacts.ts";

let dir: string;
let stateDir: string;
let configPath: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "felhom-update-cli-"));
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
    }),
  );
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]) {
  let out = "";
  let err = "";
  const code = await dispatch(argv, COMMANDS, {
    env: {},
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

describe("update status", () => {
  test("a fresh host: no layout, no attempt", async () => {
    const r = await run(["--config", configPath, "update", "status", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ current: null, previous: null, last_attempt: null });
  });

  test("current, previous and the last attempt, as JSON and as text", async () => {
    installVersion(stateDir, "0.1.0", scriptArtifact("0.1.0"));
    installVersion(stateDir, "0.2.0", scriptArtifact("0.2.0"));
    const l = updateLayout(stateDir);
    pointLink(l, l.previous, "0.1.0");
    pointLink(l, l.current, "0.2.0");
    const store = openStore({ path: join(stateDir, "state.db") });
    const a = store.agentUpdates.record({
      journalId: 7,
      version: "0.2.0",
      fromVersion: "0.1.0",
      target: "x64-baseline",
      sha256: "e".repeat(64),
      size: 10,
      expiresAt: Date.now() + 60_000,
    });
    store.agentUpdates.advance(a.id, "good");
    store.close();

    const j = await run(["--config", configPath, "update", "status", "--json"]);
    expect(j.code).toBe(0);
    const s = JSON.parse(j.out);
    expect(s).toMatchObject({
      current: "0.2.0",
      previous: "0.1.0",
      last_attempt: {
        version: "0.2.0",
        from: "0.1.0",
        target: "x64-baseline",
        step: "good",
        reason: null,
      },
    });
    expect(Object.keys(s)).toEqual(["current", "previous", "last_attempt"]);
    const t = await run(["--config", configPath, "update", "status"]);
    expect(t.out).toContain("current:  0.2.0");
    expect(t.out).toContain("last update: 0.1.0 -> 0.2.0 (x64-baseline), good");
  });

  test("usage: no subcommand, an unknown one, --help", async () => {
    expect((await run(["update"])).code).toBe(2);
    const bad = await run(["update", "apply"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("unknown update subcommand 'apply'");
    const help = await run(["update", "--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("felhom-agent update status --json");
  });
});

describe("config check", () => {
  test("a usable configuration: exit 0, nothing created", async () => {
    const r = await run(["--config", configPath, "config", "check", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ ok: true, config: configPath });
    expect(await Bun.file(join(stateDir, "state.db")).exists()).toBe(false);
  });

  test("a broken one: exit 2 with the key named", async () => {
    writeFileSync(configPath, JSON.stringify({ state_dir: stateDir, proxmox: { node: 5 } }));
    const r = await run(["--config", configPath, "config", "check"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("felhom-agent: config check: configuration error:");
    expect(r.err).toContain("proxmox");
  });
});

describe("compareVersions", () => {
  test.each([
    ["0.1.0", "0.2.0", -1],
    ["1.0.0", "0.9.9", 1],
    ["0.10.0", "0.9.0", 1],
    ["1.0.0-rc.1", "1.0.0", -1],
    ["1.0.0-rc.2", "1.0.0-rc.10", -1],
    ["1.0.0-alpha", "1.0.0-1", 1],
    ["1.0.0-rc.1", "1.0.0-rc.1.1", -1],
    ["2.3.4", "2.3.4", 0],
  ])("%s vs %s", (a, b, want) => {
    expect(compareVersions(a, b)).toBe(want);
    expect(compareVersions(b, a)).toBe(-want || 0);
  });

  test("text that is not a version throws", () => {
    expect(() => compareVersions("1.0", "1.0.0")).toThrow("not a version");
    expect(() => compareVersions("01.0.0", "1.0.0")).toThrow("not a version");
  });
});
