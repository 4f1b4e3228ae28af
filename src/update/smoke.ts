import { z } from "zod";
import { VERSION_PATTERN } from "../util/semver.ts";

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
 * Why a smoke test failed. `reason` is ours and goes to the attempt's row and the audit log;
 * `stderr` is the end of what the new binary printed, which only the logger (redacting
 * secrets by construction) may carry: a binary can print anything, the token included.
 */
export interface SmokeFailure {
  reason: string;
  stderr: string;
}

/**
 * Runs the new binary before anything points at it: `version --json` must name the signed
 * version, and `config check` must accept the live configuration. Returns undefined when both
 * pass (docs/self-update.md#steps-and-recovery).
 */
export async function smokeTest(o: SmokeOptions): Promise<SmokeFailure | undefined> {
  const v = await runBounded([o.binary, "version", "--json"], o);
  if (v.code !== 0) return { reason: `'version --json' ${v.how}`, stderr: tail(v.stderr) };
  let reported: string | undefined;
  try {
    const parsed = versionJson.safeParse(JSON.parse(v.stdout));
    reported = parsed.success ? parsed.data.version : undefined;
  } catch {
    reported = undefined;
  }
  if (reported === undefined) return { reason: "'version --json' printed no version", stderr: "" };
  if (reported !== o.version) {
    const shown = VERSION_PATTERN.test(reported) ? reported : "something that is not a version";
    return {
      reason: `the new binary reports version ${shown}, the signed version is ${o.version}`,
      stderr: "",
    };
  }
  const configArgs = o.configPath !== undefined ? ["--config", o.configPath] : [];
  const c = await runBounded([o.binary, ...configArgs, "config", "check"], o);
  if (c.code !== 0) return { reason: `'config check' ${c.how}`, stderr: tail(c.stderr) };
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
  // there within a short grace, never wait for the child's child
  // (docs/bun-runtime.md#child-process-timeouts).
  const grace = (p: Promise<string>) =>
    Promise.race([p, Bun.sleep(PIPE_GRACE_MS).then(() => "")]).catch(() => "");
  const [stdout, stderr] = await Promise.all([grace(out), grace(err)]);
  if (proc.signalCode !== null) {
    return { code: null, how: `did not finish within ${o.timeoutMs} ms`, stdout, stderr };
  }
  return { code, how: `exited ${code}`, stdout, stderr };
}

function tail(stderr: string): string {
  return stderr.trim().split("\n").slice(-3).join(" | ").slice(0, 500);
}
