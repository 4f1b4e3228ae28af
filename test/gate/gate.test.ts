import { afterEach, describe, expect, test } from "bun:test";
import { encodeBase64 } from "../../src/authz/base64.ts";
import { buildPayload, signPayloadBytes } from "../../src/authz/sign.ts";
import { agentProvenance } from "../../src/gate/provenance.ts";
import { alice, ed, GateHarness, HOST, request, rescue, retired, stranger } from "./support.ts";

let h: GateHarness;
afterEach(() => h?.cleanup());

function lastAudit(harness: GateHarness) {
  const rows = harness.store.audit.list();
  return rows[rows.length - 1];
}

describe("outcomes", () => {
  test("benign → allowed, audited with the requester as actor", async () => {
    h = new GateHarness();
    const v = await h.gate.decide(
      request({ op: "guest.config", params: { cores: 4 }, origin: "reconcile" }),
      h.ctx,
    );
    expect(v.outcome).toBe("allowed");
    expect(v.classification.rule).toBe("resources");
    const row = lastAudit(h);
    expect(row).toMatchObject({
      actor: "reconcile",
      action: "guest.config",
      target: "guest:101",
      outcome: "allowed",
    });
    expect(JSON.parse(row?.details ?? "{}")).toMatchObject({
      rule: "resources",
      param_keys: ["cores"],
    });
    expect(h.store.pending.list()).toHaveLength(0);
  });

  test("unsigned destructive job → pending_signature: held, visible, and nothing journaled", async () => {
    h = new GateHarness();
    const v = await h.gate.decide(request(), h.ctx);
    expect(v.outcome).toBe("pending_signature");
    expect(v.pendingId).toMatch(/^po-/);
    const held = h.store.pending.byId(v.pendingId as string);
    expect(held).toMatchObject({
      op: "guest.destroy",
      vmid: 101,
      status: "pending",
      jobId: "job-1",
    });
    expect(h.store.journal.recent()).toHaveLength(0);
    expect(lastAudit(h)).toMatchObject({ actor: "hub", outcome: "pending_signature" });
    expect(() => h.gate.recordIntent(v, { op: "guest.destroy", vmid: 101, origin: "job" })).toThrow(
      /does not permit execution/,
    );
  });

  test("the same unsigned job again is the same held operation", async () => {
    h = new GateHarness();
    const a = await h.gate.decide(request(), h.ctx);
    const b = await h.gate.decide(request(), h.ctx);
    expect(b.pendingId).toBe(a.pendingId as string);
    expect(h.store.pending.list()).toHaveLength(1);
  });

  test("valid, role-permitted, bound, fresh → accepted; journaling consumes the nonce; again → replay", async () => {
    h = new GateHarness();
    const envelope = await h.sign({ job: "job-1" });
    const v = await h.gate.decide(request({ envelope }), h.ctx);
    expect(v.outcome).toBe("accepted");
    expect(v.signed?.signer).toMatchObject({ name: "alice", role: "operational" });
    expect(lastAudit(h)).toMatchObject({ actor: "signer:alice", outcome: "accepted" });
    // Accepting alone consumed nothing: the nonce goes with the journal write.
    expect(h.store.nonces.isConsumed(v.signed?.nonce as string)).toBe(false);
    const r = h.gate.recordIntent(v, {
      op: "guest.destroy",
      vmid: 101,
      origin: "job",
      jobId: "job-1",
    });
    expect(r.ok).toBe(true);
    expect(h.store.nonces.isConsumed(v.signed?.nonce as string)).toBe(true);
    const again = await h.gate.decide(request({ envelope }), h.ctx);
    expect(again).toMatchObject({ outcome: "rejected", reason: "replay" });
    expect(lastAudit(h)?.outcome).toBe("rejected:replay");
  });

  test("replay across a restart: the consumed nonce survives in the database", async () => {
    h = new GateHarness();
    const envelope = await h.sign({ job: "job-1" });
    const v = await h.gate.decide(request({ envelope }), h.ctx);
    expect(h.gate.recordIntent(v, { op: "guest.destroy", vmid: 101, origin: "job" }).ok).toBe(true);
    h.restart();
    const after = await h.gate.decide(request({ envelope }), h.ctx);
    expect(after).toMatchObject({ outcome: "rejected", reason: "replay" });
    expect(h.store.audit.verifyChain().ok).toBe(true);
  });

  test("the same envelope verified twice before either runs: the second journal write is a replay", async () => {
    h = new GateHarness();
    const envelope = await h.sign({ job: "job-1" });
    const first = await h.gate.decide(request({ envelope }), h.ctx);
    const second = await h.gate.decide(request({ envelope }), h.ctx);
    expect([first.outcome, second.outcome]).toEqual(["accepted", "accepted"]);
    expect(h.gate.recordIntent(first, { op: "guest.destroy", vmid: 101, origin: "job" }).ok).toBe(
      true,
    );
    const r = h.gate.recordIntent(second, { op: "guest.destroy", vmid: 101, origin: "job" });
    expect(r).toEqual({ ok: false, reason: "replay" });
    expect(h.store.journal.recent()).toHaveLength(1);
    expect(lastAudit(h)).toMatchObject({ actor: "hub", outcome: "rejected:replay" });
  });
});

