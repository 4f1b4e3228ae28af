import { readFile } from "node:fs/promises";
import { UsageError } from "./context.ts";

/**
 * The JSON in a file a flag names; `what` names the file in the message (e.g. `seed file 'x'`),
 * so an unreadable file or text that is not JSON is a UsageError the user can act on (exit 2).
 */
export async function readJsonFile(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${what}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what} is not JSON: ${(e as Error).message}`);
  }
}
