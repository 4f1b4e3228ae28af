import { createHash } from "node:crypto";
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const INSTALL_SH = resolve(import.meta.dir, "../../install.sh");

export const PRIV_DIR = "/usr/local/lib/felhom-agent/priv";
export const WRAPPERS = ["pct", "findmnt", "mkdir", "mount", "tee", "smartctl"] as const;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs install.sh with /bin/sh (dash on Debian), the shell `curl … | sh` gets. */
export function runInstall(args: string[], env: Record<string, string> = {}): RunResult {
  const p = Bun.spawnSync(["/bin/sh", INSTALL_SH, ...args], {
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

/** The same, without blocking the event loop (for tests that serve files from this process). */
export async function runInstallAsync(
  args: string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  const p = Bun.spawn(["/bin/sh", INSTALL_SH, ...args], {
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, stdout, stderr };
}

/**
 * install.sh checks the sudoers file it writes with visudo and stops without it, so the tests
 * that run a real (non-dry) install need visudo where install.sh looks for it. On a machine
 * without it (Debian package sudo) those tests are skipped with a message; in CI, where .ci/run
 * installs it, its absence is a failure.
 */
export function visudoMissing(): boolean {
  if (Bun.which("visudo") !== null) return false;
  if (process.env.CI) {
    throw new Error("visudo (Debian package sudo) is required in CI for the installer tests");
  }
  console.warn("skipped: installer tests that run install.sh need visudo (Debian package sudo)");
  return true;
}

export function which(cmd: string): string | null {
  return Bun.which(cmd, { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" });
}

export const isRoot = process.getuid?.() === 0;

/** Temporary directories, removed by cleanup(). */
export function tempDirs() {
  const dirs: string[] = [];
  return {
    async make(prefix = "felhom-install-"): Promise<string> {
      const d = await mkdtemp(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    async cleanup(): Promise<void> {
      for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
    },
  };
}

/**
 * A release directory with a stand-in binary (a tiny script that prints its version) and a
 * SHA256SUMS in `sha256sum` format, like `npm run build` writes to dist/.
 */
export async function makeRelease(
  dir: string,
  version: string,
  names: string[] = ["felhom-agent"],
): Promise<{ binary: string; sums: string; content: string }> {
  await mkdir(dir, { recursive: true });
  const lines: string[] = [];
  let content = "";
  for (const name of names) {
    // Answers `version --json` as a build does: install.sh files it under versions/<version>/.
    const body = `#!/bin/sh\nif [ "$1" = version ] && [ "$2" = --json ]; then echo '{"version":"${version}"}'; exit 0; fi\necho "felhom-agent ${version} (${name})"\n`;
    if (name === names[0]) content = body;
    await writeFile(join(dir, name), body);
    await chmod(join(dir, name), 0o755);
    lines.push(`${sha256(body)}  ${name}`);
  }
  await writeFile(join(dir, "SHA256SUMS"), `${lines.join("\n")}\n`);
  return { binary: join(dir, names[0] as string), sums: join(dir, "SHA256SUMS"), content };
}

export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export interface Entry {
  type: "file" | "dir" | "link";
  mode: number;
  uid: number;
  gid: number;
  ino: number;
  mtimeMs: number;
  hash?: string;
}

/** Every path below `root` with its type, mode, owner, inode, mtime and content hash. */
export async function snapshot(root: string): Promise<Record<string, Entry>> {
  const out: Record<string, Entry> = {};
  async function walk(dir: string, rel: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const abs = join(dir, name);
      const r = `${rel}/${name}`;
      const st = await lstat(abs);
      const base = {
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        ino: st.ino,
        mtimeMs: st.mtimeMs,
      };
      if (st.isSymbolicLink()) out[r] = { type: "link", ...base };
      else if (st.isDirectory()) {
        out[r] = { type: "dir", ...base };
        await walk(abs, r);
      } else out[r] = { type: "file", ...base, hash: sha256(await readFile(abs)) };
    }
  }
  await walk(root, "");
  return out;
}

export async function modeOf(path: string): Promise<number> {
  return (await lstat(path)).mode & 0o7777;
}

/** Non-comment, non-blank lines of a config text, continuation lines joined. */
export function activeLines(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}
