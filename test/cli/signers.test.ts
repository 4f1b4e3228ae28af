import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CliContext } from "../../src/cli/context.ts";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "../../src/cli/context.ts";
import { runSigners } from "../../src/cli/signers.ts";
import { writeIdentity } from "../../src/hub/identity.ts";
import { importEnrollmentSigners } from "../../src/hub/signer-import.ts";
import { silentLogger } from "../../src/log/types.ts";
import { defaultStorePath, openStore } from "../../src/store/open.ts";
import { keyFromSeed } from "../authz/support.ts";
import { keyLine } from "../gate/support.ts";

const cfgKey = await keyFromSeed(51, "cfg@example");
const ops = await keyFromSeed(52, "ops@example");
const vault = await keyFromSeed(53, "vault@example");
const bob = await keyFromSeed(54, "bob@example");

let dir: string;
let stateDir: string;
let configPath: string;
let out = "";
let err = "";

function ctx(): CliContext {
  out = "";
  err = "";
  return {
    env: {},
    configPath,
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
  };
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "felhom-cli-signers-"));
  stateDir = join(dir, "state");
  configPath = join(dir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      proxmox: {
        endpoint: "https://127.0.0.1:8006",
        node: "pve1",
        token: "felhom-agent@pve!agent=00000000-0000-4000-8000-000000000000",
        tls: { fingerprint: `${"AA:".repeat(31)}AA` },
      },
      state_dir: stateDir,
      signers: [
        { name: "floor", key: keyLine(cfgKey), role: "recovery", expires: "2031-01-01T00:00:00Z" },
      ],
    }),
  );
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  await writeIdentity(join(stateDir, "hub-identity.json"), {
    version: 1,
    host_id: "host-sig",
    hub_url: "https://hub.example",
    credential: "c".repeat(43),
    host_key: {
      public: Buffer.alloc(32, 1).toString("base64"),
      seed: Buffer.alloc(32, 2).toString("base64"),
    },
    signers: [
      { name: "ops", public_key: keyLine(ops), role: "operational" },
      { name: "vault", public_key: keyLine(vault), role: "recovery" },
    ],
    enrolled_at: "2026-06-01T00:00:00.000Z",
  });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const row = (
  name: string,
  key: { publicKey: { fingerprint: string } },
  role: string,
  source: string,
  expires: string | null = null,
) => ({ name, fingerprint: key.publicKey.fingerprint, role, source, expires });

test("before the daemon ran: the config's signers, then the identity file's", async () => {
  expect(await runSigners(["list", "--json"], ctx())).toBe(EXIT_OK);
  expect(JSON.parse(out)).toEqual([
    row("floor", cfgKey, "recovery", "config", "2031-01-01T00:00:00.000Z"),
    row("ops", ops, "operational", "enrollment"),
    row("vault", vault, "recovery", "enrollment"),
  ]);
});

test("after the import and a rotation: the store's set, with its source", async () => {
  const store = openStore({ path: defaultStorePath(stateDir) });
  const { readIdentity } = await import("../../src/hub/identity.ts");
  importEnrollmentSigners(
    store,
    await readIdentity(join(stateDir, "hub-identity.json")),
    silentLogger,
  );
  const journalId = store.journal.recordIntent({ op: "signers.rotate", origin: "operator" });
  store.enrolledSigners.rotate(
    [
      { name: "bob", publicKey: keyLine(bob), role: "operational" },
      { name: "vault", publicKey: keyLine(vault), role: "recovery" },
    ],
    journalId,
  );
  try {
    // Read next to the process holding the store, as next to a running daemon.
    expect(await runSigners(["list", "--json"], ctx())).toBe(EXIT_OK);
    expect(JSON.parse(out)).toEqual([
      row("floor", cfgKey, "recovery", "config", "2031-01-01T00:00:00.000Z"),
      row("vault", vault, "recovery", "rotation"),
      row("bob", bob, "operational", "rotation"),
    ]);
    expect(await runSigners(["list"], ctx())).toBe(EXIT_OK);
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe(`${bob.publicKey.fingerprint}  operational  rotation    bob`);
    expect(lines[0]).toContain("expires 2031-01-01T00:00:00.000Z");
  } finally {
    store.close();
  }
});

test("usage: no subcommand, an unknown one or an unknown flag is a usage error (exit 2 through dispatch)", async () => {
  await expect(runSigners([], ctx())).rejects.toThrow("missing subcommand; one of: list");
  expect(await runSigners(["--help"], ctx())).toBe(EXIT_OK);
  expect(out).toContain("Example:");
  await expect(runSigners(["add"], ctx())).rejects.toBeInstanceOf(UsageError);
  await expect(runSigners(["list", "--all"], ctx())).rejects.toBeInstanceOf(UsageError);
});

test("an identity file that cannot be read, and no store yet: the configured signers, and exit 1", async () => {
  writeFileSync(join(stateDir, "hub-identity.json"), "{not json", { mode: 0o600 });
  expect(await runSigners(["list", "--json"], ctx())).toBe(EXIT_FAILURE);
  expect(JSON.parse(out)).toEqual([
    row("floor", cfgKey, "recovery", "config", "2031-01-01T00:00:00.000Z"),
  ]);
  expect(err).toStartWith("felhom-agent: signers: ");
});
