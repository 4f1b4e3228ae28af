import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { importGraph, ROOT } from "../architecture/import-graph.ts";

/**
 * The fence of docs/architecture.md#fence, proved on the source: the Proxmox API side never reaches code
 * that starts a process, and the privileged side (runner + privileged) never reaches code that
 * opens a network connection. The check walks the transitive import graph of each side.
 */

const PROXMOX = join(ROOT, "src/proxmox");
const PRIVILEGED_SIDE = [join(PROXMOX, "privileged.ts"), join(PROXMOX, "runner.ts")];
const FIXTURES = join(import.meta.dir, "fixtures");

interface Rules {
  name: string;
  /** Returns why importing `spec` is forbidden, given the importing module's code. */
  forbiddenImport(spec: string, code: string): string | undefined;
  forbiddenText: RegExp[];
  /** Files this side must never reach. */
  forbiddenFiles: string[];
}

interface Violation {
  file: string;
  rule: string;
}

// Dynamic imports and requires the scanner cannot follow are refused on both sides.
const UNANALYSABLE = [/\bimport\s*\(\s*[^"'`\s)]/, /\brequire\s*\(\s*[^"'`\s)]/];

function checkFence(entries: string[], rules: Rules): Violation[] {
  const out: Violation[] = [];
  for (const mod of importGraph(entries).values()) {
    const file = relative(ROOT, mod.file);
    for (const spec of mod.external) {
      const why = rules.forbiddenImport(spec, mod.code);
      if (why) out.push({ file, rule: why });
    }
    for (const re of [...rules.forbiddenText, ...UNANALYSABLE]) {
      if (re.test(mod.code)) out.push({ file, rule: `uses ${re.source}` });
    }
    if (rules.forbiddenFiles.includes(mod.file))
      out.push({ file, rule: `${rules.name} side reaches it` });
  }
  return out;
}

/** Names bound by `import … from "bun"` in transpiled code; "*" for a namespace or default. */
function bunBindings(code: string): string[] {
  const names: string[] = [];
  for (const m of code.matchAll(/import\s+([^;]*?)\s+from\s*["']bun["']/g)) {
    const clause = m[1] as string;
    const named = /\{([^}]*)\}/.exec(clause);
    if (named) {
      for (const part of (named[1] as string).split(",")) {
        const name = part
          .trim()
          .split(/\s+as\s+/)[0]
          ?.trim();
        if (name) names.push(name);
      }
    }
    if (
      clause
        .replace(/\{[^}]*\}/, "")
        .replace(/,/g, "")
        .trim() !== ""
    )
      names.push("*");
  }
  if (/\brequire\s*\(\s*["']bun["']\s*\)/.test(code)) names.push("*");
  return names;
}

const bare = (spec: string) => spec.replace(/^node:/, "");

const SPAWN_MODULES = new Set(["child_process", "worker_threads", "cluster"]);
const SPAWN_BUN = new Set(["*", "spawn", "spawnSync", "$"]);

const apiRules = (forbiddenFiles: string[]): Rules => ({
  name: "API",
  forbiddenImport(spec, code) {
    if (SPAWN_MODULES.has(bare(spec))) return `imports ${spec}`;
    if (spec === "bun") {
      const bad = bunBindings(code).filter((n) => SPAWN_BUN.has(n));
      if (bad.length > 0) return `imports ${bad.join(", ")} from bun`;
    }
    return undefined;
  },
  forbiddenText: [
    /\bBun\s*\.\s*(?:spawn|spawnSync|\$)/,
    /\bBun\s*\[/,
    /\bspawnSync\b/,
    /\$`/,
    /\bgetBuiltinModule\b/,
  ],
  forbiddenFiles,
});

const NET_MODULES = new Set([
  "net",
  "tls",
  "http",
  "https",
  "http2",
  "dgram",
  "dns",
  "dns/promises",
  "undici",
  "ws",
]);
const NET_BUN = new Set(["*", "connect", "listen", "serve", "udpSocket", "fetch", "FetchSession"]);

const privilegedRules = (forbiddenFiles: string[]): Rules => ({
  name: "privileged",
  forbiddenImport(spec, code) {
    if (NET_MODULES.has(bare(spec))) return `imports ${spec}`;
    if (spec === "bun") {
      const bad = bunBindings(code).filter((n) => NET_BUN.has(n));
      if (bad.length > 0) return `imports ${bad.join(", ")} from bun`;
    }
    return undefined;
  },
  forbiddenText: [
    /\bfetch\s*\(/,
    /\bBun\s*\.\s*(?:connect|listen|serve|udpSocket|fetch)\b/,
    /\bBun\s*\[/,
    /\bWebSocket\b/,
    /\bFetchSession\b/,
    /\bXMLHttpRequest\b/,
    /\bEventSource\b/,
    /\bgetBuiltinModule\b/,
  ],
  forbiddenFiles,
});

function apiSideEntries(): string[] {
  // client.ts and everything else in src/proxmox except the privileged side and non-code.
  return readdirSync(PROXMOX)
    .filter((f) => f.endsWith(".ts") && !["runner.ts", "privileged.ts"].includes(f))
    .map((f) => join(PROXMOX, f));
}

const fixture = (name: string) => join(FIXTURES, name);

describe("the fence holds on the real source", () => {
  test("the API side never reaches process spawning or the privileged side", () => {
    const entries = apiSideEntries();
    expect(entries.length).toBeGreaterThan(0);
    expect(checkFence(entries, apiRules(PRIVILEGED_SIDE))).toEqual([]);
  });

  test("the privileged side never reaches the network or the API side", () => {
    const apiFiles = apiSideEntries();
    expect(checkFence(PRIVILEGED_SIDE, privilegedRules(apiFiles))).toEqual([]);
  });

  test("the walk really follows imports", () => {
    // Type-only imports are erased by the transpiler: they are not runtime edges.
    const graph = importGraph([join(PROXMOX, "runner.ts")]);
    expect([...graph.keys()]).toContain(join(ROOT, "src/log/types.ts"));
    expect(
      importGraph([join(PROXMOX, "privileged.ts")]).get(join(PROXMOX, "privileged.ts"))?.external,
    ).toContain("zod");
  });

  test("the API client and its TLS transport are in the walked graph", () => {
    const graph = importGraph([join(PROXMOX, "client.ts")]);
    expect(graph.size).toBeGreaterThan(1);
    const externals = [...graph.values()].flatMap((m) => m.external);
    // The API side does use the network: the rules are not vacuous for it either.
    expect(externals.some((e) => e === "node:tls" || e === "zod")).toBe(true);
  });
});

describe("the checker can fail", () => {
  const api = apiRules(PRIVILEGED_SIDE);
  const priv = privilegedRules([fixture("fence-spawn-direct.ts")]);

  test("a direct child_process import on the API side", () => {
    expect(checkFence([fixture("fence-spawn-direct.ts")], api)).toEqual([
      { file: "test/proxmox/fixtures/fence-spawn-direct.ts", rule: "imports node:child_process" },
    ]);
  });

  test("Bun.spawn reached through an import", () => {
    expect(checkFence([fixture("fence-spawn-indirect.ts")], api)).toEqual([
      { file: "test/proxmox/fixtures/fence-spawn-helper.ts", rule: expect.stringContaining("Bun") },
    ]);
  });

  test("Bun's shell imported by name", () => {
    const v = checkFence([fixture("fence-shell.ts")], api);
    expect(v.map((x) => x.rule)).toContain("imports $ from bun");
    expect(v.map((x) => x.rule)).toContain("uses \\$`");
  });

  test("network use on the privileged side", () => {
    const rules = checkFence([fixture("fence-net.ts")], priv).map((x) => x.rule);
    expect(rules).toContain("imports node:net");
    expect(rules).toContain("uses \\bfetch\\s*\\(");
  });

  test("reaching a forbidden file", () => {
    const rules = privilegedRules([fixture("fence-spawn-helper.ts")]);
    expect(checkFence([fixture("fence-spawn-indirect.ts")], rules)).toEqual([
      { file: "test/proxmox/fixtures/fence-spawn-helper.ts", rule: "privileged side reaches it" },
    ]);
  });

  test("the runner itself would fail the API rules (so the real pass is meaningful)", () => {
    expect(checkFence([join(PROXMOX, "runner.ts")], apiRules([])).length).toBeGreaterThan(0);
  });

  test("comments do not count; a clean file passes both", () => {
    expect(checkFence([fixture("fence-clean.ts")], api)).toEqual([]);
    expect(checkFence([fixture("fence-clean.ts")], priv)).toEqual([]);
  });
});
