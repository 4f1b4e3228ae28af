import { existsSync, renameSync } from "node:fs";

/**
 * Renames the database at `dbPath` and its -wal/-shm files to `<dbPath>.<label>-<time>` (each
 * keeping its suffix), so a replaced state is kept, never deleted. Returns the new main-file
 * path, or undefined when there was nothing at `dbPath`. Call it only while holding the agent
 * lock: a running daemon's files must never move.
 */
export function moveAside(dbPath: string, label: string, now: number): string | undefined {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, "-");
  let target = `${dbPath}.${label}-${stamp}`;
  for (let n = 2; existsSync(target); n++) target = `${dbPath}.${label}-${stamp}-${n}`;
  let moved: string | undefined;
  // The main file last: a crash half-way leaves the database with its WAL still in place.
  for (const suffix of ["-wal", "-shm", ""]) {
    const from = `${dbPath}${suffix}`;
    if (!existsSync(from)) continue;
    renameSync(from, `${target}${suffix}`);
    if (suffix === "") moved = target;
  }
  return moved;
}
