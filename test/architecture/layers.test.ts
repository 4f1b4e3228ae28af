import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { localImports, ROOT } from "./import-graph.ts";
import {
  checkLayers,
  folderCycles,
  type LayerTable,
  layerOf,
  parseLayerTable,
  readLayerTable,
  sourceGraph,
} from "./layers.ts";

/**
 * The layers of docs/architecture.md#layers hold on the source: no file imports (type-only
 * imports included) from a layer above its own unless the document's exception table names that
 * import, and every exception listed is still needed.
 */

const DOC = join(ROOT, "docs/architecture.md");
const FIXTURE = join(import.meta.dir, "fixtures");

describe("the layers hold on the real source", () => {
  const table = readLayerTable(DOC);
  const { files, edges } = sourceGraph(ROOT);

  test("the document declares the layers the test reads", () => {
    expect(table.layers.map((l) => l.name)).toContain("composition");
    expect(files.length).toBeGreaterThan(100);
    expect(edges.length).toBeGreaterThan(files.length);
  });

  test("every source file sits in a declared layer", () => {
    expect(checkLayers(files, edges, table).unplaced).toEqual([]);
  });

  test("no import runs against the order except a listed one", () => {
    expect(checkLayers(files, edges, table).violations).toEqual([]);
  });

  test("every listed exception is still needed", () => {
    expect(checkLayers(files, edges, table).stale).toEqual([]);
  });

  test("no two folders import each other, even within a layer", () => {
    expect(folderCycles(edges)).toEqual([]);
  });

  test("no folder is declared twice", () => {
    const all = table.layers.flatMap((l) => l.entries);
    expect(new Set(all).size).toBe(all.length);
  });

  test("a barrel index.ts exists only while something imports it", () => {
    const barrels = files.filter((f) => f.endsWith("/index.ts")).map((f) => join(ROOT, f));
    const importers = [...new Bun.Glob("{src,test,bench,scripts}/**/*.ts").scanSync({ cwd: ROOT })];
    const imported = new Set(importers.flatMap((f) => localImports(join(ROOT, f))));
    expect(barrels.filter((b) => !imported.has(b)).map((b) => b.slice(ROOT.length + 1))).toEqual(
      [],
    );
  });
});

const FIXTURE_DOC = `# fixture

## Layers

| layer | folders | what |
|---|---|---|
| top | \`high/\`, \`main.ts\` | imports down |
| bottom | \`low/\` | the foundation |

| from | to | why it is still here |
|---|---|---|

## Next
`;

const withException = (why: string) =>
  FIXTURE_DOC.replace(
    "|---|---|---|\n\n## Next",
    `|---|---|---|\n| \`src/low/reaches-up.ts\` | \`src/high/top.ts\` | ${why} |\n\n## Next`,
  );

describe("the checker can fail", () => {
  const fixture = sourceGraph(FIXTURE);
  const table: LayerTable = parseLayerTable(FIXTURE_DOC);

  test("the fixture graph is read, type-only import included", () => {
    expect(fixture.files).toEqual([
      "src/high/top.ts",
      "src/low/bottom.ts",
      "src/low/reaches-up.ts",
    ]);
    expect(fixture.edges).toEqual([
      { from: "src/high/top.ts", to: "src/low/bottom.ts" },
      { from: "src/low/reaches-up.ts", to: "src/high/top.ts" },
    ]);
  });

  test("an import from a higher layer is a violation", () => {
    expect(checkLayers(fixture.files, fixture.edges, table)).toEqual({
      violations: ["src/low/reaches-up.ts -> src/high/top.ts"],
      stale: [],
      unplaced: [],
    });
  });

  test("a listed exception silences exactly that import", () => {
    const excepted = parseLayerTable(withException("kept until the fixture is fixed"));
    expect(checkLayers(fixture.files, fixture.edges, excepted)).toEqual({
      violations: [],
      stale: [],
      unplaced: [],
    });
  });

  test("an exception no longer needed fails", () => {
    const excepted = parseLayerTable(withException("kept until the fixture is fixed"));
    const fixed = fixture.edges.filter((e) => e.from !== "src/low/reaches-up.ts");
    expect(checkLayers(fixture.files, fixed, excepted).stale).toEqual([
      "src/low/reaches-up.ts -> src/high/top.ts",
    ]);
  });

  test("an exception without a reason is refused", () => {
    expect(() => parseLayerTable(withException(""))).toThrow(/reason/);
  });

  test("a file in no declared layer is reported", () => {
    const report = checkLayers([...fixture.files, "src/stray/x.ts"], fixture.edges, table);
    expect(report.unplaced).toEqual(["src/stray/x.ts"]);
  });

  test("folders match by prefix, files exactly", () => {
    expect(layerOf("src/high/deep/x.ts", table)).toBe(0);
    expect(layerOf("src/main.ts", table)).toBe(0);
    expect(layerOf("src/main.tsx", table)).toBeUndefined();
    expect(layerOf("src/lowly/x.ts", table)).toBeUndefined();
  });

  test("a cycle between folders is found, named once", () => {
    const edge = (from: string, to: string) => ({ from: `src/${from}`, to: `src/${to}` });
    expect(
      folderCycles([
        edge("hub/a.ts", "reconcile/b.ts"),
        edge("reconcile/b.ts", "selftest/c.ts"),
        edge("selftest/c.ts", "hub/d.ts"),
        edge("hub/d.ts", "hub/a.ts"),
        edge("cli/x.ts", "demo/y.ts"),
        edge("demo/y.ts", "cli/z.ts"),
      ]),
    ).toEqual(["cli -> demo -> cli", "hub -> reconcile -> selftest -> hub"]);
    expect(folderCycles(fixture.edges)).toEqual(["high -> low -> high"]);
    expect(folderCycles(fixture.edges.filter((e) => e.from !== "src/low/reaches-up.ts"))).toEqual(
      [],
    );
  });

  test("a document without the section is refused", () => {
    expect(() => parseLayerTable("# nothing here\n")).toThrow(/Layers/);
  });
});
