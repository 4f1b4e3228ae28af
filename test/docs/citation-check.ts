import { dirname, join, normalize } from "node:path";

/**
 * The citation rules, as pure functions over text, so the test can run them on the repository
 * and on fixtures alike:
 *
 * - a cited repository document (a file under `docs/`, `src/gate/README.md#held-operations`, a relative
 *   markdown link) must exist, and so must the heading its anchor names;
 * - nothing may cite a document that is not in the repository (the Proxmox fact sheets, the
 *   design, style and Bun notes, the origin documents, the shared folder beside the checkout)
 *   or an issue number: a comment says what the rule is, and the repository's docs say why.
 */

export type CitationRule = "missing-file" | "missing-anchor" | "outside-document" | "issue-number";

export interface CitationFinding {
  file: string;
  /** 1-based. */
  line: number;
  rule: CitationRule;
  /** The citation as written. */
  cited: string;
  problem: string;
}

/** Repository markdown files (paths relative to the root) and the anchors their headings make. */
export type DocIndex = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * GitHub's heading anchor: lower case, punctuation dropped (letters, digits, `_`, `-` and
 * spaces stay), each space a hyphen.
 */
export function slugify(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "")
    .replace(/ /g, "-");
}

/** Anchors of a markdown text: its headings outside code fences; repeats get `-1`, `-2`, …. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | undefined;
  for (const line of markdown.split("\n")) {
    const f = /^\s*(```|~~~)/.exec(line);
    if (f) {
      if (fence === undefined) fence = f[1];
      else if (f[1] === fence) fence = undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const base = slugify(h[1] ?? "");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** `<path>.md#<anchor>`, or a bare markdown path, not inside a URL. */
const DOC_CITATION = /(?<![\w/.:-])((?:[\w.-]+\/)*[\w.-]+\.md)(?:#([\w-]+))?/g;
/** A link to a heading of the same markdown file. */
const SAME_FILE_LINK = /\]\(#([\w-]+)\)/g;

// Written with character classes so that this file does not match its own rules.
const OUTSIDE: { pattern: RegExp; what: string }[] = [
  {
    pattern: /\bFACT[S](?:-[a-z]+)?(?:\.md)?(?:\s+[A-D](?:\.\d+)?)?/g,
    what: "a Proxmox fact sheet",
  },
  { pattern: /\bDESIG[N](?:\.md\b|\s*§\s*\d+(?:\.\d+)?)/g, what: "the design notes" },
  { pattern: /\bbun-note[s](?:\.md)?(?:\s*§\s*\d+)?/g, what: "the Bun notes" },
  { pattern: /\bSTYL[E]\.md\b/g, what: "the style notes" },
  { pattern: /\bseed[s][ /]0\d\d\b/g, what: "an origin document" },
  { pattern: /\.\.\/share[d]\b/g, what: "the shared folder outside the repository" },
];
const ISSUE = /\bissue[s]?\s+#?\d+/gi;

/** Lines that name an outside path as code, not as a citation: file and how the line starts. */
export interface AllowedLine {
  file: string;
  startsWith: string;
  why: string;
}

function resolveDoc(citingFile: string, cited: string, docs: DocIndex): string | undefined {
  const candidates = [normalize(join(dirname(citingFile), cited)), normalize(cited)];
  return candidates.find((c) => docs.has(c));
}

/** Every broken or forbidden citation in one file's text. */
export function checkCitations(
  file: string,
  text: string,
  docs: DocIndex,
  allowed: readonly AllowedLine[] = [],
): CitationFinding[] {
  const findings: CitationFinding[] = [];
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    const at = { file, line: i + 1 };
    for (const m of line.matchAll(DOC_CITATION)) {
      const [cited, path = "", anchor] = m;
      // Only repository documents: docs/…, a README anywhere, or a relative markdown link.
      const target = resolveDoc(file, path, docs);
      const looksLocal =
        path.startsWith("docs/") || path.endsWith("README.md") || path.startsWith("../");
      if (target === undefined) {
        if (looksLocal || anchor !== undefined) {
          findings.push({
            ...at,
            rule: "missing-file",
            cited,
            problem: `no file ${path} in the repository`,
          });
        }
        continue;
      }
      if (anchor !== undefined && !docs.get(target)?.has(anchor)) {
        findings.push({
          ...at,
          rule: "missing-anchor",
          cited,
          problem: `${target} has no heading #${anchor}`,
        });
      }
    }
    if (file.endsWith(".md")) {
      for (const m of line.matchAll(SAME_FILE_LINK)) {
        const anchor = m[1] ?? "";
        if (!docs.get(file)?.has(anchor)) {
          findings.push({
            ...at,
            rule: "missing-anchor",
            cited: `#${anchor}`,
            problem: `${file} has no heading #${anchor}`,
          });
        }
      }
    }
    const isAllowed = allowed.some((a) => a.file === file && line.trim().startsWith(a.startsWith));
    if (!isAllowed) {
      for (const { pattern, what } of OUTSIDE) {
        for (const m of line.matchAll(pattern)) {
          findings.push({
            ...at,
            rule: "outside-document",
            cited: m[0],
            problem: `cites ${what}, which is not in the repository`,
          });
        }
      }
    }
    for (const m of line.matchAll(ISSUE)) {
      findings.push({
        ...at,
        rule: "issue-number",
        cited: m[0],
        problem: "cites an issue number; say what the rule is",
      });
    }
  });
  return findings;
}

export function formatFinding(f: CitationFinding): string {
  return `${f.file}:${f.line}: ${f.problem} (${f.cited})`;
}
