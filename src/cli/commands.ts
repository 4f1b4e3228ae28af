import type { Command } from "./dispatch.ts";
import { runVersion } from "./version.ts";

/** Every command of the binary; the CLI entry only dispatches into this table. */
export const COMMANDS: Command[] = [
  { name: "version", summary: "print the agent's version", run: runVersion },
];
