/**
 * Task-end detection: the agent's `waitTask` against a peer that polls at once and then every
 * second (what the `proxmox-api` npm client's users and proxmoxer's `blocking_status` do), both
 * watching the same task at the same time, so they see the same end. Tasks of --count lengths
 * spread over 0.2–30 s run in parallel on a time-based fixture (the task ends at a known
 * moment). Prints, per length band, the median delay between the end and its detection and the
 * polls made, and the ratio of the agent's to the loop's (issue table: ≤ 1× at every length,
 * with no more polls than a 1 s loop).
 *   bun bench/task-wait-ratio.ts [--count 60] [--max-s 30]
 */
import { parseArgs } from "node:util";
import { createProxmoxClient } from "../src/proxmox/client.ts";
import { notFound, ok, startFixtureServer } from "../test/proxmox/support/fixture-server.ts";
import { makeUpid } from "../test/proxmox/support/task-script.ts";
import { spread } from "./support/ratio.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  strict: true,
  options: {
    count: { type: "string", default: "60" },
    "max-s": { type: "string", default: "30" },
  },
});
const count = Number(values.count);
const maxMs = Number(values["max-s"]) * 1000;
const TOKEN = "bench@pve!bench=00000000-0000-4000-8000-000000000000";

const ends = new Map<string, number>();
const server = await startFixtureServer({
  handler: (req) => {
    const m = /^\/nodes\/pve\/tasks\/([^/]+)\/status$/.exec(req.path);
    if (!m) return notFound(req);
    const upid = decodeURIComponent(m[1] as string);
    const [, node, , , , type, id, user] = upid.split(":");
    const done = Date.now() >= (ends.get(upid) ?? 0);
    return ok({
      upid,
      node,
      pid: 1,
      pstart: 1,
      starttime: 1,
      type,
      id,
      user,
      status: done ? "stopped" : "running",
      ...(done ? { exitstatus: "OK" } : {}),
    });
  },
});
const client = createProxmoxClient({
  endpoint: server.url,
  node: "pve",
  token: TOKEN,
  trust: { kind: "fingerprint", sha256: server.fingerprint },
});

/** The peer: poll, and while running sleep 1 s and poll again. */
async function oneSecondLoop(upid: string): Promise<{ at: number; polls: number }> {
  const url = `${server.url}/api2/json/nodes/pve/tasks/${encodeURIComponent(upid)}/status`;
  let polls = 0;
  for (;;) {
    polls++;
    const res = await fetch(url, {
      headers: { authorization: `PVEAPIToken=${TOKEN}` },
      // Loopback fixture this bench started; the peer's TLS setup is not what is measured.
      tls: { rejectUnauthorized: false },
    });
    const body = (await res.json()) as { data: { status: string } };
    if (body.data.status === "stopped") return { at: Date.now(), polls };
    await Bun.sleep(1000);
  }
}

interface Row {
  lengthMs: number;
  agentDelay: number;
  loopDelay: number;
  agentPolls: number;
  loopPolls: number;
}

// Lengths spread evenly (with a fixed irrational step, so the ends fall at every phase of a
// second) between 0.2 s and max.
const lengths = Array.from(
  { length: count },
  (_, i) => 200 + ((i * 0.618_033_988_75 * maxMs) % (maxMs - 200)),
);
const rows: Row[] = await Promise.all(
  lengths.map(async (lengthMs, i) => {
    const upid = makeUpid("vzdump", String(100 + i), "bench@pve!bench", 1_700_000_000 + i);
    const end = Date.now() + lengthMs;
    ends.set(upid, end);
    const [agent, loop] = await Promise.all([
      client.waitTask(upid, { deadlineMs: maxMs + 30_000 }).then((r) => ({
        at: Date.now(),
        polls: r.polls,
      })),
      oneSecondLoop(upid),
    ]);
    return {
      lengthMs,
      agentDelay: agent.at - end,
      loopDelay: loop.at - end,
      agentPolls: agent.polls,
      loopPolls: loop.polls,
    };
  }),
);
client.close();
await server.stop();

console.log(`task-end detection, ${count} tasks of 0.2–${maxMs / 1000} s, each watched by both`);
console.log(
  "length band | tasks | median delay agent / 1 s loop (ms) | ratio | polls agent / loop",
);
const bands = [0, 1000, 5000, 10_000, 20_000, maxMs + 1];
for (let b = 0; b < bands.length - 1; b++) {
  const lo = bands[b] as number;
  const hi = bands[b + 1] as number;
  const inBand = rows.filter((r) => r.lengthMs >= lo && r.lengthMs < hi);
  if (inBand.length === 0) continue;
  const a = spread(inBand.map((r) => r.agentDelay)).median;
  const l = spread(inBand.map((r) => r.loopDelay)).median;
  const pa = inBand.reduce((s, r) => s + r.agentPolls, 0);
  const pl = inBand.reduce((s, r) => s + r.loopPolls, 0);
  console.log(
    `${(lo / 1000).toString().padStart(4)}–${Math.min(hi, maxMs) / 1000} s | ${String(inBand.length).padStart(5)} | ` +
      `${a.toFixed(0).padStart(6)} / ${l.toFixed(0).padStart(6)} | ${(a / l).toFixed(2)}x | ${pa} / ${pl}`,
  );
}
const worse = rows.filter((r) => r.agentDelay > r.loopDelay + 50);
const morePolls = rows.filter((r) => r.agentPolls > r.loopPolls);
console.log(
  `tasks seen more than 50 ms after the loop saw them: ${worse.length} of ${rows.length}; ` +
    `tasks with more polls than the loop: ${morePolls.length}`,
);
