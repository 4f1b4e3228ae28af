import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  LocalApiStartError,
  resolveListenAddress,
  startLocalApi,
} from "../../src/localapi/start.ts";
import type { LogFields, Logger } from "../../src/log/types.ts";
import { type Harness, startHarness } from "./fixture.ts";

let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), "felhom-localapi-start-"));
});
afterAll(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

function recordingLogger(lines: string[]): Logger {
  const log = (level: string) => (msg: string, fields?: LogFields) =>
    lines.push(JSON.stringify({ level, msg, ...fields }));
  const l: Logger = {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: () => l,
  };
  return l;
}

const config = {
  enabled: true,
  listen: "127.0.0.1",
  bridge: "vmbr0",
  port: 0,
  allow_wildcard: false,
  body_limit_bytes: 16_384,
  rate_limit: { per_minute: 120, burst: 30 },
  read_cache_ms: 2000,
};

/** The harness's store, submitter and client, with no quotas and no backup storage. */
const deps = () => ({
  tokens: h.store.guestTokens,
  submitter: h.submitter,
  proxmox: h.client,
  quotas: { quotaFor: () => undefined },
  backups: { backupStorageFor: () => undefined },
  clock: h.clock,
});

test("start: certificate made and logged by its pins (never the key), API served", async () => {
  const lines: string[] = [];
  const started = await startLocalApi({
    config,
    stateDir: dir,
    deps: deps(),
    logger: recordingLogger(lines),
  });
  try {
    const res = await fetch(`${started.server.url}/v1/self`, {
      headers: { authorization: `Bearer ${h.token103}` },
      tls: { ca: started.certificate.cert },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { vmid: number }).vmid).toBe(103);
    const all = lines.join("\n");
    expect(all).toContain(started.certificate.spkiSha256);
    expect(all).not.toContain("PRIVATE KEY");
    expect(all).not.toContain(h.token103);
    // The API's own origin is the one a browser could legitimately send.
    const own = await fetch(`${started.server.url}/v1/self`, {
      headers: { authorization: `Bearer ${h.token103}`, origin: "https://127.0.0.1:0" },
      tls: { ca: started.certificate.cert },
    });
    expect(own.status).toBe(200);
  } finally {
    await started.server.stop();
  }
});

test("the default listen address is the bridge's IPv4, else a global IPv6", () => {
  const { listen: _, ...noListen } = config;
  const ifs = (addrs: { address: string; family: string }[]) => () => ({
    vmbr0: addrs.map((a) => ({ ...a, internal: false })),
  });
  expect(
    resolveListenAddress(
      noListen,
      ifs([
        { address: "fe80::1", family: "IPv6" },
        { address: "192.168.0.162", family: "IPv4" },
      ]),
    ),
  ).toBe("192.168.0.162");
  expect(
    resolveListenAddress(
      noListen,
      ifs([
        { address: "fe80::1", family: "IPv6" },
        { address: "2001:db8::5", family: "IPv6" },
      ]),
    ),
  ).toBe("2001:db8::5");
  expect(() => resolveListenAddress(noListen, ifs([]))).toThrow(/vmbr0 has no address/);
});

test("start: a listen name that resolves to a wildcard is refused before anything is served", async () => {
  const err = await startLocalApi({
    config: { ...config, listen: "api.lan" },
    stateDir: dir,
    deps: deps(),
    logger: recordingLogger([]),
    lookup: async () => [{ address: "0.0.0.0" }],
  }).catch((e) => e);
  expect(err).toBeInstanceOf(LocalApiStartError);
  expect((err as Error).message).toContain("resolves to 0.0.0.0");
});
