import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/log/types.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import {
  installedVersions,
  linkedVersion,
  pointLink,
  updateLayout,
  versionBinary,
} from "../../src/update/layout.ts";
import { Updater, type UpdaterDeps } from "../../src/update/updater.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { installVersion, scriptArtifact, sha256, streamOf } from "./artifacts.ts";

// The updater's steps on a real state directory with script artifacts: download with size bound
// and digest, smoke test, switch, health gate, rollback, and recovery after a crash between
// any two durable steps (simulated by doing a step's durable work without recording it).

const OLD = "0.1.0";
const NEW = "0.2.0";

let dir: string;
let stateDir: string;
let store: Store;
let clock: ManualClock;
let artifacts: Map<string, Uint8Array>;
let fetches: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "felhom-update-"));
  stateDir = join(dir, "state");
  clock = new ManualClock(Date.parse("2026-06-01T00:00:00Z"));
  store = openStore({ path: join(stateDir, "state.db"), clock });
  installVersion(stateDir, OLD, scriptArtifact(OLD));
  pointLink(updateLayout(stateDir), join(stateDir, "current"), OLD);
  artifacts = new Map();
  fetches = 0;
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function updater(over: Partial<UpdaterDeps> = {}): Updater {
  return new Updater({
    store,
    layout: updateLayout(stateDir),
    runningVersion: OLD,
    fetchArtifact: async (version, target) => {
      fetches++;
      const bytes = artifacts.get(`${version}/${target}`);
      if (!bytes) throw new Error("hub unreachable (test)");
      return streamOf(bytes, 7);
    },
    smoke: { env: {}, timeoutMs: 5_000 },
    clock,
    logger: silentLogger,
    ...over,
  });
}

/** Admits an attempt for `bytes` as the executor would; `spec` overrides what was signed. */
function admit(bytes: Uint8Array, spec: { sha256?: string; size?: number; version?: string } = {}) {
  const version = spec.version ?? NEW;
  artifacts.set(`${version}/x64`, bytes);
  return store.agentUpdates.record({
    journalId: 1,
    version,
    fromVersion: OLD,
    target: "x64",
    sha256: spec.sha256 ?? sha256(bytes),
    size: spec.size ?? bytes.length,
    expiresAt: clock.now() + 3_600_000,
  });
}

const links = () => ({
  current: linkedVersion(join(stateDir, "current")),
  previous: linkedVersion(join(stateDir, "previous")),
});

function audits(outcome: string) {
  return store.audit
    .list({ limit: 1000 })
    .filter((a) => a.action === "agent.update" && a.outcome === outcome);
}

describe("download", () => {
  test("a good artifact is verified, made executable, smoke-tested and switched to", async () => {
    const bytes = scriptArtifact(NEW);
    admit(bytes);
    expect(await updater().advance()).toBe("switched");
    expect(store.agentUpdates.last()).toMatchObject({ step: "switched", reason: null });
    expect(links()).toEqual({ current: NEW, previous: OLD });
    const bin = versionBinary(updateLayout(stateDir), NEW);
    expect(statSync(bin).mode & 0o777).toBe(0o700);
    expect(existsSync(`${bin}.partial`)).toBe(false);
  });

  test("a corrupt download (digest differs) fails the attempt and leaves nothing", async () => {
    const bytes = scriptArtifact(NEW);
    admit(bytes, { sha256: "0".repeat(64) });
    expect(await updater().advance()).toBe("failed");
    const last = store.agentUpdates.last();
    expect(last?.step).toBe("failed");
    expect(last?.reason).toContain("SHA-256");
    expect(existsSync(versionBinary(updateLayout(stateDir), NEW))).toBe(false);
    expect(existsSync(`${versionBinary(updateLayout(stateDir), NEW)}.partial`)).toBe(false);
    expect(links()).toEqual({ current: OLD, previous: undefined });
    expect(audits("failed")).toHaveLength(1);
  });

  test("an artifact longer than the signed size is cut off; a shorter one is refused", async () => {
    const bytes = scriptArtifact(NEW);
    admit(bytes, { size: bytes.length - 10 });
    expect(await updater().advance()).toBe("failed");
    expect(store.agentUpdates.last()?.reason).toContain("larger than the signed size");
    expect(existsSync(`${versionBinary(updateLayout(stateDir), NEW)}.partial`)).toBe(false);

    const other = scriptArtifact("0.3.0");
    admit(other, { version: "0.3.0", size: other.length + 10 });
    expect(await updater().advance()).toBe("failed");
    expect(store.agentUpdates.last()?.reason).toContain(`has ${other.length} bytes`);
    expect(links()).toEqual({ current: OLD, previous: undefined });
  });

  test("a hub that cannot be reached leaves the step to retry, until the instruction expires", async () => {
    const bytes = scriptArtifact(NEW);
    admit(bytes);
    artifacts.clear();
    expect(await updater().advance()).toBe("idle");
    expect(store.agentUpdates.open()?.step).toBe("admitted");
    clock.advance(3_600_001);
    expect(await updater().advance()).toBe("failed");
    expect(store.agentUpdates.last()?.reason).toContain("expired");
  });

  test("without a hub, or without the versions layout, the attempt fails with the reason", async () => {
    admit(scriptArtifact(NEW));
    const noHub = new Updater({
      store,
      layout: updateLayout(stateDir),
      runningVersion: OLD,
      smoke: { env: {}, timeoutMs: 5_000 },
      clock,
      logger: silentLogger,
    });
    expect(await noHub.advance()).toBe("failed");
    expect(store.agentUpdates.last()?.reason).toContain("not enrolled");

    rmSync(join(stateDir, "current"));
    admit(scriptArtifact("0.3.0"), { version: "0.3.0" });
    expect(await updater().advance()).toBe("failed");
    expect(store.agentUpdates.last()?.reason).toContain("is not a link to a version");
  });
});

