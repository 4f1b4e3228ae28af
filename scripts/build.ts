/**
 * `npm run build`: the single-file binaries and their checksums.
 *   dist/felhom-agent           for current x86-64 CPUs
 *   dist/felhom-agent-baseline  for older CPUs without AVX2 (docs/bun-runtime.md#build)
 *   dist/SHA256SUMS             in the format `sha256sum -c` reads
 * The baseline runtime comes from the pinned @oven/bun-linux-x64-baseline dev dependency, so
 * the build never downloads anything.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { compileBinary } from "./compile.ts";

const root = resolve(import.meta.dir, "..");
const dist = join(root, "dist");

interface Target {
  out: string;
  target: string;
  executable?: string;
}

const targets: Target[] = [
  { out: "felhom-agent", target: "bun-linux-x64" },
  {
    out: "felhom-agent-baseline",
    target: "bun-linux-x64-baseline",
    executable: join(root, "node_modules/@oven/bun-linux-x64-baseline/bin/bun"),
  },
];

const only = process.argv.includes("--host-only") ? targets.slice(0, 1) : targets;

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

const sums: string[] = [];
for (const t of only) {
  const outfile = join(dist, t.out);
  const r = compileBinary({
    outfile,
    target: t.target,
    ...(t.executable ? { executable: t.executable } : {}),
  });
  if (!r.ok) {
    console.error(`build of ${t.out} failed:\n${r.stderr}`);
    process.exit(1);
  }
  const bytes = await readFile(outfile);
  sums.push(`${createHash("sha256").update(bytes).digest("hex")}  ${basename(outfile)}`);
  const size = (await stat(outfile)).size;
  console.log(`${t.out}: ${(size / 1024 / 1024).toFixed(1)} MiB`);
}
await writeFile(join(dist, "SHA256SUMS"), `${sums.join("\n")}\n`);
console.log(`wrote ${join("dist", "SHA256SUMS")}`);
