import { readFile, stat } from "node:fs/promises";

/** The file access config loading needs; injected so tests need no real files. */
export interface ConfigFs {
  /** UTF-8 text; rejects with an error carrying `code` (ENOENT, EACCES, …). */
  readFile(path: string): Promise<string>;
  stat(path: string): Promise<{ mode: number; isFile(): boolean }>;
}

export const nodeConfigFs: ConfigFs = {
  readFile: (path) => readFile(path, "utf8"),
  stat: (path) => stat(path),
};

/** The `code` of a filesystem error, if any. */
export function fsErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Why a file could not be read, in words that say what to do. */
export function describeFsError(err: unknown): string {
  switch (fsErrorCode(err)) {
    case "ENOENT":
      return "does not exist";
    case "EACCES":
    case "EPERM":
      return "cannot be read by this user (permission denied)";
    case "EISDIR":
      return "is a directory, not a file";
    default:
      return `cannot be read (${fsErrorCode(err) ?? "I/O error"})`;
  }
}