describe("smoke test", () => {
  test.each([
    ["config check fails", scriptArtifact(NEW, { check: 2 }), "'config check' exited 2"],
    [
      "the binary reports another version",
      scriptArtifact(NEW, { reports: "0.2.1" }),
      "reports version 0.2.1",
    ],
    ["the binary hangs", scriptArtifact(NEW, { hang: true }), "did not finish within 300 ms"],
    [
      "the artifact is not a program",
      new TextEncoder().encode("not a program\n"),
      "'version --json'",
    ],
  ])("%s: the version is removed, nothing switched", async (_name, bytes, why) => {
    admit(bytes);
    const u = updater({ smoke: { env: {}, timeoutMs: 300 } });
    expect(await u.advance()).toBe("failed");
    const last = store.agentUpdates.last();
    expect(last?.step).toBe("failed");
    expect(last?.reason).toContain("smoke test failed");
    expect(last?.reason).toContain(why);
    expect(installedVersions(updateLayout(stateDir))).toEqual([OLD]);
    expect(links()).toEqual({ current: OLD, previous: undefined });
  });

  test("what the new binary prints never reaches the attempt's row or the audit log", async () => {
    const secret = "felhom-agent@pve!agent=11111111-2222-3333-4444-555555555555";
    admit(scriptArtifact(NEW, { check: 2, say: `token is ${secret}` }));
    const logged: unknown[] = [];
    const logger = { ...silentLogger, warn: (_m: string, f?: unknown) => void logged.push(f) };
    expect(await updater({ logger }).advance()).toBe("failed");
    expect(store.agentUpdates.last()?.reason).toBe("smoke test failed: 'config check' exited 2");
    expect(JSON.stringify(store.audit.list({ limit: 100 }))).not.toContain(secret);
    // Only the logger gets it, and the daemon's logger redacts its secrets by construction.
    expect(JSON.stringify(logged)).toContain("token is");
  });

  test("the smoke test gets the live --config", async () => {
    const seen = join(dir, "seen-args");
    const text = `#!/bin/sh\necho "$@" >> '${seen}'\ncase "$1" in version) echo '{"version":"${NEW}"}';; esac\nexit 0\n`;
    admit(new TextEncoder().encode(text));
    const u = updater({ smoke: { env: {}, timeoutMs: 5_000, configPath: "/etc/x/agent.json" } });
    expect(await u.advance()).toBe("switched");
    expect(await Bun.file(seen).text()).toBe(
      "version --json\n--config /etc/x/agent.json config check\n",
    );
  });
});

