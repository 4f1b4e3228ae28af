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
  ) {
    super(message);
  }
}
