import { randomBytes } from "node:crypto";
import { open, readdir, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  /** File mode of the new file; default 0600 (the content is usually secret). */
  mode?: number;
  /**
   * Runs after the temporary file is complete and synced, before the rename. A throw here
   * stands for a crash at the worst moment; tests use it to prove nothing half-written stays.
   */
  beforeRename?: () => void | Promise<void>;
}

const TMP_MARK = ".tmp-";

/**
 * Writes `path` so that a reader (or the next start after a crash) sees the old content or the
 * new one, never a torn file: write a private temporary file in the same directory, fsync it,
 * rename it over the target, fsync the directory so the rename itself is durable.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `${basename(path)}${TMP_MARK}${randomBytes(6).toString("hex")}`);
  // `wx`: never follow or reuse a file someone placed at the temporary name.
  const handle = await open(tmp, "wx", opts.mode ?? 0o600);
  let renamed = false;
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await opts.beforeRename?.();
    await rename(tmp, path);
    renamed = true;
    const d = await open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } finally {
    if (!renamed) await unlink(tmp).catch(() => {});
  }
}

/** Removes temporary files a crash left behind next to `path`; returns how many. */
export async function removeStaleTemps(path: string): Promise<number> {
  const prefix = `${basename(path)}${TMP_MARK}`;
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    await unlink(join(dirname(path), name)).then(
      () => removed++,
      () => {},
    );
  }
  return removed;
}
