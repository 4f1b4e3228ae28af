import type { CheckResult, HealthReport } from "./health-report.ts";
import type { ExerciseReport, ExerciseStep } from "./task-exercise.ts";

const MARK: Record<CheckResult["status"], string> = { ok: " ok ", warn: "WARN", fail: "FAIL" };

export function renderCheck(c: CheckResult): string {
  const lines = [`  [${MARK[c.status]}] ${c.name.padEnd(11)} ${c.summary}`];
  for (const h of c.hints) lines.push(`         ${" ".repeat(11)} ${h}`);
  return `${lines.join("\n")}\n`;
}

const mib = (bytes: number | undefined) =>
  bytes === undefined ? "?" : `${Math.round(bytes / 1024 / 1024)}`;
const gib = (bytes: number | undefined) =>
  bytes === undefined ? "?" : (bytes / 1024 ** 3).toFixed(1);

/** Guest and storage tables printed under the checks. */
export function renderInventory(r: HealthReport): string {
  const out: string[] = [];
  if (r.guests && r.guests.length > 0) {
    out.push("", "Containers:");
    out.push("  VMID   STATE     NAME                  CORES  MEM MiB      DISK GiB");
    for (const g of r.guests) {
      out.push(
        `  ${String(g.vmid).padEnd(6)} ${g.status.padEnd(9)} ${(g.name ?? "").padEnd(21)} ${String(g.cpus ?? "?").padStart(5)}  ${`${mib(g.memBytes)}/${mib(g.maxmemBytes)}`.padStart(11)}  ${`${gib(g.diskBytes)}/${gib(g.maxdiskBytes)}`.padStart(10)}${g.lock ? `  locked (${g.lock})` : ""}`,
      );
    }
  }
  if (r.storage && r.storage.length > 0) {
    out.push("", "Storage:");
    out.push("  NAME         TYPE      USED/TOTAL GiB   CONTENT");
    for (const s of r.storage) {
      out.push(
        `  ${s.storage.padEnd(12)} ${s.type.padEnd(9)} ${`${gib(s.usedBytes)}/${gib(s.totalBytes)}`.padStart(14)}   ${s.content.join(",")}${s.active === false ? "  (inactive)" : ""}`,
      );
    }
  }
  return out.length ? `${out.join("\n")}\n` : "";
}

export function renderHealthSummary(r: HealthReport): string {
  const warns = r.checks.filter((c) => c.status === "warn").length;
  const fails = r.checks.filter((c) => c.status === "fail").length;
  const verdict = !r.reachable
    ? "UNREACHABLE"
    : fails > 0
      ? `UNHEALTHY (${fails} failed${warns ? `, ${warns} warning(s)` : ""})`
      : warns > 0
        ? `healthy with ${warns} warning(s)`
        : "healthy";
  return `\nResult: ${verdict}. Read-only: nothing was changed.\n`;
}

export function renderStep(s: ExerciseStep): string {
  if (!s.ok) return `  [FAIL] ${s.step.padEnd(16)} ${s.error ?? "failed"}\n`;
  const extra = s.warnings.length ? `; warnings: ${s.warnings.join(" | ")}` : "";
  return `  [ ok ] ${s.step.padEnd(16)} ${s.exitstatus} in ${(s.durationMs / 1000).toFixed(1)} s, ${s.polls} poll(s)${extra}\n`;
}

export function renderExerciseSummary(r: ExerciseReport): string {
  const clean = r.leftClean
    ? "no snapshot left behind"
    : `snapshot '${r.snapshot}' may be left on guest ${r.vmid}: check with \`pct listsnapshot ${r.vmid}\``;
  return `\nResult: task path ${r.ok ? "works" : "FAILED"}; ${clean}.\n`;
}
