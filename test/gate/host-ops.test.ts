import { afterEach, describe, expect, test } from "bun:test";
import { buildPayload, signPayloadBytes } from "../../src/authz/sign.ts";
import type { OperationRequest } from "../../src/ops/types.ts";
import { alice, ed, GateHarness, HOST, rescue, rotateParams } from "./support.ts";

// Host-level operations (storage.*, signers.rotate, agent.update) act on no guest: the request
// has no vmid and the signed payload names no guest (docs/architecture.md#signed-operations).

let h: GateHarness;
afterEach(() => h?.cleanup());

function hostRequest(over: Partial<OperationRequest> = {}): OperationRequest {
  return {
    op: "storage.remove",
    params: { id: "usb1" },
    origin: "operator",
    priority: "interactive",
    ...over,
  };
}

function lastAudit(harness: GateHarness) {
  const rows = harness.store.audit.list();
  return rows[rows.length - 1];
}

describe("host-level operations at the gate", () => {
  test("unsigned → pending_signature, held without a guest; nothing journaled", async () => {
    h = new GateHarness();
    const v = await h.gate.decide(hostRequest(), h.ctx);
    expect(v.outcome).toBe("pending_signature");
    expect(v.classification).toMatchObject({ verdict: "destructive", rule: "storage_remove" });
    expect(h.store.pending.byId(v.pendingId as string)).toMatchObject({
      op: "storage.remove",
      vmid: null,
      status: "pending",
    });
    expect(lastAudit(h)).toMatchObject({ actor: "operator", target: null });
    expect(h.store.journal.recent()).toHaveLength(0);
  });

  test("signed without a guest → accepted; journaling consumes the nonce; again → replay", async () => {
    h = new GateHarness();
    const envelope = await h.sign({ op: "storage.remove", params: { id: "usb1" } });
    const v = await h.gate.decide(hostRequest({ envelope }), h.ctx);
    expect(v.outcome).toBe("accepted");
    expect(v.classification.verdict).toBe("destructive");
    expect(v.signed?.signer).toMatchObject({ name: "alice", role: "operational" });
    expect(lastAudit(h)).toMatchObject({
      actor: "signer:alice",
      action: "storage.remove",
      target: null,
      outcome: "accepted",
    });
    const r = h.gate.recordIntent(v, { op: "storage.remove", vmid: null, origin: "operator" });
    expect(r.ok).toBe(true);
    expect(h.store.nonces.isConsumed(v.signed?.nonce as string)).toBe(true);
    const again = await h.gate.decide(hostRequest({ envelope }), h.ctx);
    expect(again).toMatchObject({ outcome: "rejected", reason: "replay" });
  });

  test.each([
    ["storage.add", { storage: "usb2" }],
    ["signers.rotate", rotateParams()],
    ["agent.update", { version: "1.2.3" }],
  ] as const)("%s signed by an operational key → accepted", async (op, params) => {
    h = new GateHarness();
    const envelope = await h.sign({ op, params });
    const v = await h.gate.decide(hostRequest({ op, params, envelope }), h.ctx);
    expect(v.outcome).toBe("accepted");
  });

  test("the recovery key: signers.rotate accepted, any other host-level op role_denied", async () => {
    h = new GateHarness();
    const rotate = await h.sign({ key: rescue, op: "signers.rotate", params: rotateParams() });
    const ok = await h.gate.decide(
      hostRequest({ op: "signers.rotate", params: rotateParams(), envelope: rotate }),
      h.ctx,
    );
    expect(ok.outcome).toBe("accepted");
    expect(ok.signed?.signer.role).toBe("recovery");
    for (const [op, params] of [
      ["storage.remove", { storage: "usb1" }],
      ["storage.add", { storage: "usb2" }],
      ["agent.update", {}],
    ] as const) {
      const envelope = await h.sign({ key: rescue, op, params });
      const v = await h.gate.decide(hostRequest({ op, params, envelope }), h.ctx);
      expect(v).toMatchObject({ outcome: "rejected", reason: "role_denied" });
    }
  });

  test("binding_mismatch: other op, other params, or a guest where the payload has none", async () => {
    h = new GateHarness();
    const envelope = await h.sign({ op: "storage.remove", params: { id: "usb1" } });
    const cases: OperationRequest[] = [
      hostRequest({ op: "storage.add", envelope }),
      hostRequest({ params: { storage: "local-lvm" }, envelope }),
      // The same host-level op asked "on" a guest is not the action that was signed.
      hostRequest({ vmid: 101, envelope }),
    ];
    for (const req of cases) {
      const v = await h.gate.decide(req, h.ctx);
      expect(v).toMatchObject({ outcome: "rejected", reason: "binding_mismatch" });
    }
  });

  test("a guest operation asked without a guest cannot be released by a guest signature", async () => {
    h = new GateHarness();
    const envelope = await h.sign({ op: "guest.destroy", vmid: 101 });
    const v = await h.gate.decide(
      { op: "guest.destroy", params: {}, origin: "job", envelope, priority: "interactive" },
      h.ctx,
    );
    expect(v.classification.rule).toBe("no_guest");
    expect(v).toMatchObject({ outcome: "rejected", reason: "binding_mismatch" });
    expect(v.detail).toContain("action is on no guest");
  });

  test("a signed payload naming a guest on a host-level op is malformed", async () => {
    h = new GateHarness();
    const now = Math.floor(h.clock.now() / 1000);
    const base = buildPayload({
      op: "storage.remove",
      host: HOST,
      params: {},
      now,
      ttlSeconds: 600,
    });
    const bytes = new TextEncoder().encode(JSON.stringify({ ...base, guest: { vmid: 101 } }));
    const envelope = await signPayloadBytes(ed, alice, bytes);
    const v = await h.gate.decide(hostRequest({ params: {}, envelope }), h.ctx);
    expect(v).toMatchObject({ outcome: "rejected", reason: "malformed" });
    expect(v.detail).toContain("payload.guest");
  });

  test("a held host-level operation is released by a later signature", async () => {
    h = new GateHarness();
    const held = await h.gate.decide(hostRequest({ jobId: "job-7", origin: "job" }), h.ctx);
    const id = held.pendingId as string;
    const envelope = await h.sign({
      op: "storage.remove",
      params: { id: "usb1" },
      job: "job-7",
    });
    const { verdict, request } = await h.gate.releasePending(id, envelope);
    expect(verdict.outcome).toBe("accepted");
    expect(verdict.signed?.releasePendingId).toBe(id);
    expect(request).toMatchObject({ op: "storage.remove", jobId: "job-7" });
    expect(request?.vmid).toBeUndefined();
    const decided = await h.gate.decide(request as OperationRequest, h.ctx);
    expect(decided.outcome).toBe("accepted");
    const r = h.gate.recordIntent(decided, {
      op: "storage.remove",
      vmid: null,
      params: { id: "usb1" },
      origin: "job",
      jobId: "job-7",
    });
    expect(r.ok).toBe(true);
    expect(h.store.pending.byId(id)?.status).toBe("released");
  });
});
