/**
 * How setup runs the host's own tools (`pveum`, `pvenode`, `systemctl`, `runuser`): by name,
 * found on the PATH it is given, with no shell in between, so no value is ever re-parsed by a
 * shell. The token secret only ever travels on a tool's stdout (docs/proxmox-behaviour.md#pveum-output-formats),
 * never in an argument, so it is never visible in the process list.
 */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SetupRunner {
  run(tool: string, args: string[]): Promise<ToolResult>;
  /** Runs with the operator's terminal attached (enrollment asks to accept the signers). */
  interactive(tool: string, args: string[]): Promise<number>;
}

export class ToolMissingError extends Error {
  override readonly name = "ToolMissingError";
  constructor(readonly tool: string) {
    super(`${tool} is not on PATH`);
  }
}

/** The real runner: Bun.spawn with the given environment (PATH decides which tool runs). */
export function spawnRunner(env: Record<string, string | undefined>): SetupRunner {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  const resolve = (tool: string) => {
    const path = Bun.which(tool, { PATH: clean.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" });
    if (path === null) throw new ToolMissingError(tool);
    return path;
  };
  return {
    async run(tool, args) {
      const p = Bun.spawn([resolve(tool), ...args], {
        env: clean,
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
    },
    async interactive(tool, args) {
      const p = Bun.spawn([resolve(tool), ...args], {
        env: clean,
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      });
      return await p.exited;
    },
  };
}
