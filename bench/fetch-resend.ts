/**
 * Bun runtime figures behind "a mutation goes out on a fresh connection"
 * (docs/bun-runtime.md#fetch-resends-idempotent-methods):
 * 1. which methods Bun's fetch sends a second time when a reused keep-alive connection closes
 *    before the answer, with and without `keepalive: false`;
 * 2. what a fresh, pinned connection per request costs (TLS handshakes and ms per request)
 *    against one reused connection.
 * Loopback, a self-signed ECDSA P-256 leaf pinned as the agent pins Proxmox's.
 * Run: bun bench/fetch-resend.ts [requests-per-cost-run, default 300]
 */
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { pemFingerprint } from "../src/tls/fingerprint.ts";
import { createSelfSignedCert } from "../src/tls/self-signed.ts";

const N = Number(process.argv[2] ?? 300);
const cert = await createSelfSignedCert({ commonName: "pve", altNames: ["127.0.0.1"] });
const pin = pemFingerprint(cert.cert);
let handshakes = 0;
let seen = 0;
let closeBeforeAnswer = false;
const server = createServer({ cert: cert.cert, key: cert.key, keepAlive: true }, (req, res) => {
  req.resume();
  req.on("end", () => {
    if (req.url === "/m") seen++;
    if (closeBeforeAnswer && req.url === "/m") {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { "content-length": 2 });
    res.end("ok");
  });
});
server.on("secureConnection", () => handshakes++);
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

const pinnedSession = () =>
  new Bun.FetchSession({
    proxy: false,
    tls: {
      ca: cert.cert,
      allowPartialTrustChain: true,
      checkServerIdentity: (_h: string, c: { fingerprint256?: string }) =>
        c.fingerprint256 === pin ? undefined : new Error("pin mismatch"),
    },
  } as unknown as Bun.FetchSessionInit);

console.log("1. requests that reach the server when a reused connection closes before the answer");
console.log("method  default  keepalive:false");
for (const method of ["GET", "POST", "PUT", "DELETE", "PATCH"]) {
  const row: number[] = [];
  for (const keepalive of [undefined, false]) {
    const session = pinnedSession();
    closeBeforeAnswer = false;
    await (await session.fetch(`${base}/warm`)).text();
    seen = 0;
    closeBeforeAnswer = true;
    const body = method === "GET" || method === "DELETE" ? undefined : "a=1";
    await session
      .fetch(`${base}/m`, { method, body, ...(keepalive === false ? { keepalive } : {}) })
      .then((r) => r.text())
      .catch(() => undefined);
    closeBeforeAnswer = false;
    row.push(seen);
    session.close();
  }
  console.log(`${method.padEnd(7)} ${String(row[0]).padStart(7)}  ${String(row[1]).padStart(15)}`);
}

console.log(`\n2. cost per PUT over ${N} sequential requests (pinned session)`);
const session = pinnedSession();
await (await session.fetch(`${base}/warm`)).text();
for (const keepalive of [undefined, false, undefined, false]) {
  const h0 = handshakes;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const init = { method: "PUT", body: "a=1", ...(keepalive === false ? { keepalive } : {}) };
    await (await session.fetch(`${base}/m`, init)).text();
  }
  const ms = (performance.now() - t0) / N;
  const label = keepalive === false ? "fresh connection (keepalive: false)" : "reused connection";
  console.log(
    `${label.padEnd(36)} ${ms.toFixed(3)} ms/request, ${((handshakes - h0) / N).toFixed(2)} handshakes/request`,
  );
}
session.close();
server.close();
process.exit(0);
