import { describe, expect, test } from "bun:test";
import { createLocalApiApp } from "../../src/localapi/app.ts";
import type { BootstrapOutcome, BootstrapRedeemer } from "../../src/localapi/bootstrap.ts";
import { normalizeSource } from "../../src/localapi/bootstrap.ts";
import { silentLogger } from "../../src/log/types.ts";
import type { AuditInput } from "../../src/store/audit.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { FakeSubmitter } from "./fixture.ts";

const GRANT: BootstrapOutcome = {
  ok: true,
  grant: {
    vmid: 150,
    guestUid: "g-1",
    token: "T".repeat(43),
    tokenId: "gt-0000000000000001",
    hostId: "host-1",
    hubUrl: "https://hub.example",
    pins: { leafSha256: "AA", spkiSha256: "sha256//x" },
    hubCredential: null,
  },
};

function appWith(redeemer: BootstrapRedeemer, audit: AuditInput[] = []) {
  return createLocalApiApp({
    tokens: { resolve: () => null },
    submitter: new FakeSubmitter(),
    proxmox: {} as never,
    quotas: { quotaFor: () => undefined },
    backups: { backupStorageFor: () => undefined },
    audit: { append: (row: AuditInput) => void audit.push(row) } as never,
    clock: new ManualClock(),
    logger: silentLogger,
    bootstrap: redeemer,
  });
}

const post = (body: string, type = "application/json") => ({
  method: "POST",
  headers: { "content-type": type },
  body,
});

describe("POST /v1/bootstrap", () => {
  test("the redeemer gets the code and the socket's source address; the grant comes back once", async () => {
    const seen: [string, string][] = [];
    const app = appWith({
      redeem: async (code, source) => {
        seen.push([code, source]);
        return GRANT;
      },
    });
    const res = await app.request("/v1/bootstrap", post('{"code":"abc"}'), {
      remoteAddress: "::ffff:10.0.0.5",
    });
    expect(res.status).toBe(200);
    expect(seen).toEqual([["abc", "10.0.0.5"]]);
    expect(await res.json()).toMatchObject({ vmid: 150, token: "T".repeat(43), host_id: "host-1" });
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  test("every refusal is the same 401 without detail; the audit row has the reason, never the code", async () => {
    const audit: AuditInput[] = [];
    const app = appWith(
      { redeem: async () => ({ ok: false, reason: "wrong_source", vmid: 150 }) },
      audit,
    );
    const res = await app.request("/v1/bootstrap", post('{"code":"secret-code"}'), {
      remoteAddress: "10.0.0.9",
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      error: "unauthorized",
      message: "the bootstrap code was not accepted",
    });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: "guest.bootstrap", outcome: "refused:wrong_source" });
    expect(JSON.stringify(audit)).not.toContain("secret-code");
  });

  test("no source address: refused without asking the redeemer", async () => {
    let asked = false;
    const app = appWith({
      redeem: async () => {
        asked = true;
        return GRANT;
      },
    });
    const res = await app.request("/v1/bootstrap", post('{"code":"abc"}'));
    expect(res.status).toBe(401);
    expect(asked).toBe(false);
  });

  test("bad bodies: 422 for a missing code or extra field, 415 for another type", async () => {
    const app = appWith({ redeem: async () => GRANT });
    const env = { remoteAddress: "10.0.0.5" };
    expect((await app.request("/v1/bootstrap", post("{}"), env)).status).toBe(422);
    expect((await app.request("/v1/bootstrap", post('{"code":"a","x":1}'), env)).status).toBe(422);
    expect((await app.request("/v1/bootstrap", post("code=a", "text/plain"), env)).status).toBe(
      415,
    );
  });

  test("attempts are rate limited per source address", async () => {
    const app = appWith({ redeem: async () => ({ ok: false, reason: "unknown_code" }) });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await app.request("/v1/bootstrap", post('{"code":"x"}'), {
        remoteAddress: "10.0.0.7",
      });
      statuses.push(r.status);
    }
    expect(statuses).toContain(429);
    const other = await app.request("/v1/bootstrap", post('{"code":"x"}'), {
      remoteAddress: "10.0.0.8",
    });
    expect(other.status).toBe(401);
  });

  test("source addresses compare in one form", () => {
    expect(normalizeSource("::FFFF:192.0.2.1")).toBe("192.0.2.1");
    expect(normalizeSource("FE80::1")).toBe("fe80::1");
    expect(normalizeSource("")).toBeUndefined();
  });
});

test("the OpenAPI document describes POST /v1/bootstrap without a bearer requirement", async () => {
  const app = appWith({ redeem: async () => GRANT });
  const doc = (await (await app.request("/v1/openapi.json")).json()) as {
    paths: Record<string, { post?: { security?: unknown[]; responses: Record<string, unknown> } }>;
  };
  const op = doc.paths["/v1/bootstrap"]?.post;
  expect(op?.security).toEqual([]);
  expect(Object.keys(op?.responses ?? {})).toContain("401");
});
