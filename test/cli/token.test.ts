import { afterEach, beforeEach, expect, test } from "bun:test";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from "../../src/cli/context.ts";
import { runToken } from "../../src/cli/token.ts";
import { defaultStorePath, openStore } from "../../src/store/open.ts";
import { CliTemp } from "../localapi/cli-temp.ts";

let t: CliTemp;
beforeEach(() => {
  t = new CliTemp();
});
afterEach(() => {
  t.cleanup();
});

test("mint prints the token alone on stdout; the store keeps only its hash and resolves it", async () => {
  expect(await runToken(["mint", "--vmid", "101"], t.ctx())).toBe(EXIT_OK);
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
    expect(await runToken(["mint", "--vmid", "103"], t.ctx())).toBe(EXIT_OK);
    const token = t.out.trim();
    expect(daemon.guestTokens.resolve(token)?.vmid).toBe(103);
  } finally {
    daemon.close();
  }
});

test("list shows ids and guests, never tokens; revoke by id and by guest", async () => {
  await runToken(["mint", "--vmid", "101"], t.ctx());
  const tok1 = t.out.trim();
  await runToken(["mint", "--vmid", "101"], t.ctx());
  await runToken(["mint", "--vmid", "103"], t.ctx());
  expect(await runToken(["list", "--json"], t.ctx())).toBe(EXIT_OK);
  const rows = JSON.parse(t.out) as { id: string; vmid: number; revoked_at: string | null }[];
  expect(rows.map((r) => r.vmid)).toEqual([101, 101, 103]);
  expect(t.out).not.toContain(tok1);
  const first = rows[0]?.id as string;
  expect(await runToken(["revoke", first], t.ctx())).toBe(EXIT_OK);
  expect(t.out).toBe("revoked 1 token\n");
  expect(await runToken(["revoke", first], t.ctx())).toBe(EXIT_FAILURE);
  expect(await runToken(["revoke", "--vmid", "101"], t.ctx())).toBe(EXIT_OK);
  expect(t.out).toBe("revoked 1 token\n");
  expect(await runToken(["list"], t.ctx())).toBe(EXIT_OK);
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
    await expect(runToken(argv, t.ctx())).rejects.toBeInstanceOf(UsageError);
  }
  expect(await runToken([], t.ctx())).toBe(EXIT_USAGE);
  expect(await Bun.file(defaultStorePath(t.stateDir)).exists()).toBe(false);
});

test("a broken config is exit 2 with the config error", async () => {
  const ctx = t.ctx();
  ctx.configPath = `${t.dir}/missing.json`;
  expect(await runToken(["list"], ctx)).toBe(EXIT_USAGE);
  expect(t.err).toContain("config error");
});
