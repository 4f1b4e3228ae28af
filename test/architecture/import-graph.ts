import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The import-graph walk shared by the architecture checks: the fence (test/proxmox/fence.test.ts)
 * follows runtime edges only, the layers check (test/architecture/layers.test.ts) also counts
 * type-only imports, because a type borrowed from a higher layer ties the two as surely.
 */

export const ROOT = resolve(import.meta.dir, "../..");

export interface Module {
  file: string;
  /** Transpiled code: comments and type-only imports are gone. */
  code: string;
  /** Bare or `node:` specifiers. */
  external: string[];
  /** Resolved files. */
  local: string[];
}

const transpiler = new Bun.Transpiler({ loader: "ts" });

/** A `#!` line is not TypeScript; the transpiler refuses it (src/main.ts starts with one). */
const withoutShebang = (source: string) => source.replace(/^#!.*/, "");

export function resolveLocal(from: string, spec: string): string {
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, join(base, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`${relative(ROOT, from)}: cannot resolve import ${spec}`);
}

const isLocal = (spec: string) => spec.startsWith(".") || spec.startsWith("/");

/** Runtime imports (static and dynamic) of one source text, as written. */
export function runtimeSpecifiers(source: string): string[] {
  return transpiler.scanImports(withoutShebang(source)).map((imp) => imp.path);
}

// `import … from "x"`, `import type … from "x"`, `export … from "x"`, `import "x"` at the start
// of a line; comment lines start with `*` or `//` and so never match.
const STATIC_IMPORT =
  /^\s*(?:import|export)\s+(?:type\s+)?(?:[^;"'`]*?\s+from\s*|[^;"'`]*?\bfrom\s*)?["']([^"']+)["']/gm;

/** Every import of one source text, type-only ones included, as written. */
export function allSpecifiers(source: string): string[] {
  const found = new Set([...source.matchAll(STATIC_IMPORT)].map((m) => m[1] as string));
  // The transpiler is authoritative for runtime edges (dynamic imports included).
  for (const spec of runtimeSpecifiers(source)) found.add(spec);
  return [...found];
}

/** Resolved local files one file imports, type-only imports included. */
export function localImports(file: string): string[] {
  const source = readFileSync(file, "utf8");
  return allSpecifiers(source)
    .filter(isLocal)
    .map((spec) => resolveLocal(file, spec));
}

/** The transitive runtime import graph from `entries`. */
export function importGraph(entries: string[]): Map<string, Module> {
  const graph = new Map<string, Module>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (graph.has(file)) continue;
    const source = withoutShebang(readFileSync(file, "utf8"));
    const mod: Module = { file, code: transpiler.transformSync(source), external: [], local: [] };
    for (const spec of runtimeSpecifiers(source)) {
      if (isLocal(spec)) {
        const target = resolveLocal(file, spec);
        mod.local.push(target);
        queue.push(target);
      } else {
        mod.external.push(spec);
      }
    }
    graph.set(file, mod);
  }
  return graph;
}
