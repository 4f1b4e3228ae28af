import { afterEach, beforeEach, expect, test } from "bun:test";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from "../../src/cli/context.ts";
import { runToken } from "../../src/cli/token.ts";
import { defaultStorePath, openStore } from "../../src/store/open.ts";
import { proxmoxSection } from "../daemon/support.ts";
import { CliTemp } from "../localapi/cli-temp.ts";

let t: CliTemp;
/** Which vmids the (injected) Proxmox has, and which it was asked about. */
const existing = new Set([101, 103]);
const asked: number[] = [];
const tctx = () => ({
  ...t.ctx(),
  deps: {
    guestExists: async (_cfg: unknown, vmid: number) => {
      asked.push(vmid);
      return existing.has(vmid);
    },
  },
});
beforeEach(() => {
  asked.length = 0;
  t = new CliTemp();
});
afterEach(() => {
  t.cleanup();
});

test("mint prints the token alone on stdout; the store keeps only its hash and resolves it", async () => {
  expect(await runToken(["mint", "--vmid", "101"], tctx())).toBe(EXIT_OK);
  const token = t.out.trim();
  expect(t.out).toBe(`${token}\n`);
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(t.err).toMatch(
    /^minted gt-[0-9a-f]{16} for guest 101 \(g-[0-9a-f]{32}\); the token is shown once/,
  );
  const store = openStore({ path: defaultStorePath(t.stateDir), exclusive: false });
  try {
    expect(store.guestTokens.resolve(token)?.vmid).toBe(101);
    const raw = JSON.stringify(store.db.query("SELECT * FROM guest_tokens").all());
    expect(raw).not.toContain(token);
  } finally {
    store.close();
  }
});

test("works while the daemon holds the store", async () => {
  const daemon = openStore({ path: defaultStorePath(t.stateDir), exclusive: true });
  try {
    expect(await runToken(["mint", "--vmid", "103"], tctx())).toBe(EXIT_OK);
    const token = t.out.trim();
    expect(daemon.guestTokens.resolve(token)?.vmid).toBe(103);
  } finally {
    daemon.close();
  }
});

test("list shows ids and guests, never tokens; revoke by id and by guest", async () => {
  await runToken(["mint", "--vmid", "101"], tctx());
  const tok1 = t.out.trim();
  await runToken(["mint", "--vmid", "101"], tctx());
  await runToken(["mint", "--vmid", "103"], tctx());
  expect(await runToken(["list", "--json"], tctx())).toBe(EXIT_OK);
  const rows = JSON.parse(t.out) as { id: string; vmid: number; revoked_at: string | null }[];
  expect(rows.map((r) => r.vmid)).toEqual([101, 101, 103]);
  expect(t.out).not.toContain(tok1);
  const first = rows[0]?.id as string;
  expect(await runToken(["revoke", first], tctx())).toBe(EXIT_OK);
  expect(t.out).toBe("revoked 1 token\n");
  expect(await runToken(["revoke", first], tctx())).toBe(EXIT_FAILURE);
  expect(await runToken(["revoke", "--vmid", "101"], tctx())).toBe(EXIT_OK);
  expect(t.out).toBe("revoked 1 token\n");
  expect(await runToken(["list"], tctx())).toBe(EXIT_OK);
  expect(t.out.split("\n").filter((l) => l.includes("revoked")).length).toBe(2);
  expect(t.out).toContain("active");
  const store = openStore({ path: defaultStorePath(t.stateDir), exclusive: false });
  try {
    expect(store.guestTokens.resolve(tok1)).toBeNull();
    const actions = (
      store.db.query("SELECT action FROM audit ORDER BY seq").all() as { action: string }[]
    ).map((r) => r.action);
    expect(actions).toEqual([
      "token.mint",
      "token.mint",
      "token.mint",
      "token.revoke",
      "token.revoke",
      "token.revoke",
    ]);
  } finally {
    store.close();
  }
});

test("usage errors change nothing", async () => {
  for (const argv of [
    ["mint"],
    ["mint", "--vmid", "abc"],
    ["mint", "--vmid", "99"],
    ["mint", "--vmid", "101", "extra"],
    ["revoke"],
    ["revoke", "not-an-id"],
    ["revoke", "gt-0123456789abcdef", "--vmid", "101"],
    ["list", "--vmid", "101"],
    ["frobnicate"],
    ["mint", "--vmid", "101", "--bogus"],
  ]) {
    await expect(runToken(argv, tctx())).rejects.toBeInstanceOf(UsageError);
  }
  await expect(runToken([], tctx())).rejects.toThrow("missing subcommand");
  expect(await Bun.file(defaultStorePath(t.stateDir)).exists()).toBe(false);
});

test("a broken config is exit 2 with the config error", async () => {
  const ctx = t.ctx();
  ctx.configPath = `${t.dir}/missing.json`;
  expect(await runToken(["list"], ctx)).toBe(EXIT_USAGE);
  expect(t.err).toContain("configuration error");
});

test("mint asks Proxmox only for a guest without an identity, and refuses one that does not exist", async () => {
  expect(await runToken(["mint", "--vmid", "101"], tctx())).toBe(EXIT_OK);
  expect(asked).toEqual([101]);
  // The guest has its identity now: the next token needs no question.
  expect(await runToken(["mint", "--vmid", "101"], tctx())).toBe(EXIT_OK);
  expect(asked).toEqual([101]);
  expect(await runToken(["mint", "--vmid", "150"], tctx())).toBe(EXIT_FAILURE);
  expect(t.out).toBe("");
  expect(t.err).toContain("guest 150 does not exist");
  const failing = {
    ...t.ctx(),
    deps: {
      guestExists: async () => {
        throw new Error("connection refused");
      },
    },
  };
  expect(await runToken(["mint", "--vmid", "103"], failing)).toBe(EXIT_FAILURE);
  expect(t.err).toContain("could not check that guest 103 exists: connection refused");
  const store = openStore({ path: defaultStorePath(t.stateDir), exclusive: false });
  try {
    expect(store.guestTokens.list().map((r) => r.vmid)).toEqual([101, 101]);
    expect(store.guestIdentities.current(150)).toBeUndefined();
  } finally {
    store.close();
  }
});

test("mint checks a new guest against Proxmox itself (the simulator)", async () => {
  const { startPveSimulator } = await import("../../src/sim/pve/index.ts");
  const { writeFileSync } = await import("node:fs");
  const pve = await startPveSimulator({ authFailDelayMs: 0 });
  try {
    writeFileSync(
      t.configPath,
      JSON.stringify({
        proxmox: proxmoxSection(pve),
        state_dir: t.stateDir,
      }),
    );
    expect(await runToken(["mint", "--vmid", "101"], t.ctx())).toBe(EXIT_OK);
    expect(await runToken(["mint", "--vmid", "555"], t.ctx())).toBe(EXIT_FAILURE);
    expect(t.err).toContain("guest 555 does not exist");
  } finally {
    await pve.stop();
  }
});
