import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBackup } from "../../src/cli/backup.ts";
import type { CliContext } from "../../src/cli/context.ts";
import { defaultStorePath, openStore } from "../../src/store/open.ts";
import { ManualClock } from "../support/manual-clock.ts";

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
  dir = mkdtempSync(join(tmpdir(), "felhom-cli-backup-"));
  stateDir = join(dir, "state");
  mkdirSync(stateDir, { mode: 0o700 });
  configPath = join(dir, "agent.json");
  writeFileSync(configPath, JSON.stringify({ state_dir: stateDir }));
  const clock = new ManualClock(Date.UTC(2026, 5, 2, 1, 0, 0));
  const store = openStore({ path: defaultStorePath(stateDir), clock });
  const at = (min: number) => Date.UTC(2026, 5, 2, 1, min, 0);
  store.backupHistory.record({
    vmid: 101,
    storage: "nas1",
    volid: "nas1:backup/vzdump-lxc-101-2026_06_02-01_00_00.tar.zst",
    result: "ok",
    startedAt: at(0),
    finishedAt: at(2),
    size: 2048,
    reason: null,
    logTail: null,
    journalId: 1,
  });
  store.backupHistory.record({
    vmid: 103,
    storage: "nas1",
    volid: null,
    result: "failed",
    startedAt: at(3),
    finishedAt: at(4),
    size: null,
    reason: "vzdump: no space left on device",
    logTail: null,
    journalId: 2,
  });
  store.backupHistory.record({
    vmid: 101,
    storage: "nas1",
    volid: "nas1:backup/vzdump-lxc-101-2026_05_01-01_00_00.tar.zst",
    result: "seen",
    startedAt: null,
    finishedAt: Date.UTC(2026, 4, 1, 1, 0, 0),
    size: 1024,
    reason: null,
    logTail: null,
    journalId: null,
  });
  store.backupHistory.markRemoved(
    [
      {
        vmid: 101,
        storage: "nas1",
        volid: "nas1:backup/vzdump-lxc-101-2026_05_01-01_00_00.tar.zst",
      },
    ],
    "pruned by retention (keep-last=3), the agent's retention step",
    at(30),
  );
  store.close();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("backup list --json: newest first, the documented fields", async () => {
  expect(await runBackup(["list", "--json"], ctx())).toBe(0);
  const rows = JSON.parse(out) as Record<string, unknown>[];
  expect(rows.map((r) => Object.keys(r).sort())).toEqual(
    Array(2).fill(
      [
        "finished_at",
        "reason",
        "result",
        "size",
        "started_at",
        "storage",
        "vmid",
        "volid",
        "protected",
        "removed_at",
      ].sort(),
    ),
  );
  expect(rows.map((r) => [r.vmid, r.result])).toEqual([
    [103, "failed"],
    [101, "ok"],
  ]);
  expect(rows[1]?.finished_at).toBe("2026-06-02T01:02:00.000Z");
  expect(rows[0]?.reason).toBe("vzdump: no space left on device");
});

test("backup list --vmid narrows to one guest; the table shows the reason of a failure", async () => {
  expect(await runBackup(["list", "--vmid", "101", "--json"], ctx())).toBe(0);
  expect((JSON.parse(out) as { vmid: number }[]).map((r) => r.vmid)).toEqual([101]);
  expect(await runBackup(["list"], ctx())).toBe(0);
  expect(out).toContain("no space left on device");
  expect(out.split("\n")[0]).toStartWith("VMID  STORAGE  RESULT");
});

test("a bad --vmid is a usage error; a missing store is a failure with a hint", async () => {
  await expect(runBackup(["list", "--vmid", "12"], ctx())).rejects.toThrow("--vmid must be");
  writeFileSync(configPath, JSON.stringify({ state_dir: join(dir, "nowhere") }));
  await expect(runBackup(["list"], ctx())).rejects.toThrow("state database could not be read");
  expect(err).toBe("");
});

test("removed backups are hidden unless --all, which shows why and when", async () => {
  expect(await runBackup(["list", "--json"], ctx())).toBe(0);
  expect((JSON.parse(out) as { result: string }[]).map((r) => r.result)).toEqual(["failed", "ok"]);
  expect(await runBackup(["list", "--all", "--json"], ctx())).toBe(0);
  const rows = JSON.parse(out) as Record<string, unknown>[];
  expect(rows.map((r) => r.result)).toEqual(["failed", "ok", "removed"]);
  expect(rows[2]).toMatchObject({
    volid: "nas1:backup/vzdump-lxc-101-2026_05_01-01_00_00.tar.zst",
    reason: "pruned by retention (keep-last=3), the agent's retention step",
    removed_at: "2026-06-02T01:30:00.000Z",
    size: 1024,
  });
  expect(await runBackup(["list", "--all"], ctx())).toBe(0);
  expect(out).toContain(
    "removed  2026-05-01T01:00:00Z  1024  nas1:backup/vzdump-lxc-101-2026_05_01-01_00_00.tar.zst (pruned by retention",
  );
});
