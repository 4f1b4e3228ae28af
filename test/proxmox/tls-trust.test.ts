import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createProxmoxClient } from "../../src/proxmox/client.ts";
import { normalizeTrust } from "../../src/proxmox/tls-trust.ts";
import {
  ProxmoxConfigError,
  ProxmoxNetworkError,
  ProxmoxTlsError,
} from "../../src/proxmox/transport-errors.ts";
import { pemFingerprint } from "../../src/tls/fingerprint.ts";
import {
  createSelfSignedCert,
  generateP256,
  issueCertificate,
  privateKeyPem,
} from "../../src/tls/self-signed.ts";
import { TOKEN, TOKEN_SECRET } from "./support/constants.ts";
import { startCountingProxy } from "./support/counting-proxy.ts";
import { type FixtureServer, ok, startFixtureServer } from "./support/fixture-server.ts";
import { recordingLogger } from "./support/recording-logger.ts";

const version = { version: "9.1.4", release: "9.1", repoid: "0123abcd" };

let server: FixtureServer;
beforeAll(async () => {
  server = await startFixtureServer({ handler: () => ok(version) });
});
afterAll(async () => {
  await server.stop();
});

const client = (
  endpoint: string,
  trust: Parameters<typeof createProxmoxClient>[0]["trust"],
  logger = recordingLogger(),
) =>
  createProxmoxClient({
    endpoint,
    node: "pve",
    token: TOKEN,
    trust,
    logger,
    requestTimeoutMs: 5000,
  });

describe("fingerprint pin", () => {
  test("a matching pin works, in colon or bare hex, any case", async () => {
    const bare = server.fingerprint.replaceAll(":", "").toLowerCase();
    for (const sha256 of [server.fingerprint, bare]) {
      const c = client(server.url, { kind: "fingerprint", sha256 });
      expect(await c.version()).toEqual(version);
      c.close();
    }
  });

  test("a mismatch is refused before any HTTP byte: no request, no token", async () => {
    const before = server.requests.length;
    const other = await createSelfSignedCert({ commonName: "other", altNames: ["127.0.0.1"] });
    const expected = pemFingerprint(other.cert);
    const c = client(server.url, { kind: "fingerprint", sha256: expected });
    const err = await c.version().catch((e) => e);
    expect(err).toBeInstanceOf(ProxmoxTlsError);
    expect(err.failure).toBe("mismatch");
    expect(err.expected).toBe(expected);
    expect(err.presented).toBe(server.fingerprint);
    expect(err.message).toContain(expected);
    expect(err.message).toContain(server.fingerprint);
    expect(err.message).not.toContain(TOKEN_SECRET);
    expect(server.requests.length).toBe(before);
    c.close();
  });

  test("a certificate rotated after the session opened is refused and both fingerprints named", async () => {
    const s = await startFixtureServer({ handler: () => ok(version) });
    try {
      const pinned = s.fingerprint;
      const c = client(s.url, { kind: "fingerprint", sha256: pinned });
      await c.version();
      // The session stays open; its next connection meets the renewed certificate.
      const renewed = await createSelfSignedCert({ commonName: "pve", altNames: ["127.0.0.1"] });
      await s.rotateCert(renewed);
      const before = s.requests.length;
      const err = await c.version().catch((e) => e);
      expect(err).toBeInstanceOf(ProxmoxTlsError);
      expect(err.failure).toBe("mismatch");
      expect(err.expected).toBe(pinned);
      expect(err.presented).toBe(pemFingerprint(renewed.cert));
      // Refused by the pooled session's own verification (it carries the TLS code), then
      // named by a fresh probe.
      expect(err.code).toBeString();
      expect(s.requests.length).toBe(before);
      c.close();
    } finally {
      await s.stop();
    }
  });

  test("an expired pinned leaf gives a clear expiry message", async () => {
    const old = await createSelfSignedCert({
      commonName: "pve",
      altNames: ["127.0.0.1"],
      now: new Date(Date.now() - 10 * 86_400_000),
      days: 1,
    });
    const s = await startFixtureServer({ handler: () => ok(version), cert: old });
    try {
      const c = client(s.url, { kind: "fingerprint", sha256: s.fingerprint });
      const err = await c.version().catch((e) => e);
      expect(err).toBeInstanceOf(ProxmoxTlsError);
      expect(err.failure).toBe("expired");
      expect(err.message).toContain("expired");
      expect(s.requests.length).toBe(0);
      c.close();
    } finally {
      await s.stop();
    }
  });

  test("a leaf signed by a cluster CA (like pve-ssl.pem) can be pinned", async () => {
    const chained = await caSignedLeaf(["127.0.0.1"]);
    const s = await startFixtureServer({
      handler: () => ok(version),
      cert: { cert: chained.leafPem, key: chained.leafKey },
    });
    try {
      const c = client(s.url, { kind: "fingerprint", sha256: pemFingerprint(chained.leafPem) });
      expect(await c.version()).toEqual(version);
      c.close();
      const viaCa = client(s.url, { kind: "ca", caPem: chained.caPem });
      expect(await viaCa.version()).toEqual(version);
      viaCa.close();
    } finally {
      await s.stop();
    }
  });

  test("an unreachable endpoint is a network error, not a TLS error", async () => {
    const c = client("https://127.0.0.1:1", { kind: "fingerprint", sha256: server.fingerprint });
    const err = await c.version().catch((e) => e);
    expect(err).toBeInstanceOf(ProxmoxNetworkError);
    expect(err.message).not.toContain(TOKEN_SECRET);
  });
});

