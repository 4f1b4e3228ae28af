import { describe, expect, test } from "bun:test";
import { encodeBase64 } from "../../src/authz/base64.ts";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import type { Envelope, OpPayload } from "../../src/authz/envelope.ts";
import { HOST_OP_NAMES, isGuestOp, OP_NAMES, type OpName } from "../../src/authz/operations.ts";
import { REJECTION_REASONS, type RejectionReason } from "../../src/authz/rejection.ts";
import { buildPayload, signEnvelope, signPayloadBytes } from "../../src/authz/sign.ts";
import type { Signer } from "../../src/authz/signers.ts";
import type { Ed25519SeedKey } from "../../src/authz/sshsig.ts";
import {
  type ExpectedAction,
  inspectEnvelope,
  type VerifyContext,
  type VerifyResult,
  verifyEnvelope,
} from "../../src/authz/verify.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { fixture, keyFromSeed, operatorKey, signerFor } from "./support.ts";

const ed = createEd25519();
const NOW = 1_800_000_000; // seconds
const HOST = "host-a";

const alice = await keyFromSeed(1, "alice@example");
const rescue = await keyFromSeed(2, "rescue@example");
const stranger = await keyFromSeed(3, "stranger@example");

const signers: Signer[] = [
  signerFor(alice, "alice", "operational"),
  signerFor(rescue, "rescue", "recovery"),
];

function context(over: Partial<VerifyContext> = {}, used: Set<string> = new Set()): VerifyContext {
  return {
    hostId: HOST,
    signers,
    clock: new ManualClock(NOW * 1000),
    ed25519: ed,
    skewSeconds: 60,
    maxTtlSeconds: 900,
    isNonceUsed: (n) => used.has(n),
    ...over,
  };
}

// Each carried by the hub job its payload names (a signed job binds, like op, guest and params).
const destroy101: ExpectedAction = {
  op: "guest.destroy",
  guest: { vmid: 101 },
  params: {},
  job: "job-1",
};
const removeUsb1: ExpectedAction = {
  op: "storage.remove",
  params: { storage: "usb1" },
  job: "job-h",
};

/** A host-level payload: no guest (docs/architecture.md#signed-operations). */
function hostPayload(op: OpName, params: Record<string, unknown> = {}): OpPayload {
  return buildPayload({ op, host: HOST, params, now: NOW, ttlSeconds: 600, job: "job-h" });
}

function payload(over: Partial<OpPayload> = {}): OpPayload {
  return {
    ...buildPayload({
      op: "guest.destroy",
      host: HOST,
      guest: { vmid: 101 },
      now: NOW,
      ttlSeconds: 600,
      job: "job-1",
    }),
    ...over,
  };
}

async function envelope(key: Ed25519SeedKey = alice, p: OpPayload = payload()) {
  return signEnvelope(ed, key, p);
}

function reason(r: VerifyResult): RejectionReason | "accepted" {
  return r.ok ? "accepted" : r.rejection.reason;
}