describe("adversarial matrix: typed rejections", () => {
  test("unknown signer", async () => {
    h = new GateHarness();
    const v = await h.gate.decide(request({ envelope: await h.sign({ key: stranger }) }), h.ctx);
    expect(v).toMatchObject({ outcome: "rejected", reason: "unknown_signer" });
  });

  test("expired envelope", async () => {
    h = new GateHarness();
    const envelope = await h.sign({ ttl: 300 });
    h.clock.advance(301_000 + 60_000);
    const v = await h.gate.decide(request({ envelope }), h.ctx);
    expect(v).toMatchObject({ outcome: "rejected", reason: "expired" });
  });

  test("not yet valid (beyond the skew allowance)", async () => {
    h = new GateHarness();
    const v = await h.gate.decide(request({ envelope: await h.sign({ iatOffset: 120 }) }), h.ctx);
    expect(v).toMatchObject({ outcome: "rejected", reason: "not_yet_valid" });
  });

  test("expired signer", async () => {
    h = new GateHarness();
    const v = await h.gate.decide(request({ envelope: await h.sign({ key: retired }) }), h.ctx);
    expect(v).toMatchObject({ outcome: "rejected", reason: "signer_expired" });
  });

  test("wrong host, and an agent without a host id", async () => {
    h = new GateHarness();
    const v = await h.gate.decide(request({ envelope: await h.sign({ host: "host-b" }) }), h.ctx);
    expect(v).toMatchObject({ outcome: "rejected", reason: "wrong_host" });
    const hostless = new GateHarness({ hostId: undefined });
    try {
      const w = await hostless.gate.decide(
        request({ envelope: await hostless.sign() }),
        hostless.ctx,
      );
      expect(w).toMatchObject({ outcome: "rejected", reason: "wrong_host" });
      expect(w.detail).toContain("no host id");
    } finally {
      hostless.cleanup();
    }
  });

  test("a signature for guest 101 presented for guest 102 → binding_mismatch", async () => {
    h = new GateHarness();
    const envelope = await h.sign({ vmid: 101 });
    const v = await h.gate.decide(request({ vmid: 102, envelope }), h.ctx);
    expect(v).toMatchObject({ outcome: "rejected", reason: "binding_mismatch" });
  });

  test("a signature over other params → binding_mismatch", async () => {
    h = new GateHarness();
    const envelope = await h.sign({ op: "guest.snapshot.delete", params: { name: "keep-me" } });
    const v = await h.gate.decide(
      request({ op: "guest.snapshot.delete", params: { name: "precious" }, envelope }),
      h.ctx,
    );
    expect(v).toMatchObject({ outcome: "rejected", reason: "binding_mismatch" });
  });

  test("a signature for another op → binding_mismatch", async () => {
    h = new GateHarness();
    const envelope = await h.sign({ op: "guest.rollback", params: { name: "s1" } });
    const v = await h.gate.decide(request({ op: "guest.destroy", params: {}, envelope }), h.ctx);
    expect(v).toMatchObject({ outcome: "rejected", reason: "binding_mismatch" });
  });

  test("a signed guest uid binds that guest incarnation", async () => {
    h = new GateHarness({ guestUid: () => "uid-new" });
    const envelope = await h.sign({ uid: "uid-old" });
    const v = await h.gate.decide(request({ envelope }), h.ctx);
    expect(v).toMatchObject({ outcome: "rejected", reason: "binding_mismatch" });
  });

  test("an envelope signed for job X carried by job Y, or by no job → binding_mismatch", async () => {
    h = new GateHarness();
    const envelope = await h.sign({ job: "job-X" });
    const asY = await h.gate.decide(request({ jobId: "job-Y", envelope }), h.ctx);
    expect(asY).toMatchObject({ outcome: "rejected", reason: "binding_mismatch" });
    expect(asY.detail).toContain("job-X");
    const { jobId: _none, ...noJob } = request({ origin: "operator", envelope });
    const outside = await h.gate.decide(noJob, h.ctx);
    expect(outside).toMatchObject({ outcome: "rejected", reason: "binding_mismatch" });
    // The job it was signed for runs it; a payload naming no job binds by the action alone.
    const asX = await h.gate.decide(request({ jobId: "job-X", envelope }), h.ctx);
    expect(asX.outcome).toBe("accepted");
    const unnamed = await h.sign();
    const anyJob = await h.gate.decide(request({ jobId: "job-Z", envelope: unnamed }), h.ctx);
    expect(anyJob.outcome).toBe("accepted");
  });

  test("recovery key signing guest.destroy → role_denied", async () => {
    h = new GateHarness();
    const v = await h.gate.decide(request({ envelope: await h.sign({ key: rescue }) }), h.ctx);
    expect(v).toMatchObject({ outcome: "rejected", reason: "role_denied" });
  });

  test("a mutated payload → bad_signature; garbage → malformed", async () => {
    h = new GateHarness();
    const good = await h.sign();
    const other = buildPayload({
      op: "guest.destroy",
      host: HOST,
      guest: { vmid: 101 },
      now: Math.floor(h.clock.now() / 1000),
      ttlSeconds: 600,
    });
    const forged = {
      ...good,
      payload: encodeBase64(new TextEncoder().encode(JSON.stringify(other))),
    };
    const v = await h.gate.decide(request({ envelope: forged }), h.ctx);
    expect(v).toMatchObject({ outcome: "rejected", reason: "bad_signature" });
    const junk = await h.gate.decide(
      request({ envelope: { payload: "!!", signature: "nope" } }),
      h.ctx,
    );
    expect(junk).toMatchObject({ outcome: "rejected", reason: "malformed" });
  });

  test("a rejected signature never names the embedded key's owner as the actor", async () => {
    h = new GateHarness();
    const bytes = new TextEncoder().encode("{}");
    const envelope = await signPayloadBytes(ed, alice, bytes);
    const v = await h.gate.decide(request({ envelope }), h.ctx);
    expect(v).toMatchObject({ outcome: "rejected", reason: "malformed" });
    const row = lastAudit(h);
    expect(row?.actor).toBe("hub");
    expect(JSON.parse(row?.details ?? "{}").key_id).toBeUndefined();
  });
});

