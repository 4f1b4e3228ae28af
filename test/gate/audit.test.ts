import { afterEach, expect, test } from "bun:test";
import { GateHarness, request, stranger } from "./support.ts";

let h: GateHarness;
afterEach(() => h?.cleanup());

const SECRET = "hunter2-Correct-Horse-Battery";

test("every decision appends exactly one audit row, and the chain verifies", async () => {
  h = new GateHarness();
  const decisions: string[] = [];
  const run = async (r: ReturnType<typeof request>) => {
    const before = h.store.audit.list().length;
    const v = await h.gate.decide(r, h.ctx);
    expect(h.store.audit.list().length).toBe(before + 1);
    decisions.push(v.outcome === "rejected" ? `rejected:${v.reason}` : v.outcome);
    return v;
  };
  await run(request({ op: "guest.start", origin: "reconcile" }));
  await run(request({ jobId: "j-a" }));
  await run(request({ jobId: "j-b", envelope: await h.sign({ key: stranger }) }));
  const accepted = await run(request({ jobId: "j-c", envelope: await h.sign({ job: "j-c" }) }));
  h.gate.recordIntent(accepted, { op: "guest.destroy", vmid: 101, origin: "job" });
  await run(request({ jobId: "j-c", envelope: await h.sign({ job: "j-c" }), vmid: 102 }));
  expect(decisions).toEqual([
    "allowed",
    "pending_signature",
    "rejected:unknown_signer",
    "accepted",
    "rejected:binding_mismatch",
  ]);
  const verdict = h.store.audit.verifyChain();
  expect(verdict).toEqual({ ok: true, count: 5, headHash: expect.any(String) });
  expect(h.store.audit.list().map((r) => r.outcome)).toEqual(decisions);
});

test("no secret, envelope, signature or nonce ever reaches an audit row", async () => {
  h = new GateHarness();
  const params = { archive: "local:backup/golden.tar.zst", password: SECRET, force: true };
  const envelope = await h.sign({ op: "guest.provision", params, job: "job-9" });
  const payloadText = Buffer.from(envelope.payload, "base64").toString("utf8");
  const nonce = JSON.parse(payloadText).nonce as string;
  const v = await h.gate.decide(
    request({ op: "guest.provision", params, jobId: "job-9", envelope }),
    h.ctx,
  );
  expect(v.outcome).toBe("accepted");
  h.gate.recordIntent(v, { op: "guest.provision", vmid: 101, origin: "job", jobId: "job-9" });
  await h.gate.decide(request({ op: "guest.provision", params, jobId: "job-9", envelope }), h.ctx);
  await h.gate.decide(request({ op: "guest.provision", params, jobId: "job-10" }), h.ctx);
  const signatureBody = envelope.signature
    .split("\n")
    .filter((l) => !l.startsWith("-----"))
    .join("");
  const rows = h.store.audit.list();
  expect(rows.length).toBe(3);
  for (const row of rows) {
    const text = JSON.stringify(row);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(envelope.payload.slice(0, 40));
    expect(text).not.toContain(signatureBody.slice(0, 40));
    expect(text).not.toContain(nonce);
  }
  // What a row does say: which keys, and a hash that ties it to the signed params.
  const details = JSON.parse(rows[0]?.details ?? "{}");
  expect(details.param_keys).toEqual(["archive", "force", "password"]);
  expect(details.params_sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(details.key_id).toBe(v.signed?.signer.keyId);
});
