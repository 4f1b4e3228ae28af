import { z } from "zod";

/** What a smoke test needs to run the new binary as the service would. */
export interface SmokeOptions {
  binary: string;
  version: string;
  /** The live configuration file, when the agent was started with one. */
  configPath?: string;
  env: Record<string, string | undefined>;
  timeoutMs: number;
}

const versionJson = z.object({ version: z.string() });

const PIPE_GRACE_MS = 500;

/**
 * Runs the new binary before anything points at it: `version --json` must name the signed
 * version, and `config check` must accept the live configuration. Returns undefined when both
 * pass, else why not (docs/self-update.md#steps-and-recovery).
 */
export async function smokeTest(o: SmokeOptions): Promise<string | undefined> {
  const v = await runBounded([o.binary, "version", "--json"], o);
  if (v.code !== 0) return `'version --json' ${v.how}${tail(v.stderr)}`;
  let reported: string | undefined;
  try {
    const parsed = versionJson.safeParse(JSON.parse(v.stdout));
    reported = parsed.success ? parsed.data.version : undefined;
  } catch {
    reported = undefined;
  }
  if (reported === undefined) return "'version --json' printed no version";
  if (reported !== o.version) {
    return `the new binary reports version ${reported}, the signed version is ${o.version}`;
  }
  const configArgs = o.configPath !== undefined ? ["--config", o.configPath] : [];
  const c = await runBounded([o.binary, ...configArgs, "config", "check"], o);
  if (c.code !== 0) return `'config check' ${c.how}${tail(c.stderr)}`;
  return undefined;
}

async function runBounded(
  argv: string[],
  o: SmokeOptions,
): Promise<{ code: number | null; how: string; stdout: string; stderr: string }> {
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(argv, {
      env: o.env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      timeout: o.timeoutMs,
      killSignal: "SIGKILL",
    });
  } catch (err) {
    return {
      code: null,
      how: `could not start (${(err as Error).message})`,
      stdout: "",
      stderr: "",
    };
  }
  const out = new Response(proc.stdout as ReadableStream).text();
  const err = new Response(proc.stderr as ReadableStream).text();
  const code = await proc.exited;
  // A child the binary left behind may hold the pipes open after it was killed: read what is
  // there within a short grace, never wait for the child's child.
  const grace = (p: Promise<string>) =>
    Promise.race([p, Bun.sleep(PIPE_GRACE_MS).then(() => "")]).catch(() => "");
  const [stdout, stderr] = await Promise.all([grace(out), grace(err)]);
  if (proc.signalCode !== null) {
    return { code: null, how: `did not finish within ${o.timeoutMs} ms`, stdout, stderr };
  }
  return { code, how: `exited ${code}`, stdout, stderr };
}

function tail(stderr: string): string {
  const last = stderr.trim().split("\n").slice(-3).join(" | ").slice(0, 500);
  return last === "" ? "" : `: ${last}`;
}
