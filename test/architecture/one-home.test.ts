import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "./import-graph.ts";

/**
 * One home per concept: canonical JSON, the audit row and signer types, the tests' clocks and
 * the gate each live in one place, so a fix lands once and no copy drifts from it.
 */

const SELF = relative(ROOT, import.meta.path);

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

function filesMatching(dirs: string[], pattern: RegExp): string[] {
  return dirs
    .flatMap(tsFiles)
    .filter((f) => f !== SELF && pattern.test(readFileSync(join(ROOT, f), "utf8")))
    .sort();
}

describe("one home per concept", () => {
  test("canonical JSON is implemented and named in one file", () => {
    expect(tsFiles("src").filter((f) => f.endsWith("canonical-json.ts"))).toEqual([
      "src/util/canonical-json.ts",
    ]);
    expect(filesMatching(["src"], /export (function|const) canonicalJson\b/m)).toEqual([
      "src/util/canonical-json.ts",
    ]);
  });

  test("AuditRow and Signer each name one type", () => {
    expect(filesMatching(["src"], /^export (interface|type) AuditRow\b/m)).toEqual([
      "src/store/audit.ts",
    ]);
    expect(filesMatching(["src"], /^export (interface|type) Signer\b/m)).toEqual([
      "src/authz/signers.ts",
    ]);
  });

  test("HttpMethod names one type", () => {
    expect(filesMatching(["src"], /^export (interface|type) HttpMethod\b/m)).toEqual([
      "src/proxmox/http.ts",
    ]);
  });

  test("GuestIdentity names one type, the store's guest incarnation", () => {
    expect(filesMatching(["src"], /^export (interface|type) GuestIdentity\b/m)).toEqual([
      "src/store/guest-identities.ts",
    ]);
  });

  test("the tests' clocks live in test/support", () => {
    expect(filesMatching(["test", "bench"], /implements Clock\b/)).toEqual([
      "test/support/jump-clock.ts",
      "test/support/manual-clock.ts",
    ]);
  });

  test("the ReversibilityGate is the only gate in src", () => {
    expect(filesMatching(["src"], /implements Gate\b|\): Gate \{/)).toEqual(["src/gate/gate.ts"]);
  });
});
