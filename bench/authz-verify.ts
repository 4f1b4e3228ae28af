/**
 * Signed-operation verification throughput: raw ed25519 verifies with noble's sync API
 * (@noble/hashes SHA-512) and its async API (WebCrypto SHA-512), and whole envelopes through
 * verifyEnvelope with each backend. Prints operations per second.
 * Run: bun bench/authz-verify.ts [--seconds 2]
 */
import { parseArgs } from "node:util";
import { createEd25519, type Ed25519Mode } from "../src/authz/ed25519.ts";
import { buildPayload, signEnvelope } from "../src/authz/sign.ts";
import { ed25519PublicKeyFromRaw } from "../src/authz/ssh-public-key.ts";
import { type VerifyContext, verifyEnvelope } from "../src/authz/verify.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  strict: true,
  options: { seconds: { type: "string" } },
});
const seconds = Number(values.seconds ?? 2);

async function rate(label: string, op: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 50; i++) await op();
  let n = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  while (performance.now() < deadline) {
    await op();
    n++;
  }
  const perSecond = n / ((performance.now() - t0) / 1000);
  console.log(`${label.padEnd(44)} ${perSecond.toFixed(0).padStart(8)} /s`);
}

const seed = new Uint8Array(32).fill(7);
const signerEd = createEd25519("sync");
const key = {
  seed,
  publicKey: ed25519PublicKeyFromRaw(await signerEd.publicKey(seed)),
  comment: "bench",
};
const now = 1_800_000_000;
const envelope = await signEnvelope(
  signerEd,
  key,
  buildPayload({
    op: "guest.destroy",
    host: "host-a",
    guest: { vmid: 101 },
    params: {},
    now,
    ttlSeconds: 300,
  }),
);
const message = new TextEncoder().encode("x".repeat(64));
const signature = await signerEd.sign(message, seed);

console.log(`authz verify bench (${seconds}s per row, Bun ${Bun.version})`);
for (const mode of ["sync", "async"] as Ed25519Mode[]) {
  const ed = createEd25519(mode);
  if (!(await ed.verify(signature, message, key.publicKey.key))) throw new Error("bad setup");
  await rate(`ed25519 verify, noble ${mode}`, () =>
    ed.verify(signature, message, key.publicKey.key),
  );
}
for (const mode of ["sync", "async"] as Ed25519Mode[]) {
  const ctx: VerifyContext = {
    hostId: "host-a",
    signers: [
      {
        name: "bench",
        role: "operational",
        publicKey: key.publicKey,
        keyId: key.publicKey.fingerprint,
      },
    ],
    clock: { now: () => now * 1000, sleep: async () => {} },
    ed25519: createEd25519(mode),
    isNonceUsed: () => false,
  };
  const action = { op: "guest.destroy" as const, guest: { vmid: 101 }, params: {} };
  const first = await verifyEnvelope(envelope, ctx, action);
  if (!first.ok) throw new Error(`bad setup: ${first.rejection.message}`);
  await rate(`verifyEnvelope (accepted), noble ${mode}`, () =>
    verifyEnvelope(envelope, ctx, action),
  );
}
