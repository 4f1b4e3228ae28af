import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { z } from "zod";
import { localImports } from "./import-graph.ts";

/**
 * The layering of docs/architecture.md#layers, read from the document itself so it is declared
 * once: the layers table (top down) and the table of exceptions.
 */

const entrySchema = z
  .string()
  .regex(/^(?:[a-z][a-z0-9-]*\/|[a-z][a-z0-9-]*\.ts)$/, "a folder `name/` or a file `name.ts`");

const layerSchema = z.object({
  name: z.string().min(1),
  entries: z.array(entrySchema).min(1),
});

const exceptionSchema = z.object({
  from: z.string().startsWith("src/"),
  to: z.string().startsWith("src/"),
  why: z.string().min(10, "each exception needs a one-line reason"),
});

export const layerTableSchema = z.object({
  layers: z.array(layerSchema).min(2),
  exceptions: z.array(exceptionSchema),
});

export type LayerTable = z.infer<typeof layerTableSchema>;
export type LayerException = z.infer<typeof exceptionSchema>;

export interface Edge {
  /** Repository-relative paths, `src/…`. */
  from: string;
  to: string;
}

const cells = (line: string) =>
  line
    .trim()
    .replace(/^\||\|$/g, "")
    .split("|")
    .map((c) => c.trim());

const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);

/** The first markdown table whose header starts with `firstHeader`, as rows of cells. */
function tableAfter(section: string, firstHeader: string): string[][] {
  const lines = section.split("\n");
  const start = lines.findIndex((l) => cells(l)[0] === firstHeader && l.trim().startsWith("|"));
  if (start < 0) throw new Error(`no table with a "${firstHeader}" column`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.trim().startsWith("|")) break;
    rows.push(cells(line));
  }
  return rows;
}

/** Reads the `## Layers` section of a markdown document. */
export function parseLayerTable(markdown: string): LayerTable {
  const from = markdown.indexOf("\n## Layers\n");
  if (from < 0) throw new Error("no `## Layers` section");
  const rest = markdown.slice(from + 1);
  const next = rest.indexOf("\n## ", 1);
  const section = next < 0 ? rest : rest.slice(0, next);
  const layers = tableAfter(section, "layer").map(([name, folders]) => ({
    name,
    entries: ticked(folders ?? ""),
  }));
  const exceptions = tableAfter(section, "from").map(([f, t, why]) => ({
    from: ticked(f ?? "")[0],
    to: ticked(t ?? "")[0],
    why,
  }));
  return layerTableSchema.parse({ layers, exceptions });
}

/** Index of the layer holding `file` (0 = top), or undefined when no layer declares it. */
export function layerOf(file: string, table: LayerTable): number | undefined {
  const inSrc = file.replace(/^src\//, "");
  const index = table.layers.findIndex((layer) =>
    layer.entries.some((e) => (e.endsWith("/") ? inSrc.startsWith(e) : inSrc === e)),
  );
  return index < 0 ? undefined : index;
}

export interface LayerReport {
  /** Imports against the order that no exception names. */
  violations: string[];
  /** Exceptions that name no import against the order any more. */
  stale: string[];
  /** Files no layer declares. */
  unplaced: string[];
}

const show = (e: Edge) => `${e.from} -> ${e.to}`;

export function checkLayers(files: string[], edges: Edge[], table: LayerTable): LayerReport {
  const unplaced = files.filter((f) => layerOf(f, table) === undefined);
  const against: Edge[] = [];
  for (const edge of edges) {
    const from = layerOf(edge.from, table);
    const to = layerOf(edge.to, table);
    if (from === undefined || to === undefined) continue; // reported as unplaced
    if (to < from) against.push(edge);
  }
  const listed = new Set(table.exceptions.map(show));
  const found = new Set(against.map(show));
  return {
    violations: [...new Set(against.map(show))].filter((e) => !listed.has(e)).sort(),
    stale: [...listed].filter((e) => !found.has(e)).sort(),
    unplaced: unplaced.sort(),
  };
}

/** The top-level entry of `src/` a file belongs to: `cli`, `main.ts`, … */
const folderOf = (file: string) => file.replace(/^src\//, "").split("/")[0] as string;

/**
 * Cycles between folders, each as `a -> b -> … -> a`. Folders of one layer may import each
 * other, but not both ways: a cycle makes them one module in two places.
 */
export function folderCycles(edges: Edge[]): string[] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    const [a, b] = [folderOf(e.from), folderOf(e.to)];
    if (a === b) continue;
    if (!next.has(a)) next.set(a, new Set());
    next.get(a)?.add(b);
  }
  const cycles = new Set<string>();
  const walk = (path: string[]) => {
    const last = path[path.length - 1] as string;
    for (const to of next.get(last) ?? []) {
      const at = path.indexOf(to);
      if (at >= 0) {
        const loop = path.slice(at);
        // One name per cycle, whichever folder it is entered from: start at the smallest.
        const start = loop.indexOf([...loop].sort()[0] as string);
        const turned = [...loop.slice(start), ...loop.slice(0, start)];
        cycles.add([...turned, turned[0]].join(" -> "));
      } else {
        walk([...path, to]);
      }
    }
  };
  for (const folder of [...next.keys()].sort()) walk([folder]);
  return [...cycles].sort();
}

/** Every `.ts` file under `root/src` and its imports of other files under `root/src`. */
export function sourceGraph(root: string): { files: string[]; edges: Edge[] } {
  const files = [...new Bun.Glob("src/**/*.ts").scanSync({ cwd: root })].sort();
  const edges: Edge[] = [];
  for (const file of files) {
    for (const target of localImports(join(root, file))) {
      const to = relative(root, target);
      if (to.startsWith("src/")) edges.push({ from: file, to });
    }
  }
  return { files, edges };
}

export function readLayerTable(docPath: string): LayerTable {
  return parseLayerTable(readFileSync(docPath, "utf8"));
}
