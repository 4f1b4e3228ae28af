import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import type { CliContext } from "../../src/cli/context.ts";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "../../src/cli/context.ts";
import { runFingerprint } from "../../src/cli/fingerprint.ts";
import { pemFingerprint } from "../../src/tls/fingerprint.ts";
import { createSelfSignedCert } from "../../src/tls/self-signed.ts";

interface Captured {
  ctx: CliContext;
  out: () => string;
  err: () => string;
}

function capture(env: Record<string, string | undefined> = {}, configPath?: string): Captured {
  let out = "";
  let err = "";
  const ctx: CliContext = {
    env,
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
  };
  if (configPath !== undefined) ctx.configPath = configPath;
  return { ctx, out: () => out, err: () => err };
}

function listen(server: TlsServer | TcpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      if (addr === null || typeof addr === "string") reject(new Error("no port"));
      else resolve(addr.port);
    });
  });
}

function close(server: TlsServer | TcpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A TLS server that records every application byte it receives and never answers. */
async function startRecordingServer(cert: { cert: string; key: string }) {
  const received: Buffer[] = [];
  const sockets = new Set<import("node:net").Socket>();
  const server = createTlsServer({ cert: cert.cert, key: cert.key }, (socket) => {
    sockets.add(socket);
    socket.on("data", (d: Buffer) => received.push(d));
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", () => {});
  const port = await listen(server);
  return {
    port,
    received,
    async stop() {
      for (const s of sockets) s.destroy();
      await close(server);
    },
  };
}

describe("fingerprint against a local TLS server", () => {
  let server: Awaited<ReturnType<typeof startRecordingServer>>;
  let expired: Awaited<ReturnType<typeof startRecordingServer>>;
  let certPem: string;

  beforeAll(async () => {
    const cert = await createSelfSignedCert({
      commonName: "pve1.example.test",
      altNames: ["pve1.example.test", "127.0.0.1"],
    });
    certPem = cert.cert;
    server = await startRecordingServer(cert);
    const old = await createSelfSignedCert({
      commonName: "old",
      altNames: ["127.0.0.1"],
      days: 1,
      now: new Date("2020-01-01T00:00:00Z"),
    });
    expired = await startRecordingServer(old);
  });

  afterAll(async () => {
    await server?.stop();
    await expired?.stop();
  });

  test("prints the leaf SHA-256, subject, issuer, validity, alt names and what to do next", async () => {
    const c = capture();
    const code = await runFingerprint(["--endpoint", `https://127.0.0.1:${server.port}`], c.ctx);
    expect(code).toBe(EXIT_OK);
    const out = c.out();
    const fp = pemFingerprint(certPem);
    expect(fp).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
    expect(out).toContain(`SHA-256 fingerprint  ${fp}`);
    expect(out).toContain("subject              CN=pve1.example.test");
    expect(out).toContain("issuer               CN=pve1.example.test");
    expect(out).toMatch(/valid from\s+\d{4}-\d\d-\d\dT/);
    expect(out).toMatch(/valid until\s+\d{4}-\d\d-\d\dT/);
    expect(out).toContain("DNS:pve1.example.test");
    expect(out).toContain("IP Address:127.0.0.1");
    expect(out).toContain("NOT verified");
    expect(out).toContain("pvenode cert info");
    expect(out).toContain("/etc/felhom-agent/agent.json");
    expect(out).toContain(`"proxmox": { "tls": { "fingerprint": "${fp}" } }`);
    expect(out).toContain(`FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT=${fp}`);
    expect(out).not.toContain("WARNING");
    expect(c.err()).toBe("");
  });

  test("sends no application byte: the handshake only", async () => {
    server.received.length = 0;
    const c = capture();
    expect(await runFingerprint(["--endpoint", `https://127.0.0.1:${server.port}`], c.ctx)).toBe(
      EXIT_OK,
    );
    // Give a stray write the chance to arrive before asserting there was none.
    await new Promise((r) => setTimeout(r, 100));
    expect(Buffer.concat(server.received).byteLength).toBe(0);
  });

  test("--json gives one object with the same facts and the config key", async () => {
    const c = capture({}, "/srv/agent.json");
    const code = await runFingerprint(
      ["--endpoint", `https://127.0.0.1:${server.port}`, "--json"],
      c.ctx,
    );
    expect(code).toBe(EXIT_OK);
    const j = JSON.parse(c.out());
    expect(j).toMatchObject({
      endpoint: `https://127.0.0.1:${server.port}`,
      fingerprint: pemFingerprint(certPem),
      subject: "CN=pve1.example.test",
      issuer: "CN=pve1.example.test",
      subject_alt_names: ["DNS:pve1.example.test", "IP Address:127.0.0.1"],
      expired: false,
      not_yet_valid: false,
      verified: false,
      config: {
        file: "/srv/agent.json",
        key: "proxmox.tls.fingerprint",
        env: "FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT",
      },
    });
    expect(Number.isNaN(Date.parse(j.valid_from))).toBe(false);
    expect(Date.parse(j.valid_to)).toBeGreaterThan(Date.parse(j.valid_from));
  });

  test("takes the endpoint from FELHOM_AGENT_PROXMOX_ENDPOINT when no flag is given", async () => {
    const c = capture({ FELHOM_AGENT_PROXMOX_ENDPOINT: `https://127.0.0.1:${server.port}` });
    expect(await runFingerprint(["--json"], c.ctx)).toBe(EXIT_OK);
    expect(JSON.parse(c.out()).fingerprint).toBe(pemFingerprint(certPem));
  });

  test("warns about an expired certificate, which a pin does not rescue", async () => {
    const c = capture();
    const code = await runFingerprint(["--endpoint", `https://127.0.0.1:${expired.port}`], c.ctx);
    expect(code).toBe(EXIT_OK);
    expect(c.out()).toContain("WARNING: this certificate has expired");
  });
});

describe("fingerprint failures", () => {
  test("a refused connection is a failure naming the endpoint", async () => {
    const tcp = createTcpServer();
    const port = await listen(tcp);
    await close(tcp);
    const c = capture();
    const code = await runFingerprint(["--endpoint", `https://127.0.0.1:${port}`], c.ctx);
    expect(code).toBe(EXIT_FAILURE);
    expect(c.err()).toContain(`cannot read the certificate of https://127.0.0.1:${port}`);
    expect(c.err()).toContain("ECONNREFUSED");
    expect(c.out()).toBe("");
  });

  test("a server that never completes the handshake times out", async () => {
    const sockets = new Set<import("node:net").Socket>();
    const tcp = createTcpServer((s) => {
      sockets.add(s);
      s.on("error", () => {});
    });
    const port = await listen(tcp);
    try {
      const c = capture();
      const code = await runFingerprint(
        ["--endpoint", `https://127.0.0.1:${port}`, "--timeout-ms", "200"],
        c.ctx,
      );
      expect(code).toBe(EXIT_FAILURE);
      expect(c.err()).toContain("no TLS handshake within 200 ms");
    } finally {
      for (const s of sockets) s.destroy();
      await close(tcp);
    }
  });

  test.each([
    [[], "--endpoint is required"],
    [["--endpoint", "http://127.0.0.1:8006"], "must be an https:// URL"],
    [["--endpoint", "not a url"], "is not a URL"],
    [["--endpoint", "https://127.0.0.1:8006/api2/json"], "without a path"],
    [["--endpoint", "https://root:pw@127.0.0.1:8006"], "must not contain credentials"],
    [["--endpoint", "https://127.0.0.1:8006", "--timeout-ms", "0"], "between 1 and"],
    [["--endpoint", "https://127.0.0.1:8006", "--timeout-ms", "1e3"], "whole number"],
    [["--endpoint", "https://127.0.0.1:8006", "--bogus"], "bogus"],
    [["--endpoint", "https://127.0.0.1:8006", "extra"], "extra"],
  ])("usage error for %j", async (argv, message) => {
    const c = capture();
    const run = runFingerprint(argv as string[], c.ctx);
    await expect(run).rejects.toBeInstanceOf(UsageError);
    await expect(run).rejects.toThrow(message as string);
    expect(c.out()).toBe("");
  });

  test("--help prints the usage and exits 0", async () => {
    const c = capture();
    expect(await runFingerprint(["--help"], c.ctx)).toBe(EXIT_OK);
    expect(c.out()).toContain("Usage: felhom-agent fingerprint --endpoint");
    expect(c.out()).toContain("pvenode cert info");
  });
});