describe("verifyEnvelope accepts", () => {
  test("a fresh, bound, role-permitted envelope, and names the signer", async () => {
    const r = await verifyEnvelope(await envelope(), context(), destroy101);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.signer.name).toBe("alice");
    expect(r.signer.keyId).toBe(alice.publicKey.fingerprint);
    expect(r.payload.op).toBe("guest.destroy");
    expect(r.payload.job).toBe("job-1");
  });

  test("an envelope whose signature ssh-keygen made", async () => {
    const op = operatorKey();
    const env: Envelope = {
      payload: encodeBase64(new TextEncoder().encode(fixture("payload.op"))),
      signature: fixture("payload.op.sig"),
    };
    const ctx = context({
      clock: new ManualClock(1_700_000_100_000),
      signers: [signerFor(op, "operator")],
    });
    expect(reason(await verifyEnvelope(env, ctx, destroy101))).toBe("accepted");
  });

  test("params in another key order (canonical comparison)", async () => {
    const p = payload({
      op: "guest.config",
      params: { cores: 2, memory: 2048, net: { a: 1, b: 2 } },
    });
    const r = await verifyEnvelope(await envelope(alice, p), context(), {
      op: "guest.config",
      guest: { vmid: 101 },
      params: { net: { b: 2, a: 1 }, memory: 2048, cores: 2 },
      job: "job-1",
    });
    expect(reason(r)).toBe("accepted");
  });

  test("iat up to the skew in the future, and exp up to the skew in the past", async () => {
    const early = payload({ iat: NOW + 60, exp: NOW + 600 });
    expect(reason(await verifyEnvelope(await envelope(alice, early), context(), destroy101))).toBe(
      "accepted",
    );
    const late = payload({ iat: NOW - 600, exp: NOW - 59 });
    expect(reason(await verifyEnvelope(await envelope(alice, late), context(), destroy101))).toBe(
      "accepted",
    );
  });

  test("recovery and operational keys may both sign key rotation (a host-level op)", async () => {
    const rotate: ExpectedAction = { op: "signers.rotate", params: {}, job: "job-h" };
    for (const key of [alice, rescue]) {
      const env = await envelope(key, hostPayload("signers.rotate"));
      const r = await verifyEnvelope(env, context(), rotate);
      expect(reason(r)).toBe("accepted");
      if (r.ok) expect(r.payload.guest).toBeUndefined();
    }
  });

  test("a host-level op with its params and no guest", async () => {
    const p = hostPayload("storage.remove", { storage: "usb1" });
    const r = await verifyEnvelope(await envelope(alice, p), context(), removeUsb1);
    expect(reason(r)).toBe("accepted");
    if (r.ok) expect(r.payload).not.toHaveProperty("guest");
  });

  test("a signed uid must match, an unsigned one is not required", async () => {
    const withUid = payload({ guest: { vmid: 101, uid: "g-7" } });
    const action = { ...destroy101, guest: { vmid: 101, uid: "g-7" } };
    expect(reason(await verifyEnvelope(await envelope(alice, withUid), context(), action))).toBe(
      "accepted",
    );
    expect(reason(await verifyEnvelope(await envelope(), context(), action))).toBe("accepted");
  });
});

