import { afterEach, describe, expect, test } from "bun:test";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import { buildPayload, signEnvelope } from "../../src/authz/sign.ts";
import { ReversibilityGate } from "../../src/gate/gate.ts";
import type { OperationRequest } from "../../src/ops/types.ts";
import type { Store } from "../../src/store/store.ts";
import { systemClock } from "../../src/util/clock.ts";
import { AGENT_VERSION } from "../../src/version.ts";
import { keyFromSeed, signerFor } from "../authz/support.ts";
import { Rig } from "../reconcile/support.ts";

// agent.update at the engine: held without a signature, refused before the gate when it
// cannot be right for this host (expired, older, same, failed before, another open), and
// recorded as an attempt when signed and admissible.

const HOST = "host-update";
const ed = createEd25519();
const operator = await keyFromSeed(31, "operator@example");
const rescue = await keyFromSeed(32, "rescue@example");

function realGate(store: Store): ReversibilityGate {
  return new ReversibilityGate({
    store,
    hostId: HOST,
    signers: [
      signerFor(operator, "operator", "operational"),
      signerFor(rescue, "rescue", "recovery"),
    ],
    clock: systemClock,
    ed25519: ed,
  });
}

const [maj, min, pat] = (AGENT_VERSION.split("-")[0] ?? "").split(".").map(Number) as number[];
const NEWER = `${maj}.${(min as number) + 1}.0`;
const OLDER = (pat as number) > 0 ? `${maj}.${min}.${(pat as number) - 1}` : `${maj}.${min}.0-rc.1`;

function params(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: NEWER,
    target: "x64",
    sha256: "c".repeat(64),
    size: 4096,
    expires: new Date(Date.now() + 3_600_000).toISOString(),
    ...over,
  };
}

function update(
  p: Record<string, unknown>,
  over: Partial<OperationRequest> = {},
): OperationRequest {
  return {
    op: "agent.update",
    params: p,
    origin: "job",
    jobId: "job-up",
    priority: "interactive",
    ...over,
  };
}

async function signed(p: Record<string, unknown>, job: string, key = operator) {
  const payload = buildPayload({
    op: "agent.update",
    host: HOST,
    params: p,
    job,
    now: Math.floor(Date.now() / 1000),
    ttlSeconds: 300,
  });
  return signEnvelope(ed, key, payload);
}

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function start(): Promise<Rig> {
  rig = await Rig.start({}, { makeGate: realGate });
  return rig;
}

function lastAudit(r: Rig) {
  return r.store.audit
    .list({ limit: 1000 })
    .filter((a) => a.action === "agent.update")
    .at(-1);
}

describe("agent.update admission", () => {
  test("unsigned it is held and nothing is recorded; signed it records an admitted attempt", async () => {
    const r = await start();
    const p = params();
    const held = await r.engine.submit(update(p));
    expect(held.state).toBe("pending_signature");
    expect(r.store.agentUpdates.last()).toBeUndefined();

    const envelope = await signed(p, "job-up");
    const done = await r.engine.submit(update(p, { envelope }));
    expect(done).toMatchObject({ op: "agent.update", state: "done" });
    const attempt = r.store.agentUpdates.open();
    expect(attempt).toMatchObject({
      version: NEWER,
      fromVersion: AGENT_VERSION,
      target: "x64",
      sha256: "c".repeat(64),
      size: 4096,
      step: "admitted",
    });
    expect(r.store.journal.byId(attempt?.journalId as number)).toMatchObject({
      op: "agent.update",
      phase: "done",
      vmid: null,
    });
    expect(r.store.pending.byId(held.id)?.status).toBe("released");

    // A second update while this one is open is refused, signed or not.
    const other = params({ version: `${maj}.${(min as number) + 2}.0` });
    const busy = await r.engine.submit(
      update(other, { jobId: "job-2", envelope: await signed(other, "job-2") }),
    );
    expect(busy).toMatchObject({ state: "rejected" });
    expect(busy.reason).toStartWith("update_in_progress:");
  });

  test("a recovery key may not sign it", async () => {
    const r = await start();
    const p = params();
    const denied = await r.engine.submit(
      update(p, { envelope: await signed(p, "job-up", rescue) }),
    );
    expect(denied).toMatchObject({ state: "rejected", reason: "role_denied" });
    expect(r.store.agentUpdates.last()).toBeUndefined();
  });

  test.each([
    ["expired", { expires: new Date(Date.now() - 1000).toISOString() }, "update_expired"],
    ["an older version", { version: OLDER }, "update_downgrade"],
    ["the running version", { version: AGENT_VERSION }, "update_same_version"],
  ])("%s is refused before the gate, audited, nothing recorded", async (_name, over, code) => {
    const r = await start();
    const p = params(over);
    const res = await r.engine.submit(update(p, { envelope: await signed(p, "job-up") }));
    expect(res.state).toBe("rejected");
    expect(res.reason).toStartWith(`${code}:`);
    expect(lastAudit(r)).toMatchObject({ outcome: `rejected:${code}` });
    expect(r.store.agentUpdates.last()).toBeUndefined();
    // No nonce spent: the same envelope is still unused.
    expect(r.store.journal.recent(10).filter((e) => e.op === "agent.update")).toHaveLength(0);
  });

  test("a downgrade signed with allow_downgrade is admitted", async () => {
    const r = await start();
    const p = params({ version: OLDER, allow_downgrade: true });
    const res = await r.engine.submit(update(p, { envelope: await signed(p, "job-up") }));
    expect(res.state).toBe("done");
    expect(r.store.agentUpdates.open()).toMatchObject({ version: OLDER, step: "admitted" });
  });

  test("a version that was rolled back here before is not tried again", async () => {
    const r = await start();
    const first = params();
    await r.engine.submit(update(first, { envelope: await signed(first, "job-up") }));
    const a = r.store.agentUpdates.open();
    r.store.agentUpdates.advance(a?.id as number, "rolled_back", "did not become healthy");
    const again = params({ sha256: "d".repeat(64) });
    const res = await r.engine.submit(
      update(again, { jobId: "job-again", envelope: await signed(again, "job-again") }),
    );
    expect(res.state).toBe("rejected");
    expect(res.reason).toStartWith("update_failed_before:");
  });

  test("bad params are refused as invalid_params", async () => {
    const r = await start();
    const res = await r.engine.submit(update(params({ target: "arm64", size: 0 })));
    expect(res.state).toBe("rejected");
    expect(res.reason).toContain("invalid_params");
  });
});