describe("CA trust", () => {
  test("the server's certificate as CA verifies a matching IP SAN", async () => {
    const c = client(server.url, { kind: "ca", caPem: server.cert.cert });
    expect(await c.version()).toEqual(version);
    c.close();
  });

  test("a CA-trusted certificate without this host in its SAN is refused", async () => {
    const s = await startFixtureServer({ handler: () => ok(version), altNames: ["pve.example"] });
    try {
      const c = client(s.url, { kind: "ca", caPem: s.cert.cert });
      const err = await c.version().catch((e) => e);
      expect(err).toBeInstanceOf(ProxmoxTlsError);
      expect(err.failure).toBe("hostname");
      expect(s.requests.length).toBe(0);
    } finally {
      await s.stop();
    }
  });

  test("a certificate from another CA is refused as untrusted", async () => {
    const other = await createSelfSignedCert({ commonName: "x", altNames: ["127.0.0.1"] });
    const c = client(server.url, { kind: "ca", caPem: other.cert });
    const err = await c.version().catch((e) => e);
    expect(err).toBeInstanceOf(ProxmoxTlsError);
    expect(err.failure).toBe("untrusted");
  });
});

describe("insecure", () => {
  test("works and warns loudly exactly once", async () => {
    const logger = recordingLogger();
    const c = client(server.url, { kind: "insecure" }, logger);
    await c.version();
    await c.version();
    const warns = logger.records.filter((r) => r.level === "warn");
    expect(warns).toHaveLength(1);
    expect(warns[0]?.msg).toContain("DISABLED");
    c.close();
  });
});

describe("trust validation", () => {
  test("bad trust settings are refused with a clear error", () => {
    expect(() => normalizeTrust({ kind: "fingerprint", sha256: "AB:CD" })).toThrow(
      ProxmoxConfigError,
    );
    expect(() => normalizeTrust({ kind: "ca", caPem: "nope" })).toThrow(ProxmoxConfigError);
    expect(() => normalizeTrust({ kind: "nope" } as never)).toThrow(ProxmoxConfigError);
    expect(normalizeTrust({ kind: "fingerprint", sha256: "ab".repeat(32) })).toEqual({
      kind: "fingerprint",
      sha256: Array(32).fill("AB").join(":"),
    });
  });
});

describe("connection reuse", () => {
  test("100 pinned requests use at most 2 TCP connections (probe + session)", async () => {
    const proxy = await startCountingProxy(server.port);
    try {
      const c = client(proxy.url, { kind: "fingerprint", sha256: server.fingerprint });
      for (let i = 0; i < 100; i++) await c.version();
      expect(proxy.connections()).toBeGreaterThanOrEqual(1);
      expect(proxy.connections()).toBeLessThanOrEqual(2);
      c.close();
    } finally {
      await proxy.stop();
    }
  });

  test("each mutation opens its own connection, pinned like any other", async () => {
    const answer = (r: { method: string }) => ok(r.method === "GET" ? version : null);
    const pve = await startFixtureServer({ handler: answer });
    const other = await startFixtureServer({ handler: answer });
    const proxy = await startCountingProxy(pve.port);
    try {
      const c = client(proxy.url, { kind: "fingerprint", sha256: pve.fingerprint });
      await c.version();
      await c.setConfig(100, { cores: 2 });
      await c.setConfig(100, { cores: 3 });
      await c.version();
      // probe + pooled read connection + one fresh connection per mutation.
      expect(proxy.connections()).toBe(4);
      // New connections now meet a server with another certificate; the pooled one does not.
      proxy.retarget(other.port);
      expect(await c.version()).toEqual(version);
      const err = await c.setConfig(100, { cores: 4 }).catch((e) => e);
      expect(err).toBeInstanceOf(ProxmoxTlsError);
      expect(err.expected).toBe(pve.fingerprint);
      expect(other.requests).toHaveLength(0);
      c.close();
    } finally {
      await proxy.stop();
      await other.stop();
      await pve.stop();
    }
  });

  test("100 CA-trusted requests reuse one connection", async () => {
    const proxy = await startCountingProxy(server.port);
    try {
      const c = client(proxy.url, { kind: "ca", caPem: server.cert.cert });
      for (let i = 0; i < 100; i++) await c.version();
      expect(proxy.connections()).toBe(1);
      c.close();
    } finally {
      await proxy.stop();
    }
  });
});

async function caSignedLeaf(altNames: string[]) {
  const caKeys = await generateP256();
  const leafKeys = await generateP256();
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(Date.now() + 86_400_000 * 30);
  const caPem = await issueCertificate({
    commonName: "Proxmox Virtual Environment",
    ca: true,
    notBefore,
    notAfter,
    publicKey: caKeys.publicKey,
    selfKey: caKeys.privateKey,
  });
  const leafPem = await issueCertificate({
    commonName: "pve.local",
    altNames,
    notBefore,
    notAfter,
    publicKey: leafKeys.publicKey,
    issuer: { commonName: "Proxmox Virtual Environment", ...caKeys },
  });
  return { caPem, leafPem, leafKey: await privateKeyPem(leafKeys.privateKey) };
}
