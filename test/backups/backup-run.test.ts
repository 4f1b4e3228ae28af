/**
 * `felhom-agent backup run --vmid N`: queued by the command, taken by the daemon's backup loop
 * into the engine (origin operator), the archive written by the simulator, then listed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBackup } from "../../src/cli/backup.ts";
import type { CliContext } from "../../src/cli/context.ts";
import { carryOutBackupRequests } from "../../src/daemon/backup-loop.ts";
import { silentLogger } from "../../src/log/types.ts";
import { Rig } from "../reconcile/support.ts";

let rig: Rig;
let configPath: string;
let out = "";
let err = "";

const ctx = (): CliContext => {
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
};

beforeAll(async () => {
  rig = await Rig.start();
  configPath = join(rig.dir, "agent.json");
  writeFileSync(configPath, JSON.stringify({ state_dir: rig.dir }));
});
afterAll(async () => {
  await rig?.close();
});

async function daemonWhile<T>(work: Promise<T>): Promise<T> {
  let done = false;
  const loop = (async () => {
    while (!done) {
      await carryOutBackupRequests({
        store: rig.store,
        engine: rig.engine,
        backupStorageFor: () => "local",
        logger: silentLogger,
      });
      await Bun.sleep(50);
    }
  })();
  try {
    return await work;
  } finally {
    done = true;
    await loop;
  }
}

test("backup run: the daemon submits it through the engine; the backup is journaled and listed", async () => {
  const code = await daemonWhile(runBackup(["run", "--vmid", "101", "--json"], ctx()));
  expect(code).toBe(0);
  const answer = JSON.parse(out) as { outcome: string; operation_id: string; storage: null };
  expect(["queued", "running"]).toContain(answer.outcome);
  expect(answer.operation_id).toMatch(/^op-\d+$/);
  const entry = rig.store.journal.byId(Number(answer.operation_id.slice(3)));
  expect(entry?.origin).toBe("operator");
  expect(entry?.params).toEqual({ storage: "local" });
  for (let i = 0; i < 400 && rig.store.journal.inFlight().length > 0; i++) await Bun.sleep(25);
  expect(rig.store.journal.byId(entry?.id ?? 0)?.phase).toBe("done");
  const audit = rig.store.audit.list({ limit: 1000 }).find((r) => r.action === "backup.run");
  expect(audit?.outcome).toBe("requested");
});

test("backup run without a daemon: queued, and said so", async () => {
  expect(await runBackup(["run", "--vmid", "103", "--wait", "0"], ctx())).toBe(0);
  expect(out).toContain("queued as request");
  expect(rig.store.backupRequests.waiting().map((r) => r.vmid)).toEqual([103]);
  expect(err).toBe("");
});

test("backup run needs --vmid; a bad storage id is a usage error", async () => {
  await expect(runBackup(["run"], ctx())).rejects.toThrow("needs --vmid");
  await expect(runBackup(["run", "--vmid", "101", "--storage", "9x"], ctx())).rejects.toThrow(
    "not a Proxmox storage id",
  );
});
