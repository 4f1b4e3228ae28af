import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tunnelTokenFile } from "../../src/daemon/tunnel-token-file.ts";
import { classify } from "../../src/gate/classify.ts";
import type { HostOpDeps } from "../../src/reconcile/storage-executors.ts";
import { tunnelConfigure } from "../../src/reconcile/tunnel-executor.ts";

const TOKEN_A = "eyJhIjoiMGUxZjJhM2I0YzVkNmU3ZjhhOWIwYzFkMmUzZjRhNWIiLCJ0IjoiYWJjIn0=";
const TOKEN_B = "eyJhIjoiZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmIiwidCI6Inh5eiJ9";
const SEALED: Record<string, string> = { A: TOKEN_A, B: TOKEN_B, BAD: "not a token; rm -rf" };

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "felhom-tunnel-"));
  path = join(dir, "token");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function deps(): HostOpDeps {
  return {
    client: {} as HostOpDeps["client"],
    openSecret: (s) => {
      const t = SEALED[s.sealed];
      if (t === undefined) throw new Error("cannot open");
      return t;
    },
    storageReferences: () => new Map(),
    tunnelToken: tunnelTokenFile(path),
  };
}
const steps: string[] = [];
const step = async (p: string) => {
  steps.push(p);
};

describe("tunnel.configure", () => {
  test("writes the opened token atomically, mode 0640, and reports no secret", async () => {
    const p = tunnelConfigure.parseParams({ token: { sealed: "A" } });
    const result = await tunnelConfigure.run(deps(), p, step);
    expect(result).toEqual({ tunnel: "configured", changed: true });
    expect(readFileSync(path, "utf8")).toBe(`${TOKEN_A}\n`);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(JSON.stringify(result)).not.toContain(TOKEN_A);
    expect(readdirSync(dir)).toEqual(["token"]);
  });

  test("rotation replaces the token; the same token again changes nothing (idempotent after a crash)", async () => {
    await tunnelConfigure.run(deps(), { token: { sealed: "A" } }, step);
    expect(await tunnelConfigure.inEffect(deps(), { token: { sealed: "A" } })).toBe(true);
    expect(await tunnelConfigure.inEffect(deps(), { token: { sealed: "B" } })).toBe(false);
    expect(await tunnelConfigure.run(deps(), { token: { sealed: "B" } }, step)).toEqual({
      tunnel: "configured",
      changed: true,
    });
    expect(readFileSync(path, "utf8")).toBe(`${TOKEN_B}\n`);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(await tunnelConfigure.run(deps(), { token: { sealed: "B" } }, step)).toEqual({
      tunnel: "configured",
      changed: false,
    });
  });

  test("a token that is not in cloudflared's form is refused without writing or repeating it", async () => {
    writeFileSync(path, `${TOKEN_A}\n`, { mode: 0o640 });
    const err = await tunnelConfigure
      .run(deps(), { token: { sealed: "BAD" } }, step)
      .catch((e) => e);
    expect((err as Error).message).toBe(
      "the opened tunnel token is not in the form cloudflared takes",
    );
    expect((err as Error).message).not.toContain("rm -rf");
    expect(readFileSync(path, "utf8")).toBe(`${TOKEN_A}\n`);
  });

  test("a clear token in the params is refused by the schema, and the gate holds the op for a signature", () => {
    expect(() => tunnelConfigure.parseParams({ token: TOKEN_A })).toThrow();
    const c = classify({ op: "tunnel.configure", params: { token: { sealed: "A" } } }, {});
    expect([c.verdict, c.rule]).toEqual(["destructive", "tunnel_token"]);
  });
});
