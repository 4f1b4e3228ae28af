import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { hubContractText } from "../src/hub/contract.ts";

/** Writes docs/hub-protocol.json from the zod schemas; `--check` only reports drift (exit 1). */
const target = join(import.meta.dir, "..", "docs", "hub-protocol.json");
const text = hubContractText();
if (process.argv.includes("--check")) {
  const current = await Bun.file(target)
    .text()
    .catch(() => "");
  if (current !== text) {
    console.error(`${target} is out of date; run: bun scripts/gen-hub-contract.ts`);
    process.exit(1);
  }
  console.log(`${target} is up to date`);
} else {
  await writeFile(target, text);
  console.log(`wrote ${target}`);
}
