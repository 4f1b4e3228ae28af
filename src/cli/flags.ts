import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { UsageError } from "./context.ts";

/**
 * A command's flags, parsed strictly: an unknown flag, a missing value or (unless allowed) a
 * stray word is a UsageError, which dispatch prints with a pointer to `--help` (exit 2).
 */
export function parseFlags<const O extends ParseArgsOptionsConfig>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
