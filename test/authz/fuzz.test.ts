import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decodeBase64Strict, encodeBase64 } from "../../src/authz/base64.ts";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import type { Envelope } from "../../src/authz/envelope.ts";
import { isGuestOp, OP_NAMES } from "../../src/authz/operations.ts";
import type { RejectionReason } from "../../src/authz/rejection.ts";
import { buildPayload, signEnvelope, signPayloadBytes } from "../../src/authz/sign.ts";
import { encodeSshsigBlob, parseArmoredSshsig } from "../../src/authz/sshsig.ts";
import {
  type ExpectedAction,
  inspectEnvelope,
  type VerifyContext,
  verifyEnvelope,
} from "../../src/authz/verify.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { keyFromSeed, signerFor } from "./support.ts";

const NOW = 1_800_000_000;
const ed = createEd25519();
const alice = await keyFromSeed(9, "alice");
const ctx: VerifyContext = {
  hostId: "host-a",
  signers: [signerFor(alice, "alice")],
  clock: new ManualClock(NOW * 1000),
  ed25519: ed,
  isNonceUsed: () => false,
};
const action: ExpectedAction = { op: "guest.destroy", guest: { vmid: 101 }, params: { purge: 1 } };
const valid: Envelope = await signEnvelope(
  ed,
  alice,
  buildPayload({ ...action, host: "host-a", now: NOW, ttlSeconds: 300 }),
);
const payloadBytes = decodeBase64Strict(valid.payload) as Uint8Array;
const sigBlob = encodeSshsigBlob(parseArmoredSshsig(valid.signature));

function armor(blob: Uint8Array): string {
  const b64 = encodeBase64(blob).match(/.{1,70}/g) ?? [];
  return ["-----BEGIN SSH SIGNATURE-----", ...b64, "-----END SSH SIGNATURE-----", ""].join("\n");
}

/** One edit to a byte string: flip bits, insert, delete, or truncate. */
const mutation = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
);

type Mutation =
  | { kind: "flip"; at: number; mask: number }
  | { kind: "insert"; at: number; byte: number }
  | { kind: "delete"; at: number }
  | { kind: "truncate"; at: number };

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = m.at % (bytes.length + (m.kind === "insert" ? 1 : 0));
  const out = [...bytes];
  if (m.kind === "flip") out[at] = (out[at] as number) ^ m.mask;
  else if (m.kind === "insert") out.splice(at, 0, m.byte);
  else if (m.kind === "delete") out.splice(at, 1);
  else out.length = at;
  return Uint8Array.from(out);
}

async function reasonOf(input: unknown): Promise<RejectionReason | "accepted"> {
  const r = await verifyEnvelope(input, ctx, action);
  return r.ok ? "accepted" : r.rejection.reason;
}

describe("envelope fuzzing", () => {
  test("the unmutated envelope is accepted (the properties below start from a valid one)", async () => {
    expect(await reasonOf(valid)).toBe("accepted");
  });

  test("any edit of the payload bytes → bad_signature or malformed, never accepted", async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const changed = mutate(payloadBytes, m);
        const reason = await reasonOf({ ...valid, payload: encodeBase64(changed) });
        expect(["bad_signature", "malformed"]).toContain(reason);
      }),
      { numRuns: 300 },
    );
  });

  test("any edit of the SSHSIG blob → malformed, bad_signature or unknown_signer", async () => {
    // An edit inside the embedded public key makes it another key, hence unknown_signer.
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const reason = await reasonOf({ ...valid, signature: armor(mutate(sigBlob, m)) });
        expect(["malformed", "bad_signature", "unknown_signer"]).toContain(reason);
      }),
      { numRuns: 300 },
    );
  });

  test("any edit of the envelope's text fields is never accepted", async () => {
    const field = fc.constantFrom("payload" as const, "signature" as const);
    await fc.assert(
      fc.asyncProperty(
        field,
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 1 }),
        async (f, at, ch) => {
          const text = valid[f];
          const i = at % text.length;
          if (text[i] === ch) return;
          const changed = { ...valid, [f]: text.slice(0, i) + ch + text.slice(i + 1) };
          const reason = await reasonOf(changed);
          // A changed newline inside the armor can still decode to the same blob; anything
          // else must be refused.
          if (reason === "accepted") {
            expect(changed.signature.replace(/\s+/g, "")).toBe(valid.signature.replace(/\s+/g, ""));
            expect(changed.payload).toBe(valid.payload);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a signed payload with or without a guest, for any op: valid exactly when guest ⇔ guest.*", async () => {
    const guest = fc.option(fc.record({ vmid: fc.integer({ min: 100, max: 999_999_999 }) }), {
      nil: undefined,
    });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...OP_NAMES), guest, async (op, g) => {
        const base = buildPayload({
          op: "agent.update",
          host: "host-a",
          now: NOW,
          ttlSeconds: 300,
        });
        const body = { ...base, op, ...(g === undefined ? {} : { guest: g }) };
        const env = await signPayloadBytes(
          ed,
          alice,
          new TextEncoder().encode(JSON.stringify(body)),
        );
        const r = await inspectEnvelope(env, ctx);
        const reason = r.ok ? "accepted" : r.rejection.reason;
        expect(reason).toBe((g !== undefined) === isGuestOp(op) ? "accepted" : "malformed");
      }),
      { numRuns: 100 },
    );
  });

  test("random values and junk envelopes never throw, only reject", async () => {
    const junkArmor = fc.uint8Array({ maxLength: 200 }).map((b) => armor(b));
    const nearSshsig = fc.uint8Array({ maxLength: 120 }).map((b) => {
      const head = new TextEncoder().encode("SSHSIG\0\0\0\x01");
      const out = new Uint8Array(head.length + b.length);
      out.set(head);
      out.set(b, head.length);
      return armor(out);
    });
    const input = fc.oneof(
      fc.anything(),
      fc.record({ payload: fc.string(), signature: fc.string() }),
      fc.record({ payload: fc.base64String(), signature: fc.oneof(junkArmor, nearSshsig) }),
      fc.record({
        payload: fc.base64String(),
        signature: fc.constant(valid.signature),
      }),
    );
    await fc.assert(
      fc.asyncProperty(input, async (value) => {
        const r = await verifyEnvelope(value, ctx, action);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
