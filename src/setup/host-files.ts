import { randomBytes } from "node:crypto";
import { chmod, chown, lstat, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The host files setup owns, below an optional root (`--root DIR` for image builds and tests;
 * the same layout install.sh writes, docs/architecture.md#one-command-setup).
 */
export interface HostPaths {
  root: string;
  /** The path as the host sees it, for messages. */
  configFile: string;
  tokenFile: string;
  binary: string;
  /** Where the file really is (root-prefixed). */
  at(path: string): string;
}

export function hostPaths(root: string): HostPaths {
  return {
    root,
    configFile: "/etc/felhom-agent/agent.json",
    tokenFile: "/etc/felhom-agent/proxmox-token",
    binary: "/usr/local/bin/felhom-agent",
    at: (path) => (root === "" ? path : join(root, path)),
  };
}

/** Looks a user or group up in `<root>/etc/passwd` or `<root>/etc/group`; undefined when absent. */
export async function lookupId(
  paths: HostPaths,
  db: "passwd" | "group",
  name: string,
): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(paths.at(`/etc/${db}`), "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  return undefined;
}

export interface Owner {
  uid: number;
  gid: number;
}

/**
 * Makes `path` hold exactly `content` with `mode` and `owner`, replacing it by rename so a
 * reader never sees half a file, and created with its final mode so a secret is never briefly
 * readable by others. Returns what was changed, or [] when it was already right. `owner` is
 * undefined when the process cannot give files away (not root).
 */
export async function ensureFile(
  path: string,
  content: string,
  mode: number,
  owner: Owner | undefined,
): Promise<string[]> {
  const st = await lstat(path).catch(() => undefined);
  if (st?.isSymbolicLink()) throw new Error(`${path} is a symbolic link; refusing to write it`);
  const current = st ? await readFile(path, "utf8") : undefined;
  if (st && current === content) {
    const fixes: string[] = [];
    if ((st.mode & 0o7777) !== mode) {
      await chmod(path, mode);
      fixes.push(`mode ${(st.mode & 0o7777).toString(8)} → ${mode.toString(8)}`);
    }
    if (owner && (st.uid !== owner.uid || st.gid !== owner.gid)) {
      await chown(path, owner.uid, owner.gid);
      fixes.push(`owner ${st.uid}:${st.gid} → ${owner.uid}:${owner.gid}`);
    }
    return fixes;
  }
  const tmp = `${path}.felhom-new-${randomBytes(4).toString("hex")}`;
  try {
    await writeFile(tmp, content, { mode, flag: "wx" });
    await chmod(tmp, mode);
    if (owner) await chown(tmp, owner.uid, owner.gid);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return [st ? "content replaced" : "created"];
}
