/**
 * PVE simulator throughput: GET /nodes/{node}/lxc with 500 CTs, over HTTPS with keep-alive
 * connections, N concurrent callers, for a fixed time. Prints requests per second.
 * Run: bun bench/sim-throughput.ts [--seconds 5] [--concurrency 16]
 */
import { parseArgs } from "node:util";
import { defaultSeed, startPveSimulator } from "../src/sim/pve/index.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  strict: true,
  options: { seconds: { type: "string" }, concurrency: { type: "string" } },
});
const seconds = Number(values.seconds ?? 5);
const concurrency = Number(values.concurrency ?? 16);

// The default seed holds 3 CTs; 497 more make 500.
const sim = await startPveSimulator({
  seed: defaultSeed({ extraGuests: 497 }),
  authFailDelayMs: 0,
});
const session = new Bun.FetchSession({ tls: { ca: sim.certPem } });
const url = `${sim.endpoint}/api2/json/nodes/${sim.node}/lxc`;
const headers = { authorization: `PVEAPIToken=${sim.tokens.agent}` };
try {
  const probe = await session.fetch(url, { headers });
  const body = (await probe.json()) as { data: unknown[] };
  if (probe.status !== 200 || body.data.length !== 500) {
    throw new Error(`unexpected probe: ${probe.status}, ${body.data.length} entries`);
  }
  const bytes = JSON.stringify(body).length;
  let count = 0;
  let failed = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const res = await session.fetch(url, { headers });
        await res.arrayBuffer();
        if (res.status === 200) count++;
        else failed++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  console.log(
    `sim GET lxc list (500 CTs, ${bytes} bytes, ${concurrency} keep-alive callers, ${elapsed.toFixed(1)} s): ` +
      `${Math.round(count / elapsed)} req/s, ${failed} non-200`,
  );
} finally {
  session.close();
  await sim.stop();
}
