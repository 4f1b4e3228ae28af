import { afterEach, describe, expect, test } from "bun:test";
import { PendingOperationError } from "../../src/gate/gate.ts";
import { GateHarness, request, rescue } from "./support.ts";

let h: GateHarness;
afterEach(() => h?.cleanup());

const intentOf = (r: ReturnType<typeof request>) => ({
  op: r.op,
  vmid: r.vmid ?? null,
  params: r.params,
  origin: r.origin,
  ...(r.jobId === undefined ? {} : { jobId: r.jobId }),
});

describe("pending_signature, then a later signed envelope", () => {
  test("releasePending verifies against the held action and hands back the request to run", async () => {
    h = new GateHarness();
    const held = await h.gate.decide(request(), h.ctx);
    const id = held.pendingId as string;
    h.clock.advance(3_600_000); // signed an hour later
    const envelope = await h.sign({ job: "job-1" });
    const { verdict, request: toRun } = await h.gate.releasePending(id, envelope);
    expect(verdict.outcome).toBe("accepted");
    expect(verdict.signed?.releasePendingId).toBe(id);
    expect(toRun).toMatchObject({ op: "guest.destroy", vmid: 101, jobId: "job-1", envelope });
    // Submitted, the request is decided again and linked to the held row by its job id.
    const decided = await h.gate.decide(toRun as NonNullable<typeof toRun>, h.ctx);
    expect(decided.outcome).toBe("accepted");
    expect(decided.signed?.releasePendingId).toBe(id);
    const r = h.gate.recordIntent(decided, intentOf(toRun as NonNullable<typeof toRun>));
    expect(r.ok).toBe(true);
    const row = h.store.pending.byId(id);
    expect(row?.status).toBe("released");
    expect(row?.journalId).toBe(r.ok ? r.journalId : -1);
    // Released once: the same envelope again is a replay, and the row cannot be released twice.
    await expect(h.gate.releasePending(id, envelope)).rejects.toBeInstanceOf(PendingOperationError);
    const again = await h.gate.decide(toRun as NonNullable<typeof toRun>, h.ctx);
    expect(again).toMatchObject({ outcome: "rejected", reason: "replay" });
  });

  test("the hub re-delivering the held job with an envelope releases it", async () => {
    h = new GateHarness();
    const held = await h.gate.decide(request(), h.ctx);
    const envelope = await h.sign({ job: "job-1" });
    const v = await h.gate.decide(request({ envelope }), h.ctx);
    expect(v.outcome).toBe("accepted");
    expect(v.signed?.releasePendingId).toBe(held.pendingId as string);
    h.gate.recordIntent(v, intentOf(request()));
    expect(h.store.pending.byId(held.pendingId as string)?.status).toBe("released");
  });

  test("a held local-API operation is released by a signature over the identical action", async () => {
    h = new GateHarness();
    const req = request({
      op: "guest.rollback",
      params: { name: "ctl-deploy-1" },
      origin: "localapi",
      jobId: undefined,
    });
    delete req.jobId;
    const held = await h.gate.decide(req, h.ctx);
    expect(held.outcome).toBe("pending_signature");
    const envelope = await h.sign({ op: "guest.rollback", params: { name: "ctl-deploy-1" } });
    const { verdict, request: toRun } = await h.gate.releasePending(
      held.pendingId as string,
      envelope,
    );
    expect(verdict.outcome).toBe("accepted");
    expect(toRun?.origin).toBe("localapi");
    const decided = await h.gate.decide(toRun as NonNullable<typeof toRun>, h.ctx);
    expect(decided.signed?.releasePendingId).toBe(held.pendingId as string);
  });

  test("a failing envelope leaves the operation held, and a later good one still releases it", async () => {
    h = new GateHarness();
    const held = await h.gate.decide(request(), h.ctx);
    const id = held.pendingId as string;
    const bad = await h.gate.releasePending(id, await h.sign({ key: rescue }));
    expect(bad.verdict).toMatchObject({ outcome: "rejected", reason: "role_denied" });
    expect(bad.request).toBeUndefined();
    const wrongGuest = await h.gate.releasePending(id, await h.sign({ vmid: 102 }));
    expect(wrongGuest.verdict).toMatchObject({ outcome: "rejected", reason: "binding_mismatch" });
    expect(h.store.pending.byId(id)?.status).toBe("pending");
    const good = await h.gate.releasePending(id, await h.sign({ job: "job-1" }));
    expect(good.verdict.outcome).toBe("accepted");
  });

  test("a held job re-delivered with other params is refused, whatever the signature says", async () => {
    h = new GateHarness();
    await h.gate.decide(request({ op: "guest.snapshot.delete", params: { name: "a1" } }), h.ctx);
    const envelope = await h.sign({ op: "guest.snapshot.delete", params: { name: "b2" } });
    const v = await h.gate.decide(
      request({ op: "guest.snapshot.delete", params: { name: "b2" }, envelope }),
      h.ctx,
    );
    expect(v).toMatchObject({ outcome: "rejected", reason: "binding_mismatch" });
    expect(v.detail).toContain("held");
  });

  test("unknown or finished held operations are refused with a typed error, changing nothing", async () => {
    h = new GateHarness();
    const envelope = await h.sign();
    const missing = await h.gate.releasePending("po-0000000000000000", envelope).catch((e) => e);
    expect(missing).toBeInstanceOf(PendingOperationError);
    expect((missing as PendingOperationError).kind).toBe("not_found");
    const held = await h.gate.decide(request(), h.ctx);
    h.gate.declinePending(held.pendingId as string, "operator", "not wanted");
    const declined = await h.gate
      .releasePending(held.pendingId as string, envelope)
      .catch((e) => e);
    expect((declined as PendingOperationError).kind).toBe("not_pending");
    expect(h.store.pending.byId(held.pendingId as string)?.status).toBe("rejected");
  });

  test("held operations nobody signed expire, and that is audited", async () => {
    h = new GateHarness();
    await h.gate.decide(request(), h.ctx);
    h.clock.advance(8 * 86_400_000);
    expect(h.gate.expirePending(7 * 86_400_000)).toBe(1);
    expect(h.store.pending.list({ status: "expired" })).toHaveLength(1);
    const rows = h.store.audit.list();
    expect(rows[rows.length - 1]).toMatchObject({ action: "gate.expire", outcome: "expired" });
  });
});
