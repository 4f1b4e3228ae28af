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