describe("verifyEnvelope rejects, each with its typed reason", () => {
  test.each([
    ["not an object", "payload"],
    ["null", null],
    ["missing signature", { payload: "e30=" }],
    ["an unknown key", { payload: "e30=", signature: "x", extra: 1 }],
    ["payload not base64", { payload: "%%%", signature: "x" }],
    ["payload with non-canonical base64", { payload: "e31=", signature: "x" }],
    ["payload too large", { payload: "A".repeat(40_000), signature: "x" }],
    ["signature not armored", { payload: "e30=", signature: "hello" }],
  ])("malformed envelope: %s", async (_, input) => {
    const r = await verifyEnvelope(input, context(), destroy101);
    expect(reason(r)).toBe("malformed");
  });

  test("unknown_signer: a key that is not configured, before the payload is looked at", async () => {
    const env = await signPayloadBytes(ed, stranger, new TextEncoder().encode("not json"));
    const r = await verifyEnvelope(env, context(), destroy101);
    expect(reason(r)).toBe("unknown_signer");
    if (!r.ok) expect(r.rejection.detail).toContain(stranger.publicKey.fingerprint);
  });

  test("bad_signature: payload swapped under a valid signature", async () => {
    const a = await envelope();
    const b = await envelope(alice, payload({ guest: { vmid: 102 } }));
    const r = await verifyEnvelope(
      { payload: b.payload, signature: a.signature },
      context(),
      destroy101,
    );
    expect(reason(r)).toBe("bad_signature");
  });

  test("bad_signature: a configured key's signature in another namespace (git)", async () => {
    const env: Envelope = {
      payload: encodeBase64(new TextEncoder().encode(fixture("payload.op"))),
      signature: fixture("payload.op.git-namespace.sig"),
    };
    const ctx = context({ signers: [signerFor(operatorKey(), "operator")] });
    const r = await verifyEnvelope(env, ctx, destroy101);
    expect(reason(r)).toBe("bad_signature");
  });

  test.each([
    ["not JSON", "destroy everything"],
    ["invalid UTF-8", "\xff\xfe"],
    ["a JSON array", "[]"],
    ["an unknown op", JSON.stringify({ ...payload(), op: "guest.explode" })],
    ["version 2", JSON.stringify({ ...payload(), v: 2 })],
    ["a short nonce", JSON.stringify({ ...payload(), nonce: "abcd" })],
    ["exp before iat", JSON.stringify({ ...payload(), exp: NOW - 10, iat: NOW })],
    ["an unknown field", JSON.stringify({ ...payload(), scratch: true })],
    ["vmid as a string", JSON.stringify({ ...payload(), guest: { vmid: "101" } })],
    ["a guest op without a guest", JSON.stringify({ ...payload(), guest: undefined })],
    ["a guest op with guest null", JSON.stringify({ ...payload(), guest: null })],
    [
      "a host-level op naming a guest",
      JSON.stringify({ ...hostPayload("storage.remove"), guest: { vmid: 101 } }),
    ],
    [
      "signers.rotate naming a guest",
      JSON.stringify({ ...hostPayload("signers.rotate"), guest: { vmid: 101 } }),
    ],
    [
      "a __proto__ member in params",
      JSON.stringify({ ...payload(), params: {} }).replace(
        '"params":{}',
        '"params":{"__proto__":{"purge":1}}',
      ),
    ],
  ])("malformed payload under a good signature: %s", async (_, text) => {
    const bytes =
      text === "\xff\xfe" ? new Uint8Array([0xff, 0xfe]) : new TextEncoder().encode(text);
    const r = await verifyEnvelope(await signPayloadBytes(ed, alice, bytes), context(), destroy101);
    expect(reason(r)).toBe("malformed");
    if (!r.ok) expect(r.signer?.name).toBe("alice");
  });

  test("signer_expired: the signer's configured expiry has passed", async () => {
    const ctx = context({ signers: [signerFor(alice, "alice", "operational", NOW * 1000)] });
    expect(reason(await verifyEnvelope(await envelope(), ctx, destroy101))).toBe("signer_expired");
    const later = context({ signers: [signerFor(alice, "alice", "operational", NOW * 1000 + 1)] });
    expect(reason(await verifyEnvelope(await envelope(), later, destroy101))).toBe("accepted");
  });

  test("expired: past exp beyond the skew", async () => {
    const p = payload({ iat: NOW - 700, exp: NOW - 60 });
    expect(reason(await verifyEnvelope(await envelope(alice, p), context(), destroy101))).toBe(
      "expired",
    );
  });

  test("expired: a lifetime longer than the maximum is refused outright", async () => {
    const p = payload({ iat: NOW, exp: NOW + 901 });
    const r = await verifyEnvelope(await envelope(alice, p), context(), destroy101);
    expect(reason(r)).toBe("expired");
    if (!r.ok) expect(r.rejection.detail).toContain("exceeds the maximum 900");
  });

  test("not_yet_valid: issued further in the future than the skew", async () => {
    const p = payload({ iat: NOW + 61, exp: NOW + 600 });
    expect(reason(await verifyEnvelope(await envelope(alice, p), context(), destroy101))).toBe(
      "not_yet_valid",
    );
  });

  test("wrong_host: signed for another host", async () => {
    const p = payload({ host: "host-b" });
    expect(reason(await verifyEnvelope(await envelope(alice, p), context(), destroy101))).toBe(
      "wrong_host",
    );
  });

  test.each([
    ["op", {}, { ...destroy101, op: "guest.rollback" }],
    ["vmid", {}, { ...destroy101, guest: { vmid: 102 } }],
    ["params added", {}, { ...destroy101, params: { purge: 1 } }],
    ["a param's JSON type", { params: { purge: 1 } }, { ...destroy101, params: { purge: "1" } }],
    ["the carrying job", {}, { ...destroy101, job: "job-2" }],
    ["the job (carried by none)", {}, { op: "guest.destroy", guest: { vmid: 101 }, params: {} }],
  ] as [string, Partial<OpPayload>, ExpectedAction][])(
    "binding_mismatch: %s differs",
    async (_, signed, action) => {
      const env = await envelope(alice, payload(signed));
      expect(reason(await verifyEnvelope(env, context(), action))).toBe("binding_mismatch");
    },
  );

  test.each([
    ["a guest where none was signed", { ...removeUsb1, guest: { vmid: 101 } }],
    ["another host-level op", { ...removeUsb1, op: "storage.add" }],
    ["other params", { ...removeUsb1, params: { storage: "local" } }],
    ["no params", { ...removeUsb1, params: {} }],
  ] as [string, ExpectedAction][])("binding_mismatch, host-level: %s", async (_, action) => {
    const env = await envelope(alice, hostPayload("storage.remove", { storage: "usb1" }));
    const r = await verifyEnvelope(env, context(), action);
    expect(reason(r)).toBe("binding_mismatch");
  });

  test("binding_mismatch: a guest signature on an action that names no guest", async () => {
    const r = await verifyEnvelope(await envelope(), context(), {
      op: "guest.destroy",
      params: {},
    });
    expect(reason(r)).toBe("binding_mismatch");
    if (!r.ok) expect(r.rejection.detail).toBe("signed for guest 101, action is on no guest");
  });

  test("binding_mismatch: a signed uid on a guest with another uid (vmid reused)", async () => {
    const p = payload({ guest: { vmid: 101, uid: "g-old" } });
    const action = { ...destroy101, guest: { vmid: 101, uid: "g-new" } };
    expect(reason(await verifyEnvelope(await envelope(alice, p), context(), action))).toBe(
      "binding_mismatch",
    );
  });

  test("binding_mismatch: action params that are not JSON never match", async () => {
    const action = { ...destroy101, params: { when: Number.NaN } };
    expect(reason(await verifyEnvelope(await envelope(), context(), action))).toBe(
      "binding_mismatch",
    );
  });

  test("role_denied: a recovery key on an ordinary destructive op", async () => {
    const r = await verifyEnvelope(await envelope(rescue), context(), destroy101);
    expect(reason(r)).toBe("role_denied");
    if (!r.ok) expect(r.signer?.role).toBe("recovery");
  });

  test.each(["storage.add", "storage.remove", "agent.update"] as const)(
    "role_denied: a recovery key on host-level %s",
    async (op) => {
      const env = await envelope(rescue, hostPayload(op));
      expect(reason(await verifyEnvelope(env, context(), { op, params: {}, job: "job-h" }))).toBe(
        "role_denied",
      );
    },
  );

  test("replay: the nonce was already consumed", async () => {
    const env = await envelope();
    const used = new Set<string>();
    expect(reason(await verifyEnvelope(env, context({}, used), destroy101))).toBe("accepted");
    const first = await verifyEnvelope(env, context({}, used), destroy101);
    if (first.ok) used.add(first.payload.nonce);
    expect(reason(await verifyEnvelope(env, context({}, used), destroy101))).toBe("replay");
  });

  test("every reason is covered by this suite", () => {
    expect(REJECTION_REASONS).toHaveLength(10);
  });
});

