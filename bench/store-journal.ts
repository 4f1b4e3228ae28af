/**
 * State-store journal throughput with synchronous=FULL: full intent → UPID → terminal cycles
 * (three durable commits each) per second, plus audit appends per second for comparison.
 * fsync cost dominates, so the figure depends on the disk under --dir (default: the OS temp
 * dir, which may be tmpfs; point it at the real state dir's filesystem for a real figure).
 * Run: bun bench/store-journal.ts [--cycles 2000] [--dir /var/lib/felhom-agent]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openStore } from "../src/store/open.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  strict: true,
  options: { cycles: { type: "string" }, dir: { type: "string" } },
});
const cycles = Number(values.cycles ?? 2000);
if (!Number.isInteger(cycles) || cycles < 1) throw new Error("--cycles must be a positive integer");
const dir = mkdtempSync(join(values.dir ?? tmpdir(), "felhom-store-bench-"));
const store = openStore({ path: join(dir, "state.db") });
try {
  const sync = store.db.query("PRAGMA synchronous").get() as { synchronous: number };
  if (sync.synchronous !== 2)
    throw new Error(`expected synchronous=FULL (2), got ${sync.synchronous}`);

  const t0 = performance.now();
  for (let i = 0; i < cycles; i++) {
    const id = store.journal.recordIntent({
      vmid: 100 + (i % 500),
      op: "guest.config",
      params: { cores: 2, memory: 2048 },
      origin: "reconcile",
    });
    const upid = `UPID:pve:${i.toString(16).toUpperCase().padStart(8, "0")}:00000001:6650A0B0:vzstart:${100 + (i % 500)}:root@pam:`;
    store.journal.recordUpid(id, upid);
    store.journal.recordTerminal(id, "done");
  }
  const journalMs = performance.now() - t0;

  const t1 = performance.now();
  for (let i = 0; i < cycles; i++) {
    store.audit.append({
      actor: "agent",
      action: "guest.config",
      target: `guest:${100 + (i % 500)}`,
      outcome: "ok",
    });
  }
  const auditMs = performance.now() - t1;
  if (!store.audit.verifyChain().ok) throw new Error("audit chain does not verify");
  if (store.journal.inFlight().length !== 0)
    throw new Error("journal cycles left entries in flight");

  console.log(`store journal (synchronous=FULL, WAL) in ${dir}`);
  console.log(`  ${cycles} intent→upid→terminal cycles in ${journalMs.toFixed(0)} ms`);
  console.log(
    `  ${((cycles * 1000) / journalMs).toFixed(0)} cycles/s (${((cycles * 3000) / journalMs).toFixed(0)} durable commits/s)`,
  );
  console.log(`  ${((cycles * 1000) / auditMs).toFixed(0)} audit appends/s`);
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
