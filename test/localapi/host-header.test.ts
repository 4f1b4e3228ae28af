import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { createLocalApiApp } from "../../src/localapi/app.ts";
import { ensureLocalApiCertificate } from "../../src/localapi/certificate.ts";
import { type LocalApiServer, startLocalApiServer } from "../../src/localapi/server.ts";
import { recordingLogger } from "../proxmox/support/recording-logger.ts";
import { type Harness, startHarness } from "./fixture.ts";

// Bun builds `req.url` from the Host header as sent; only a real socket can send a broken one
// (docs/bun-runtime.md#a-malformed-host-header).

let h: Harness;
let dir: string;
let server: LocalApiServer;
const log = recordingLogger();

beforeAll(async () => {
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), "felhom-localapi-host-"));
  const cert = await ensureLocalApiCertificate({ stateDir: dir, listen: "127.0.0.1" });
  const app = createLocalApiApp({
    tokens: h.store.guestTokens,
    submitter: h.submitter,
    proxmox: h.client,
    quotas: { quotaFor: () => undefined },
    backups: { backupStorageFor: () => undefined },
    clock: h.clock,
    logger: log,
  });
  server = startLocalApiServer({ app, tls: cert, hostname: "127.0.0.1", port: 0 });
});

afterAll(async () => {
  await server?.stop();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Sends one raw HTTP/1.1 request over TLS and returns the status line and headers. */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: "127.0.0.1", port: server.port, rejectUnauthorized: false }, () =>
      sock.write(request),
    );
    let data = "";
    sock.setTimeout(10_000, () => sock.destroy(new Error("no answer within 10 s")));
    sock.on("data", (b) => {
      data += b.toString();
    });
    sock.on("error", reject);
    sock.on("close", () => resolve(data));
  });
}

test("a malformed Host is 400 bad_host with the security headers, and logs nothing at error", async () => {
  for (const host of ["a b", "[::1", "x:99999", "%zz"]) {
    const answer = await raw(
      `GET /v1/self HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${h.token101}\r\nConnection: close\r\n\r\n`,
    );
    expect(answer.split("\r\n")[0]).toBe("HTTP/1.1 400 Bad Request");
    expect(answer.toLowerCase()).toContain("x-content-type-options: nosniff");
    expect(answer).toContain('"error":"bad_host"');
  }
  const good = await raw(
    `GET /v1/self HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${h.token101}\r\nConnection: close\r\n\r\n`,
  );
  expect(good.split("\r\n")[0]).toBe("HTTP/1.1 200 OK");
  expect(log.records.filter((r) => r.level === "error")).toEqual([]);
});

test("a malformed Authorization header over the socket is 400 and logs nothing at error", async () => {
  const answer = await raw(
    "GET /v1/self HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer a b c\r\nConnection: close\r\n\r\n",
  );
  expect(answer.split("\r\n")[0]).toBe("HTTP/1.1 400 Bad Request");
  expect(answer).toContain('error="invalid_request"');
  expect(log.records.filter((r) => r.level === "error")).toEqual([]);
});