describe("start-up: health gate and rollback", () => {
  async function switched(): Promise<void> {
    admit(scriptArtifact(NEW));
    expect(await updater().advance()).toBe("switched");
  }

  test("the first start of the new version is on probation; healthy, it is good and two versions are kept", async () => {
    installVersion(stateDir, "0.0.9", scriptArtifact("0.0.9"));
    await switched();
    const u = updater({ runningVersion: NEW });
    const out = u.onStart();
    expect(out.kind).toBe("health_gate");
    expect(store.agentUpdates.open()?.step).toBe("started");
    if (out.kind !== "health_gate") throw new Error("unreachable");
    u.markGood(out.attempt);
    expect(store.agentUpdates.last()?.step).toBe("good");
    expect(installedVersions(updateLayout(stateDir)).sort()).toEqual([OLD, NEW]);
    expect(links()).toEqual({ current: NEW, previous: OLD });
    expect(audits("good")).toHaveLength(1);
    // Nothing open any more: a later start has nothing to do.
    expect(updater({ runningVersion: NEW }).onStart().kind).toBe("none");
  });

  test("a second start of a version that never became healthy rolls back, audited, and the version is removed", async () => {
    await switched();
    expect(updater({ runningVersion: NEW }).onStart().kind).toBe("health_gate");
    // The process dies before it is healthy; the supervisor starts `current` again.
    const out = updater({ runningVersion: NEW }).onStart();
    expect(out.kind).toBe("rolled_back");
    expect(links()).toEqual({ current: OLD, previous: undefined });
    expect(installedVersions(updateLayout(stateDir))).toEqual([OLD]);
    const last = store.agentUpdates.last();
    expect(last?.step).toBe("rolled_back");
    expect(last?.reason).toContain("did not become healthy");
    expect(audits("rolled_back")).toHaveLength(1);
    // The previous version then starts with nothing open.
    expect(updater({ runningVersion: OLD }).onStart().kind).toBe("none");
    expect(store.agentUpdates.hasFailed(NEW)).toBe(true);
  });

  test("with no previous version to fall back to, the attempt fails and the new version stays", async () => {
    await switched();
    rmSync(join(stateDir, "previous"));
    updater({ runningVersion: NEW }).onStart();
    expect(updater({ runningVersion: NEW }).onStart().kind).toBe("none");
    expect(store.agentUpdates.last()).toMatchObject({ step: "failed" });
    expect(links().current).toBe(NEW);
  });

  test("the old version starting after a switch (link put back by hand) closes the attempt", async () => {
    await switched();
    pointLink(updateLayout(stateDir), join(stateDir, "current"), OLD);
    expect(updater({ runningVersion: OLD }).onStart().kind).toBe("none");
    expect(store.agentUpdates.last()).toMatchObject({ step: "rolled_back" });
  });
});

describe("a crash between any two durable steps", () => {
  test("after the download's rename, before its record: not fetched again", async () => {
    const bytes = scriptArtifact(NEW);
    admit(bytes);
    installVersion(stateDir, NEW, bytes);
    expect(await updater().advance()).toBe("switched");
    expect(fetches).toBe(0);
    expect(links()).toEqual({ current: NEW, previous: OLD });
  });

  test("mid-download: a partial file is replaced by a fresh download", async () => {
    const bytes = scriptArtifact(NEW);
    admit(bytes);
    installVersion(stateDir, NEW, new Uint8Array());
    writeFileSync(`${versionBinary(updateLayout(stateDir), NEW)}.partial`, "half");
    rmSync(versionBinary(updateLayout(stateDir), NEW));
    expect(await updater().advance()).toBe("switched");
    expect(fetches).toBe(1);
  });

  test("after the smoke test, before its record: smoke-tested again, then switched", async () => {
    const a = admit(scriptArtifact(NEW));
    installVersion(stateDir, NEW, scriptArtifact(NEW));
    store.agentUpdates.advance(a.id, "downloaded");
    expect(await updater().advance()).toBe("switched");
    expect(links()).toEqual({ current: NEW, previous: OLD });
  });

  test("after `previous` was set, before `current`: the switch completes", async () => {
    const a = admit(scriptArtifact(NEW));
    installVersion(stateDir, NEW, scriptArtifact(NEW));
    store.agentUpdates.advance(a.id, "smoked");
    pointLink(updateLayout(stateDir), join(stateDir, "previous"), OLD);
    expect(await updater().advance()).toBe("switched");
    expect(links()).toEqual({ current: NEW, previous: OLD });
  });

  test("after `current` was switched, before the record: the new version's start finds it done", async () => {
    const a = admit(scriptArtifact(NEW));
    installVersion(stateDir, NEW, scriptArtifact(NEW));
    store.agentUpdates.advance(a.id, "smoked");
    pointLink(updateLayout(stateDir), join(stateDir, "previous"), OLD);
    pointLink(updateLayout(stateDir), join(stateDir, "current"), NEW);
    const out = updater({ runningVersion: NEW }).onStart();
    expect(out.kind).toBe("health_gate");
    expect(store.agentUpdates.open()?.step).toBe("started");
  });

  test("after the switch was recorded, before the exit: the new version's start is its first", async () => {
    admit(scriptArtifact(NEW));
    expect(await updater().advance()).toBe("switched");
    expect(updater({ runningVersion: NEW }).onStart().kind).toBe("health_gate");
  });

  test("before the switch, the old version's start resumes the attempt", async () => {
    const a = admit(scriptArtifact(NEW));
    store.agentUpdates.advance(a.id, "downloaded");
    installVersion(stateDir, NEW, scriptArtifact(NEW));
    expect(updater().onStart().kind).toBe("resume");
    expect(await updater().advance()).toBe("switched");
  });

  test("a stray temporary link from a crash mid-switch is replaced", async () => {
    admit(scriptArtifact(NEW));
    symlinkSync("versions/garbage", join(stateDir, `current.tmp-${process.pid}`));
    expect(await updater().advance()).toBe("switched");
    expect(links().current).toBe(NEW);
  });
});
