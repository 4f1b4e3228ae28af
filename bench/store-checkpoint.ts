/**
 * The daemon's per-pass store upkeep: what `PRAGMA wal_checkpoint(TRUNCATE)` costs after a
 * pass's worth of journal writes, how far the main file falls behind without it (bytes only in
 * state.db-wal, which a plain copy of state.db would lose), what one `flock` probe costs, and
 * how long `state backup` (VACUUM INTO) takes for a store of a given size.
 * Run: bun bench/store-checkpoint.ts [--passes 200] [--writes 10] [--dir /var/lib/felhom-agent]
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { StoreUpkeep } from "../src/daemon/store-upkeep.ts";
import { silentLogger } from "../src/log/types.ts";
import { backupStore } from "../src/store/backup.ts";
import { tryAcquireLock } from "../src/store/lock.ts";
import { openStore } from "../src/store/open.ts";
import { systemClock } from "../src/util/clock.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  strict: true,
  options: { passes: { type: "string" }, writes: { type: "string" }, dir: { type: "string" } },
});
const passes = Number(values.passes ?? 200);
const writes = Number(values.writes ?? 10);
if (!Number.isInteger(passes) || passes < 1) throw new Error("--passes must be a positive integer");
if (!Number.isInteger(writes) || writes < 1) throw new Error("--writes must be a positive integer");
const dir = mkdtempSync(join(values.dir ?? tmpdir(), "felhom-checkpoint-bench-"));
const dbPath = join(dir, "state.db");
const store = openStore({ path: dbPath });
const upkeep = new StoreUpkeep({
  store,
  config: { journal_retention_days: 30 },
  clock: systemClock,
  logger: silentLogger,
});

function pass(i: number): void {
  for (let w = 0; w < writes; w++) {
    const id = store.journal.recordIntent({
      vmid: 100 + ((i * writes + w) % 500),
      op: "guest.config",
      params: { cores: 2, memory: 2048 },
      origin: "reconcile",
    });
    store.journal.recordTerminal(id, "done");
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)] ?? 0;
try {
  // Without a checkpoint of our own (SQLite's automatic one runs at 1000 WAL pages).
  let maxWal = 0;
  for (let i = 0; i < passes; i++) {
    pass(i);
    maxWal = Math.max(maxWal, statSync(`${dbPath}-wal`).size);
  }
  upkeep.checkpoint();
  const cp: number[] = [];
  let after = 0;
  for (let i = 0; i < passes; i++) {
    pass(i);
    const t = performance.now();
    upkeep.checkpoint();
    cp.push(performance.now() - t);
    after = Math.max(after, statSync(`${dbPath}-wal`).size);
  }
  const probes: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    const lock = tryAcquireLock(join(dir, "probe.db"));
    probes.push(performance.now() - t);
    lock?.release();
  }
  const t = performance.now();
  const info = backupStore(dbPath, join(dir, "backup.db"));
  const backupMs = performance.now() - t;
  console.log(
    `${writes} journal entries per pass, ${passes} passes; state.db ${(statSync(dbPath).size / 1024).toFixed(0)} KiB`,
  );
  console.log(
    `  WAL without our checkpoint: up to ${(maxWal / 1024).toFixed(0)} KiB behind the main file`,
  );
  console.log(
    `  wal_checkpoint(TRUNCATE) after each pass: median ${median(cp).toFixed(2)} ms, p90 ${p90(cp).toFixed(2)} ms; WAL after it ${after} bytes`,
  );
  console.log(
    `  flock probe (open + flock + fstat + close): median ${median(probes).toFixed(3)} ms`,
  );
  console.log(
    `  state backup (VACUUM INTO) of ${info.journalEntries} journal entries: ${backupMs.toFixed(0)} ms, ${(info.bytes / 1024).toFixed(0)} KiB`,
  );
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
