import { afterAll, beforeAll, expect, test } from "bun:test";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import { createHubClient, readCapped } from "../../src/hub/client.ts";
import { HubPayloadError } from "../../src/hub/errors.ts";
import { createHubTransport } from "../../src/hub/transport.ts";
import { silentLogger } from "../../src/log/types.ts";
import { type HubSimulator, startHubSimulator } from "../../src/sim/hub/index.ts";
import { systemClock } from "../../src/util/clock.ts";

const CAP = 4 * 1024 * 1024;
let sim: HubSimulator;
beforeAll(async () => {
  sim = await startHubSimulator();
});
afterAll(async () => {
  await sim.stop();
});

const creds = {
  hostId: "host-1",
  credential: "c".repeat(43),
  seed: new Uint8Array(32).fill(7),
};

/** Polls `probe` for at most 10 s; the condition is about bytes, never about time. */
async function eventually(probe: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200 && !probe(); i++) await Bun.sleep(50);
  return probe();
}

for (const mode of ["chunked", "lying_length"] as const) {
  test(`an endless ${mode} body from the hub is cut at the cap, the connection closed`, async () => {
    const endless = sim.serveEndlessBody(mode);
    const transport = createHubTransport({
      baseUrl: endless.url,
      trust: { kind: "fingerprint", sha256: sim.fingerprint },
      logger: silentLogger,
      connectTimeoutMs: 5000,
    });
    const client = createHubClient({
      baseUrl: endless.url,
      transport,
      ed: createEd25519(),
      clock: systemClock,
      // Generous: reading all of an endless body would end here, as a timeout, not a cap.
      requestTimeoutMs: 20_000,
    });
    try {
      const err = await client.desired(creds).catch((e) => e);
      expect(err).toBeInstanceOf(HubPayloadError);
      expect((err as HubPayloadError).issues).toEqual([`body larger than ${CAP} bytes`]);
      // The agent hung up: the server's writes stop, well short of what it would have sent.
      expect(await eventually(() => endless.closedConnections() > 0)).toBe(true);
      expect(endless.bytesSent()).toBeLessThan(64 * 1024 * 1024);
    } finally {
      transport.close();
    }
  });
}

test("readCapped: a body at the cap is read whole; one byte over is refused; a large declared length is refused unread", async () => {
  const at = new Response(new Uint8Array(1000).fill(0x61));
  expect((await readCapped(at, 1000)).length).toBe(1000);
  const over = new Response(
    new ReadableStream({
      start(c) {
        c.enqueue(new Uint8Array(600));
        c.enqueue(new Uint8Array(401));
        c.close();
      },
    }),
  );
  expect(await readCapped(over, 1000).catch((e) => e)).toBeInstanceOf(HubPayloadError);
  let pulled = 0;
  const declared = new Response(
    new ReadableStream({
      pull(c) {
        pulled++;
        c.enqueue(new Uint8Array(10));
      },
    }),
    { headers: { "content-length": "5000" } },
  );
  expect(await readCapped(declared, 1000).catch((e) => e)).toBeInstanceOf(HubPayloadError);
  expect(pulled).toBeLessThanOrEqual(1);
});