describe("provenance", () => {
  test("a hub-supplied scratch tag is ignored: still destructive, held", async () => {
    h = new GateHarness();
    const v = await h.gate.decide(request({ params: { scratch: true } }), h.ctx);
    expect(v.outcome).toBe("pending_signature");
    expect(v.classification.rule).toBe("unknown_params");
    // Signed over the very same params, the unknown parameter is still not benign: it needs
    // the signature, and with one it is accepted like any destructive operation.
    const envelope = await h.sign({ params: { scratch: true }, job: "job-1" });
    const s = await h.gate.decide(request({ params: { scratch: true }, envelope }), h.ctx);
    expect(s.outcome).toBe("accepted");
  });

  test("a snapshot the hub created with a scratch-looking name is not the agent's scratch", async () => {
    h = new GateHarness();
    // The hub's own job journaled a snapshot; no agent provenance was recorded for it.
    const id = h.store.journal.recordIntent({
      op: "guest.snapshot",
      vmid: 101,
      params: { name: "scratch-x" },
      origin: "job",
    });
    h.store.journal.recordTerminal(id, "done");
    const v = await h.gate.decide(
      request({ op: "guest.snapshot.delete", params: { name: "scratch-x" }, jobId: "job-2" }),
      h.ctx,
    );
    expect(v.outcome).toBe("pending_signature");
  });

  test("the agent's own scratch snapshot (journal provenance) may be deleted unsigned", async () => {
    h = new GateHarness();
    const id = h.store.journal.recordIntent({
      op: "guest.snapshot",
      vmid: 101,
      params: { name: "felhom-scratch-1" },
      origin: "operator",
      provenance: agentProvenance({
        created: [{ kind: "snapshot", vmid: 101, name: "felhom-scratch-1" }],
        scratch: true,
      }),
    });
    h.store.journal.recordTerminal(id, "done");
    const del = request({
      op: "guest.snapshot.delete",
      params: { name: "felhom-scratch-1" },
      origin: "operator",
    });
    const v = await h.gate.decide(del, h.ctx);
    expect(v.outcome).toBe("allowed");
    expect(v.classification.provenanceJournalId).toBe(id);
    // On another guest the same name proves nothing.
    const other = await h.gate.decide({ ...del, vmid: 102 }, h.ctx);
    expect(other.outcome).toBe("pending_signature");
    // A rollback to it is still destructive: the data since the snapshot is the customer's.
    const rb = await h.gate.decide(
      { ...del, op: "guest.rollback", params: { name: "felhom-scratch-1" } },
      h.ctx,
    );
    expect(rb.outcome).toBe("pending_signature");
  });

  test("rollback within the same compound operation is benign; from another one it is not", async () => {
    h = new GateHarness();
    const id = h.store.journal.recordIntent({
      op: "guest.snapshot",
      vmid: 101,
      params: { name: "selftest-1" },
      origin: "operator",
      provenance: agentProvenance({
        created: [{ kind: "snapshot", vmid: 101, name: "selftest-1" }],
        txn: "tx-1",
      }),
    });
    h.store.journal.recordTerminal(id, "done");
    const rb = request({
      op: "guest.rollback",
      params: { name: "selftest-1" },
      origin: "operator",
    });
    expect((await h.gate.decide(rb, { ...h.ctx, transaction: "tx-1" })).outcome).toBe("allowed");
    expect((await h.gate.decide(rb, { ...h.ctx, transaction: "tx-2" })).outcome).toBe(
      "pending_signature",
    );
    expect((await h.gate.decide(rb, h.ctx)).outcome).toBe("pending_signature");
  });

  test("a guest's rollback of a snapshot it did not get through the agent is destructive", async () => {
    h = new GateHarness();
    // Journaled without the agent's provenance record: not provably the guest's own.
    const id = h.store.journal.recordIntent({
      op: "guest.snapshot",
      vmid: 101,
      params: { name: "ctl-deploy-1" },
      origin: "localapi",
    });
    h.store.journal.recordTerminal(id, "done");
    const v = await h.gate.decide(
      {
        op: "guest.rollback",
        vmid: 101,
        params: { name: "ctl-deploy-1" },
        origin: "localapi",
        priority: "interactive",
      },
      h.ctx,
    );
    expect(v.outcome).toBe("pending_signature");
    expect(lastAudit(h)?.actor).toBe("guest:101");
  });

  test("a guest may roll back to and delete its own local-API snapshot; the hub may not", async () => {
    h = new GateHarness();
    const id = h.store.journal.recordIntent({
      op: "guest.snapshot",
      vmid: 101,
      params: { name: "ctl-deploy-1" },
      origin: "localapi",
      provenance: agentProvenance({
        created: [{ kind: "snapshot", vmid: 101, name: "ctl-deploy-1" }],
        guestRequest: true,
      }),
    });
    h.store.journal.recordTerminal(id, "done");
    const ask = (op: "guest.rollback" | "guest.snapshot.delete", origin: "localapi" | "job") =>
      h.gate.decide(
        {
          op,
          vmid: 101,
          params: { name: "ctl-deploy-1" },
          origin,
          priority: origin === "job" ? "background" : "interactive",
          ...(origin === "job" ? { jobId: `job-${op}` } : {}),
        },
        h.ctx,
      );
    const own = await ask("guest.rollback", "localapi");
    expect(own.outcome).toBe("allowed");
    expect(own.classification.rule).toBe("guest_own_snapshot");
    expect((await ask("guest.snapshot.delete", "localapi")).outcome).toBe("allowed");
    // The same snapshot named by the hub: a compromised hub must not discard the guest's data.
    expect((await ask("guest.rollback", "job")).outcome).toBe("pending_signature");
  });
});
