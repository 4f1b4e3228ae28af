/**
 * The conventions every command shares, in one place (src/cli/README.md): the context it
 * receives, the exit codes, the error line, the help layout and the subcommand word. A new
 * command uses these and gets the same behaviour as the others for free.
 */

/** What every command receives: its own arguments and the outside world, injected. */
export interface CliContext {
  env: Record<string, string | undefined>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Value of the global `--config` flag, when given. */
  configPath?: string;
}

/** Exit codes shared by every command (docs/architecture.md#cli-contract). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A usage mistake: the message is printed with a hint to `--help`, exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  constructor(
    message: string,
    /** The command words it concerns when more than the command (`op sign`); see inSubcommand. */
    readonly scope?: string,
  ) {
    super(message);
  }
}

/**
 * Runs a subcommand so that its usage errors and failures name it (`felhom-agent: op sign: …; run
 * 'felhom-agent op sign --help' for usage`) rather than the bare command.
 */
export async function inSubcommand<T>(scope: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof UsageError && err.scope === undefined) {
      throw new UsageError(err.message, scope);
    }
    if (err instanceof CommandFailure && err.scope === undefined) {
      throw new CommandFailure(err.message, err.hint, err.exitCode, scope);
    }
    throw err;
  }
}

/**
 * A command that could not do its job for a reason outside the command line: printed as
 * `felhom-agent: <command>: <what>; <what to do>`, exit 1 unless said otherwise.
 */
export class CommandFailure extends Error {
  override readonly name = "CommandFailure";
  constructor(
    message: string,
    /** What the operator can do about it, one short clause. */
    readonly hint: string,
    readonly exitCode: number = EXIT_FAILURE,
    /** The command words it concerns when more than the command (`op sign`). */
    readonly scope?: string,
  ) {
    super(message);
  }
}

/** What to do about a configuration error, for every command. */
export const CONFIG_HINT =
  "fix the file or the FELHOM_AGENT_* variable it names (examples/agent.example.json)";

/**
 * The one error line: `felhom-agent: <command>: <what>; <what to do>`. `command` is the
 * command word, with its subcommand when it has one (`audit verify`). Without `hint`, `what`
 * is an error message that already ends in what to do (the store's, the certificate's).
 */
export function failureLine(command: string, what: string, hint?: string): string {
  return `felhom-agent: ${command}: ${what}${hint === undefined ? "" : `; ${hint}`}\n`;
}

/** Prints the error line on stderr and gives the exit code, for `return reportFailure(…)`. */
export function reportFailure(
  ctx: Pick<CliContext, "stderr">,
  command: string,
  what: string,
  hint?: string,
  exitCode: number = EXIT_FAILURE,
): number {
  ctx.stderr(failureLine(command, what, hint));
  return exitCode;
}

export interface HelpSpec {
  /** Usage lines without the `Usage: ` prefix, e.g. `felhom-agent status [--json]`. */
  usage: readonly string[];
  /** What the command does, its subcommands and options: preformatted text. */
  body: string;
  /** Complete command lines an operator can copy; at least one. */
  examples: readonly [string, ...string[]];
  /** What 0, 1 and 2 mean for this command, when more precise than the common wording. */
  exitCodes?: string;
}

/** The help layout of every command: usage, body, examples, exit codes. */
export function renderHelp(spec: HelpSpec): string {
  const usage = spec.usage.map((u, i) => `${i === 0 ? "Usage: " : "       "}${u}`);
  const examples = spec.examples.map((e) => `  ${e}`);
  return [
    ...usage,
    "",
    spec.body.trimEnd(),
    "",
    spec.examples.length === 1 ? "Example:" : "Examples:",
    ...examples,
    "",
    `Exit codes: ${spec.exitCodes ?? "0 ok, 1 a failure was found, 2 usage or configuration error"}.`,
    "",
  ].join("\n");
}

/**
 * The subcommand word of a command that has subcommands: `--help` (or `-h`) first prints the
 * command's help, and a missing or unknown word is a usage error naming the choices, the same
 * for every command.
 */
export function pickSubcommand<S extends string>(
  command: string,
  argv: readonly string[],
  names: readonly S[],
): { sub: S | "help"; rest: string[] } {
  const [word, ...rest] = argv;
  if (word === "--help" || word === "-h") return { sub: "help", rest };
  const choices = names.join(", ");
  if (word === undefined) throw new UsageError(`missing subcommand; one of: ${choices}`);
  if (!(names as readonly string[]).includes(word)) {
    throw new UsageError(`unknown ${command} subcommand '${word}'; one of: ${choices}`);
  }
  return { sub: word as S, rest };
}
