import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ensureLocalApiCertificate,
  type LocalApiCertificate,
} from "../../src/localapi/certificate.ts";
import { type LocalApiServer, startLocalApiServer } from "../../src/localapi/server.ts";
import { type Harness, startHarness } from "./fixture.ts";

const CURL = Bun.which("curl");

let h: Harness;
let dir: string;
let cert: LocalApiCertificate;
let server: LocalApiServer;
let requestsSeen = 0;

beforeAll(async () => {
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), "felhom-localapi-https-"));
  cert = await ensureLocalApiCertificate({ stateDir: dir, listen: "127.0.0.1" });
  const app = h.app;
  server = startLocalApiServer({
    app: {
      fetch: (req: Request) => {
        requestsSeen++;
        return app.fetch(req);
      },
    } as typeof app,
    tls: cert,
    hostname: "127.0.0.1",
    port: 0,
  });
});

afterAll(async () => {
  await server?.stop();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("certificate", () => {
  test("made once, kept 0600, reused with the same pins", async () => {
    expect(cert.created).toBe(true);
    expect(statSync(cert.path).mode & 0o777).toBe(0o600);
    expect(cert.leafSha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(cert.spkiSha256).toMatch(/^sha256\/\/[A-Za-z0-9+/]{43}=$/);
    expect(cert.coversListen).toBe(true);
    const again = await ensureLocalApiCertificate({ stateDir: dir, listen: "127.0.0.1" });
    expect(again.created).toBe(false);
    expect(again.leafSha256).toBe(cert.leafSha256);
    expect(again.spkiSha256).toBe(cert.spkiSha256);
  });

  test("a changed listen address keeps the certificate and says it does not cover it", async () => {
    const other = await ensureLocalApiCertificate({ stateDir: dir, listen: "10.9.8.7" });
    expect(other.created).toBe(false);
    expect(other.leafSha256).toBe(cert.leafSha256);
    expect(other.coversListen).toBe(false);
  });

  test("a damaged file is an error naming it, not a silent new certificate", async () => {
    const d = mkdtempSync(join(tmpdir(), "felhom-localapi-bad-"));
    try {
      writeFileSync(join(d, "local-api-tls.pem"), "garbage", { mode: 0o600 });
      await expect(ensureLocalApiCertificate({ stateDir: d, listen: "127.0.0.1" })).rejects.toThrow(
        /local-api-tls\.pem does not hold a certificate and a private key; remove it/,
      );
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test("concurrent first starts agree on one certificate", async () => {
    const d = mkdtempSync(join(tmpdir(), "felhom-localapi-race-"));
    try {
      const all = await Promise.all(
        [1, 2, 3].map(() => ensureLocalApiCertificate({ stateDir: d, listen: "127.0.0.1" })),
      );
      expect(new Set(all.map((c) => c.leafSha256)).size).toBe(1);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!CURL)("the spike's matrix over HTTPS with curl --pinnedpubkey", () => {
  async function curl(
    args: string[],
    token?: string,
  ): Promise<{ exit: number; code: string; body: string }> {
    const extra: string[] = [];
    let headerFile: string | undefined;
    if (token) {
      // From a file, as a controller does: the token never appears on a command line.
      headerFile = join(dir, `hdr-${crypto.randomUUID()}`);
      writeFileSync(headerFile, `Authorization: Bearer ${token}\n`, { mode: 0o600 });
      extra.push("-H", `@${headerFile}`);
    }
    const bodyFile = join(dir, `body-${crypto.randomUUID()}`);
    const p = Bun.spawn(
      [
        CURL as string,
        "-sS",
        "-k",
        "--max-time",
        "10",
        "-o",
        bodyFile,
        "-w",
        "%{http_code}",
        ...extra,
        ...args,
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    const code = await new Response(p.stdout).text();
    const exit = await p.exited;
    let body = "";
    try {
      body = await Bun.file(bodyFile).text();
    } catch {}
    if (headerFile) rmSync(headerFile, { force: true });
    rmSync(bodyFile, { force: true });
    return { exit, code, body };
  }

  test("right pin + own token → 200 for its own guest", async () => {
    const r = await curl(["--pinnedpubkey", cert.spkiSha256, `${server.url}/v1/self`], h.token101);
    expect(r.exit).toBe(0);
    expect(r.code).toBe("200");
    expect(JSON.parse(r.body).vmid).toBe(101);
  });

  test("right pin + no token → 401", async () => {
    const r = await curl(["--pinnedpubkey", cert.spkiSha256, `${server.url}/v1/self`]);
    expect(r.code).toBe("401");
  });

  test("another guest's token acts on its own guest only", async () => {
    const r = await curl(["--pinnedpubkey", cert.spkiSha256, `${server.url}/v1/self`], h.token103);
    expect(r.code).toBe("200");
    expect(JSON.parse(r.body).vmid).toBe(103);
    expect(r.body).not.toContain("customer-a");
  });

  test("wrong pin → TLS failure before any request reaches the app", async () => {
    const before = requestsSeen;
    const wrong = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    const r = await curl(["--pinnedpubkey", wrong, `${server.url}/v1/self`], h.token101);
    // CURLE_SSL_PINNEDPUBKEYNOTMATCH, as in the spike (docs/architecture.md#local-api)
    expect(r.exit).toBe(90);
    expect(r.code).toBe("000");
    expect(requestsSeen).toBe(before);
  });
});

test("Bun fetch pinned by the printed leaf fingerprint reaches the API", async () => {
  const res = await fetch(`${server.url}/v1/self`, {
    headers: { authorization: `Bearer ${h.token101}` },
    tls: {
      ca: cert.cert,
      checkServerIdentity: (_host: string, peer: { fingerprint256?: string }) =>
        peer.fingerprint256 === cert.leafSha256 ? undefined : new Error("pin mismatch"),
    },
  });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { vmid: number }).vmid).toBe(101);
});

test("a wildcard bind is refused unless allowed, and says why", () => {
  expect(() =>
    startLocalApiServer({ app: h.app, tls: cert, hostname: "0.0.0.0", port: 0 }),
  ).toThrow(/every interface of the host.*allow_wildcard/);
});
