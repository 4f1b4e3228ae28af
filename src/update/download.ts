import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { syncDir } from "./layout.ts";

/** Why a download was refused; the attempt fails with this text. */
export class ArtifactError extends Error {
  override readonly name = "ArtifactError";
}

export interface ArtifactSpec {
  sha256: string;
  size: number;
}

/** Room left beside the artifact, so an update never fills the disk the state database is on. */
export const FREE_SPACE_MARGIN = 64 * 1024 * 1024;

/** Free bytes for an unprivileged writer on the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/**
 * Streams the artifact into `<dest>.partial`, refusing it as soon as it passes the signed size,
 * then checks size and SHA-256, syncs the file and renames it to `dest` (same directory, so
 * the rename is atomic). Anything refused leaves no partial file behind. A `dest` already in
 * place with the right digest (a crash after the rename) is kept and not fetched again.
 */
export async function downloadArtifact(
  dest: string,
  spec: ArtifactSpec,
  open: () => Promise<ReadableStream<Uint8Array>>,
): Promise<"downloaded" | "already_there"> {
  mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
  if (existsSync(dest) && digestOf(dest) === spec.sha256) return "already_there";
  const free = freeBytes(dirname(dest));
  if (free < spec.size + FREE_SPACE_MARGIN) {
    throw new ArtifactError(
      `not enough free space in ${dirname(dest)}: ${free} bytes free, ${spec.size + FREE_SPACE_MARGIN} needed`,
    );
  }
  const partial = `${dest}.partial`;
  const fd = openSync(partial, "w", 0o600);
  let ok = false;
  try {
    const hash = createHash("sha256");
    let total = 0;
    const reader = (await open()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > spec.size) {
        await reader.cancel().catch(() => {});
        throw new ArtifactError(`artifact is larger than the signed size of ${spec.size} bytes`);
      }
      hash.update(value);
      let off = 0;
      while (off < value.byteLength) off += writeSync(fd, value, off);
    }
    if (total !== spec.size) {
      throw new ArtifactError(`artifact has ${total} bytes, the signed size is ${spec.size}`);
    }
    const digest = hash.digest("hex");
    if (digest !== spec.sha256) {
      throw new ArtifactError(`artifact SHA-256 is ${digest}, the signed one is ${spec.sha256}`);
    }
    fsyncSync(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) rmSync(partial, { force: true });
  }
  chmodSync(partial, 0o700);
  renameSync(partial, dest);
  syncDir(dirname(dest));
  return "downloaded";
}

export function digestOf(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}
