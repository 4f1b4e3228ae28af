/** `npm run bench`: every benchmark in turn; each prints its own figures. */
import { readdirSync } from "node:fs";
import { join } from "node:path";

const files = readdirSync(import.meta.dir)
  .filter((f) => f.endsWith(".ts") && f !== "run-all.ts")
  .sort();
let failed = 0;
for (const f of files) {
  console.log(`\n== ${f}`);
  const r = Bun.spawnSync([process.execPath, join(import.meta.dir, f)], {
    stdout: "inherit",
    stderr: "inherit",
  });
  if (r.exitCode !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
