import { describe, expect, test } from "bun:test";
import { inspect } from "node:util";
import { ApiTokenFormatError, parseApiToken } from "../../src/proxmox/api-token.ts";
import { createProxmoxClient } from "../../src/proxmox/client.ts";
import { ProxmoxConfigError } from "../../src/proxmox/transport-errors.ts";
import { TOKEN, TOKEN_ID, TOKEN_SECRET } from "./support/constants.ts";

describe("parseApiToken", () => {
  test("splits id and secret and builds the header", () => {
    const t = parseApiToken(TOKEN);
    expect(t.tokenId).toBe(TOKEN_ID);
    expect(t.userId).toBe("agent@pve");
    expect(t.tokenName).toBe("felhom");
    expect(t.authorizationHeader()).toBe(`PVEAPIToken=${TOKEN}`);
  });

  test("the secret is not reachable through JSON or inspection", () => {
    const t = parseApiToken(TOKEN);
    expect(JSON.stringify(t)).not.toContain(TOKEN_SECRET);
    expect(inspect(t, { showHidden: true, depth: 5 })).not.toContain(TOKEN_SECRET);
    expect(Object.values(t).join(" ")).not.toContain(TOKEN_SECRET);
  });

  test.each([
    ["", "empty"],
    ["agent@pve!felhom", "no '='"],
    [`agent@pve=${TOKEN_SECRET}`, "no '!'"],
    [`agent!felhom=${TOKEN_SECRET}`, "USER@REALM"],
    [`agent@pve!1x=${TOKEN_SECRET}`, "token name"],
    ["agent@pve!felhom=", "secret"],
    [`agent@pve!felhom=${TOKEN_SECRET} extra`, "secret"],
  ])("%p is refused (%s) without echoing the secret", (text, why) => {
    let err: unknown;
    try {
      parseApiToken(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiTokenFormatError);
    expect((err as Error).message).toContain(why);
    expect((err as Error).message).not.toContain(TOKEN_SECRET);
  });
});

describe("createProxmoxClient options", () => {
  const good = {
    endpoint: "https://127.0.0.1:8006",
    node: "pve",
    token: TOKEN,
    trust: { kind: "insecure" } as const,
  };
  test("a valid set builds a client without connecting", () => {
    const c = createProxmoxClient(good);
    expect(c.node).toBe("pve");
    expect(c.tokenId).toBe(TOKEN_ID);
  });
  test.each([
    [{ endpoint: "http://127.0.0.1:8006" }, "https"],
    [{ endpoint: "not a url" }, "URL"],
    [{ endpoint: "https://u:p@127.0.0.1:8006" }, "credentials"],
    [{ node: "bad node" }, "node"],
    [{ requestTimeoutMs: 0 }, "requestTimeoutMs"],
  ])("%p is refused", (patch, why) => {
    expect(() => createProxmoxClient({ ...good, ...patch })).toThrow(ProxmoxConfigError);
    expect(() => createProxmoxClient({ ...good, ...patch })).toThrow(why);
  });
  test("a bad token is refused without echoing it", () => {
    expect(() => createProxmoxClient({ ...good, token: `x${TOKEN_SECRET}` })).toThrow(
      ApiTokenFormatError,
    );
  });
});
