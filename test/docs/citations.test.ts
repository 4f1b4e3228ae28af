import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import {
  type AllowedLine,
  anchorsOf,
  checkCitations,
  type DocIndex,
  formatFinding,
  slugify,
} from "./citation-check.ts";

const ROOT = join(import.meta.dir, "../..");
const WALKED = ["src", "test", "bench", "scripts", "docs", "README.md", "install.sh"];
const TEXT = /\.(ts|md|sh|json|txt)$/;

/** Lines exempt from the citation rules, each with its reason (none today). */
const ALLOWED: AllowedLine[] = [];

function walk(rel: string, out: string[]): string[] {
  const abs = join(ROOT, rel);
  if (statSync(abs).isDirectory()) {
    for (const name of readdirSync(abs)) {
      if (name !== "node_modules") walk(join(rel, name), out);
    }
  } else if (TEXT.test(rel) || rel === "install.sh") {
    out.push(rel);
  }
  return out;
}

function repoDocIndex(): DocIndex {
  const index = new Map<string, Set<string>>();
  for (const rel of walk(".", [])) {
    if (rel.endsWith(".md"))
      index.set(relative(".", rel), anchorsOf(readFileSync(join(ROOT, rel), "utf8")));
  }
  return index;
}

// Fixtures are assembled from parts so that this file never cites what it forbids.
const FACT_SHEET = ["FAC", "TS.md"].join("");
const DESIGN_NOTES = ["DESI", "GN.md"].join("");
const ISSUE_WORD = ["iss", "ue"].join("");
/** A citation of a heading that does not exist, kept out of this file's own text. */
const cite = (path: string, anchor: string) => `${path}#${anchor}`;
const NO_SUCH = "no-such-section";

const fixtureDocs: DocIndex = new Map([
  ["docs/proxmox-behaviour.md", anchorsOf("# Title\n\n## locks\n\n## api-tokens\n")],
  ["src/gate/README.md", anchorsOf("# Gate\n\n## Held operations\n")],
]);

describe("the repository's citations", () => {
  test("every cited document and anchor exists, and nothing cites an outside document or an issue", () => {
    const docs = repoDocIndex();
    const findings = WALKED.flatMap((top) => walk(top, [])).flatMap((file) =>
      checkCitations(file, readFileSync(join(ROOT, file), "utf8"), docs, ALLOWED),
    );
    expect(findings.map(formatFinding)).toEqual([]);
  });

  test("the docs the code cites are there", () => {
    const docs = repoDocIndex();
    for (const [file, anchor] of [
      ["docs/proxmox-behaviour.md", "api-envelope-and-errors"],
      ["docs/architecture.md", "signed-operations"],
      ["docs/bun-runtime.md", "tls-pinning"],
    ] as const) {
      expect(docs.get(file)?.has(anchor)).toBe(true);
    }
  });
});

describe("checkCitations on fixtures", () => {
  test("a bad anchor is found, with file and line", () => {
    const text = `const a = 1;\n// PVE says so (${cite("docs/proxmox-behaviour.md", NO_SUCH)})\n`;
    const found = checkCitations("src/x.ts", text, fixtureDocs);
    expect(found).toEqual([
      {
        file: "src/x.ts",
        line: 2,
        rule: "missing-anchor",
        cited: cite("docs/proxmox-behaviour.md", NO_SUCH),
        problem: "docs/proxmox-behaviour.md has no heading #no-such-section",
      },
    ]);
    expect(formatFinding(found[0] as never)).toStartWith("src/x.ts:2: ");
  });

  test("a missing document is found, a README anchor is checked", () => {
    const nowhere = cite(["docs/nowhere", "md"].join("."), "locks");
    const gone = cite("src/gate/README.md", NO_SUCH);
    const text = `see ${nowhere} and src/gate/README.md#held-operations and ${gone}`;
    expect(checkCitations("src/x.ts", text, fixtureDocs).map((f) => [f.rule, f.cited])).toEqual([
      ["missing-file", nowhere],
      ["missing-anchor", gone],
    ]);
  });

  test("relative markdown links resolve from the citing file, same-file links too", () => {
    const ok = "[locks](../../docs/proxmox-behaviour.md#locks), [held](#held-operations)";
    expect(checkCitations("src/gate/README.md", ok, fixtureDocs)).toEqual([]);
    const bad = `[x](${cite("proxmox-behaviour.md", NO_SUCH)}) and [y](${cite("", NO_SUCH)})`;
    expect(
      checkCitations("docs/proxmox-behaviour.md", bad, fixtureDocs).map((f) => f.cited),
    ).toEqual([cite("proxmox-behaviour.md", NO_SUCH), cite("", NO_SUCH)]);
  });

  test("outside documents and issue numbers are found", () => {
    const text = [
      `// 0/1 booleans (pve/${FACT_SHEET} B.11)`,
      `// the fence (${DESIGN_NOTES} §2.1)`,
      `// why: ${ISSUE_WORD} 12, and ${ISSUE_WORD} #13`,
    ].join("\n");
    expect(
      checkCitations("src/x.ts", text, fixtureDocs).map((f) => [f.line, f.rule, f.cited]),
    ).toEqual([
      [1, "outside-document", `${FACT_SHEET} B.11`],
      [2, "outside-document", DESIGN_NOTES],
      [3, "issue-number", `${ISSUE_WORD} 12`],
      [3, "issue-number", `${ISSUE_WORD} #13`],
    ]);
  });

  test("an allowed line is only that line of that file", () => {
    const line = `const DEFAULT_SOURCE = "../${"shared"}/x.json";`;
    const allowed: AllowedLine[] = [
      { file: "scripts/a.ts", startsWith: "const DEFAULT_SOURCE = ", why: "code" },
    ];
    expect(checkCitations("scripts/a.ts", line, fixtureDocs, allowed)).toEqual([]);
    expect(checkCitations("scripts/b.ts", line, fixtureDocs, allowed).map((f) => f.rule)).toEqual([
      "outside-document",
    ]);
  });

  test("good citations, URLs and unrelated names pass", () => {
    const text = [
      "// (docs/proxmox-behaviour.md#locks, src/gate/README.md#held-operations)",
      "// https://example.com/owner/repo/blob/main/README.md#whatever",
      "// ProvenanceFacts, issues.map(…), routing.md",
    ].join("\n");
    expect(checkCitations("src/x.ts", text, fixtureDocs)).toEqual([]);
  });
});

describe("anchors", () => {
  test("GitHub slugs: punctuation dropped, spaces to hyphens, repeats numbered", () => {
    expect(slugify("2. Create the Proxmox API token")).toBe("2-create-the-proxmox-api-token");
    expect(slugify("Classifier (`classify.ts`, pure)")).toBe("classifier-classifyts-pure");
    expect(slugify("The guest's own grows")).toBe("the-guests-own-grows");
    expect([...anchorsOf("# A\n## Notes\n## Notes\n```\n## not a heading\n```\n")]).toEqual([
      "a",
      "notes",
      "notes-1",
    ]);
  });
});