describe("verification order", () => {
  test("an expired envelope for another host reports expired (time before host)", async () => {
    const p = payload({ host: "host-b", iat: NOW - 2000, exp: NOW - 1500 });
    expect(reason(await verifyEnvelope(await envelope(alice, p), context(), destroy101))).toBe(
      "expired",
    );
  });

  test("a recovery key's misbound envelope reports binding_mismatch (binding before role)", async () => {
    const r = await verifyEnvelope(await envelope(rescue), context(), {
      ...destroy101,
      guest: { vmid: 999 },
    });
    expect(reason(r)).toBe("binding_mismatch");
  });

  test("the nonce store is asked only for otherwise valid envelopes", async () => {
    const asked: string[] = [];
    const ctx = context({
      isNonceUsed: (n) => {
        asked.push(n);
        return true;
      },
    });
    for (const env of [
      await envelope(alice, payload({ host: "host-b" })),
      await envelope(rescue),
      await envelope(stranger),
    ]) {
      expect(reason(await verifyEnvelope(env, ctx, destroy101))).not.toBe("replay");
    }
    expect(asked).toEqual([]);
    expect(reason(await verifyEnvelope(await envelope(), ctx, destroy101))).toBe("replay");
    expect(asked).toHaveLength(1);
  });

  test("an unknown signer with a bad signature reports unknown_signer (no curve work)", async () => {
    const a = await envelope(stranger);
    const b = await envelope(stranger, payload({ guest: { vmid: 5000 } }));
    const r = await verifyEnvelope(
      { payload: b.payload, signature: a.signature },
      context(),
      destroy101,
    );
    expect(reason(r)).toBe("unknown_signer");
  });
});

