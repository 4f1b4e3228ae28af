/**
 * Gate decisions per second against a real state database (synchronous=FULL, so every audit
 * row is fsynced): the classifier alone; benign requests (classify + provenance lookup + audit
 * row); signed destructive requests (SSHSIG verify + nonce lookup + audit row); and the full
 * accepted path with the nonce consumed and the intent journaled in one transaction. Unsigned
 * destructive requests (hold + audit) are measured too.
 * Run: bun bench/gate-decide.ts [--seconds 2] [--dir DIR]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createEd25519 } from "../src/authz/ed25519.ts";
import { buildPayload, signEnvelope } from "../src/authz/sign.ts";
import { ed25519PublicKeyFromRaw } from "../src/authz/ssh-public-key.ts";
import { classify } from "../src/gate/classify.ts";
import { ReversibilityGate } from "../src/gate/gate.ts";
import type { OperationRequest } from "../src/ops/types.ts";
import { openStore } from "../src/store/open.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  strict: true,
  options: { seconds: { type: "string" }, dir: { type: "string" } },
});
const seconds = Number(values.seconds ?? 2);

async function rate(label: string, op: (i: number) => unknown): Promise<void> {
  let n = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  while (performance.now() < deadline) {
    await op(n);
    n++;
  }
  const perSecond = n / ((performance.now() - t0) / 1000);
  console.log(`${label.padEnd(52)} ${perSecond.toFixed(0).padStart(8)} /s`);
}

const dir = mkdtempSync(join(values.dir ?? tmpdir(), "felhom-gate-bench-"));
const store = openStore({ path: join(dir, "state.db") });
try {
  const ed = createEd25519();
  const seed = new Uint8Array(32).fill(9);
  const key = { seed, publicKey: ed25519PublicKeyFromRaw(await ed.publicKey(seed)), comment: "b" };
  const signer = {
    name: "alice",
    role: "operational" as const,
    publicKey: key.publicKey,
    keyId: key.publicKey.fingerprint,
  };
  const gate = new ReversibilityGate({
    store,
    hostId: "host-a",
    signers: [signer],
    clock: { now: () => Date.now(), sleep: async () => {} },
    ed25519: ed,
  });
  const ctx = { journal: store.journal };
  const benign: OperationRequest = {
    op: "guest.config",
    vmid: 101,
    params: { cores: 4 },
    origin: "reconcile",
    priority: "background",
  };
  const destroy = (i: number): OperationRequest => ({
    op: "guest.destroy",
    vmid: 101,
    params: {},
    origin: "job",
    jobId: `job-${i}`,
    priority: "interactive",
  });
  // Envelopes are made ahead, so only the agent's side is timed.
  const envelopes = await Promise.all(
    Array.from({ length: 4000 }, async () =>
      signEnvelope(
        ed,
        key,
        buildPayload({
          op: "guest.destroy",
          host: "host-a",
          guest: { vmid: 101 },
          now: Math.floor(Date.now() / 1000),
          ttlSeconds: 600,
        }),
      ),
    ),
  );

  console.log(`gate decide bench (${seconds}s per row, Bun ${Bun.version})`);
  await rate("classify (pure)", () => classify(benign, {}));
  await rate("decide: benign → allowed (+audit)", () => gate.decide(benign, ctx));
  await rate("decide: unsigned destructive → pending (+hold, audit)", (i) =>
    gate.decide(destroy(1_000_000 + i), ctx),
  );
  await rate("decide: signed destructive → accepted (+audit)", (i) =>
    gate.decide({ ...destroy(i), envelope: envelopes[i % envelopes.length] }, ctx),
  );
  let used = 0;
  await rate("accepted + nonce/intent journaled (one txn)", async () => {
    const envelope = envelopes[used++];
    if (!envelope) return;
    const v = await gate.decide({ ...destroy(2_000_000 + used), envelope }, ctx);
    gate.recordIntent(v, { op: "guest.destroy", vmid: 101, origin: "job" });
  });
  if (used > envelopes.length) console.log(`  (ran out of ${envelopes.length} fresh envelopes)`);
  const chain = store.audit.verifyChain();
  console.log(`audit chain after the run: ${chain.ok ? `ok, ${chain.count} rows` : "BROKEN"}`);
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
