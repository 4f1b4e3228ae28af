import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");

export interface CompileOptions {
  outfile: string;
  /** e.g. `bun-linux-x64-baseline`; default: the running platform. */
  target?: string;
  /** A Bun runtime to embed instead of downloading one for `target`. */
  executable?: string;
  /** Another version string than package.json's (test builds that play a newer release). */
  version?: string;
  /** Another entry than src/main.ts: the start-up bench's floor is built with the same flags. */
  entry?: string;
}

/**
 * The one definition of how the agent binary is compiled, used by the release build, the
 * binary test and the start-up benchmark so they measure and test what ships.
 */
export function compileBinary(opts: CompileOptions): { ok: boolean; stderr: string } {
  const args = [
    process.execPath,
    "build",
    opts.entry ?? join(root, "src/main.ts"),
    "--compile",
    "--minify",
    "--bytecode",
    // Each command's module becomes its own chunk, loaded when the command runs; without it the
    // one bundle evaluates every module, and its `node:` imports, on every start
    // (docs/bun-runtime.md#start-up-output).
    "--splitting",
    // Top-level await in the entry needs ESM (docs/bun-runtime.md#build).
    "--format=esm",
    // An installed agent must not pick up a stray .env or bunfig.toml from its working directory.
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    `--outfile=${opts.outfile}`,
  ];
  if (opts.target) args.push(`--target=${opts.target}`);
  if (opts.version)
    args.push(`--define=FELHOM_AGENT_BUILD_VERSION=${JSON.stringify(opts.version)}`);
  if (opts.executable) args.push(`--compile-executable-path=${opts.executable}`);
  const r = Bun.spawnSync(args, { cwd: root, stdout: "ignore", stderr: "pipe" });
  return { ok: r.exitCode === 0, stderr: r.stderr.toString() };
}
