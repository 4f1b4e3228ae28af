import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { basename, join } from "node:path";

/** The binary's file name inside `versions/<version>/`. */
export const BINARY_NAME = "felhom-agent";

/**
 * Where the agent's versions live under the state directory (docs/self-update.md#layout):
 * `versions/<version>/felhom-agent`, and two symlinks the agent owns, `current` (what the
 * service runs) and `previous` (the version to fall back to).
 */
export interface UpdateLayout {
  stateDir: string;
  versionsDir: string;
  current: string;
  previous: string;
}

export function updateLayout(stateDir: string): UpdateLayout {
  return {
    stateDir,
    versionsDir: join(stateDir, "versions"),
    current: join(stateDir, "current"),
    previous: join(stateDir, "previous"),
  };
}

export function versionDir(l: UpdateLayout, version: string): string {
  return join(l.versionsDir, version);
}

export function versionBinary(l: UpdateLayout, version: string): string {
  return join(versionDir(l, version), BINARY_NAME);
}

/** The version a link names (`versions/<version>`), or undefined when there is no such link. */
export function linkedVersion(link: string): string | undefined {
  let target: string;
  try {
    target = readlinkSync(link);
  } catch {
    return undefined;
  }
  return basename(target.replace(/\/+$/, ""));
}

/**
 * Points `link` at `versions/<version>` atomically: a new symlink beside it is renamed over
 * the old one (rename(2) replaces a symlink in one step, so a reader sees the old target or
 * the new, never none), then the directory is synced so the switch survives a power cut.
 */
export function pointLink(l: UpdateLayout, link: string, version: string): void {
  const tmp = `${link}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  symlinkSync(join("versions", version), tmp);
  renameSync(tmp, link);
  syncDir(l.stateDir);
}

/** Removes a link (not what it points at); no error when it is not there. */
export function removeLink(l: UpdateLayout, link: string): void {
  rmSync(link, { force: true });
  syncDir(l.stateDir);
}

/** Every directory under `versions/`. */
export function installedVersions(l: UpdateLayout): string[] {
  if (!existsSync(l.versionsDir)) return [];
  return readdirSync(l.versionsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
}

/**
 * Keeps exactly the versions `current` and `previous` name (and `keep`, the one being
 * downloaded): every other version directory is removed.
 */
export function pruneVersions(l: UpdateLayout, keep: readonly string[] = []): string[] {
  const wanted = new Set(
    [linkedVersion(l.current), linkedVersion(l.previous), ...keep].filter(
      (v): v is string => v !== undefined,
    ),
  );
  const removed: string[] = [];
  for (const v of installedVersions(l)) {
    if (wanted.has(v)) continue;
    rmSync(versionDir(l, v), { recursive: true, force: true });
    removed.push(v);
  }
  return removed;
}

export function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
