import { statfs } from "node:fs/promises";
import type { StoreDisk } from "./types.ts";

/** Free space on the filesystem that holds the agent's state database. */
export async function collectStoreDisk(path: string): Promise<StoreDisk> {
  const s = await statfs(path);
  return { path, availBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}