describe("inspectEnvelope", () => {
  test("checks everything but the binding, and still refuses a used nonce", async () => {
    const env = await envelope(alice, payload({ guest: { vmid: 4242 } }));
    expect(reason(await inspectEnvelope(env, context()))).toBe("accepted");
    const p = (await inspectEnvelope(env, context())) as { payload: OpPayload };
    expect(reason(await inspectEnvelope(env, context({}, new Set([p.payload.nonce]))))).toBe(
      "replay",
    );
    expect(reason(await inspectEnvelope(await envelope(rescue), context()))).toBe("role_denied");
  });

  test("host-level envelopes inspect like guest ones", async () => {
    const env = await envelope(alice, hostPayload("storage.remove", { storage: "usb1" }));
    const r = await inspectEnvelope(env, context());
    expect(reason(r)).toBe("accepted");
    if (r.ok)
      expect(r.payload).toMatchObject({ op: "storage.remove", params: { storage: "usb1" } });
    const rotate = await envelope(rescue, hostPayload("signers.rotate"));
    expect(reason(await inspectEnvelope(rotate, context()))).toBe("accepted");
    const update = await envelope(rescue, hostPayload("agent.update"));
    expect(reason(await inspectEnvelope(update, context()))).toBe("role_denied");
  });
});

describe("buildPayload: guest exactly for guest.* operations", () => {
  test.each(OP_NAMES.map((op) => [op, isGuestOp(op)] as const))(
    "%s (guest op: %p)",
    (op, guestOp) => {
      const build = (guest?: { vmid: number }) =>
        buildPayload({
          op,
          host: HOST,
          ...(guest ? { guest } : {}),
          now: NOW,
          ttlSeconds: 60,
        });
      if (guestOp) {
        expect(build({ vmid: 101 }).guest).toEqual({ vmid: 101 });
        expect(() => build()).toThrow("a guest.* operation must name its guest");
      } else {
        expect(build()).not.toHaveProperty("guest");
        expect(() => build({ vmid: 101 })).toThrow("a host-level operation must not name a guest");
      }
    },
  );

  test("the host-level operations are the non-guest nouns of the vocabulary", () => {
    expect([...HOST_OP_NAMES].sort()).toEqual([
      "agent.update",
      "backup.policy",
      "golden.register",
      "signers.rotate",
      "storage.add",
      "storage.remove",
      "tunnel.configure",
    ]);
  });
});
