import { CanonicalJsonError, canonicalJson } from "../util/canonical-json.ts";
import type { Clock } from "../util/clock.ts";
import type { Ed25519 } from "./ed25519.ts";
import { decodeEnvelope, type GuestRef, type OpPayload, parsePayload } from "./envelope.ts";
import type { OpName } from "./operations.ts";
import { type RejectionReason, SignatureRejection } from "./rejection.ts";
import { roleAllows } from "./roles.ts";
import type { Signer } from "./signers.ts";
import { OP_NAMESPACE, parseArmoredSshsig, SshsigFormatError, verifySshsig } from "./sshsig.ts";

/**
 * Verification of a signed operation. The checks run in this order, and the order is part of
 * the contract:
 *
 *  1. envelope shape and base64                      → malformed
 *  2. SSHSIG parse; its embedded key must be a configured signer (by exact key)
 *                                                    → malformed / unknown_signer
 *     An unknown key is refused before any curve arithmetic, so strangers cannot make the
 *     agent do expensive work, and the embedded key is only ever a lookup hint.
 *  3. ed25519 over the exact payload bytes, namespace felhom.op/v1
 *                                                    → bad_signature
 *  4. only now: payload UTF-8, JSON, schema          → malformed
 *     Bytes nobody trusted never reach the JSON parser or the schema.
 *  5. signer expiry                                  → signer_expired
 *  6. time window (iat/exp with small skew, bounded lifetime)
 *                                                    → not_yet_valid / expired
 *  7. host                                           → wrong_host
 *  8. binding to the action being gated (op, guest, job when signed, canonical params)
 *                                                    → binding_mismatch
 *     A host-level action has no guest; its payload must name none (a payload whose guest
 *     presence contradicts its own op already failed step 4 as malformed).
 *  9. role permits the op                            → role_denied
 * 10. nonce not used before                          → replay
 *     Last, because it asks the store; only an envelope that is otherwise valid reaches it,
 *     and an envelope that is also expired or misbound reports that final reason instead of
 *     a replay. The verifier only *checks* the nonce: the caller consumes it in the same
 *     transaction that journals the execution (docs/architecture.md#signed-operations), which also closes the window
 *     between this check and the execution.
 */

export interface VerifyContext {
  /** This agent's host id (config `host_id`). */
  hostId: string;
  signers: readonly Signer[];
  clock: Clock;
  ed25519: Ed25519;
  /** Allowance for clocks that disagree a little (default 60 s). */
  skewSeconds?: number;
  /** Longest accepted exp − iat (default 900 s); longer-lived envelopes are refused. */
  maxTtlSeconds?: number;
  /** Whether the nonce was already consumed; the caller's store answers. */
  isNonceUsed(nonce: string): boolean | Promise<boolean>;
}

/** The action the gate is about to run; a valid envelope must describe exactly this. */
export interface ExpectedAction {
  op: OpName;
  /** The guest acted on; absent for host-level operations (storage.*, signers.*, agent.*). */
  guest?: GuestRef;
  params: Record<string, unknown>;
  /**
   * The hub job carrying the envelope; absent when none does (local API, operator). A payload
   * that names a job binds to exactly that job, so a signature for job X cannot run as job Y.
   */
  job?: string;
}

export interface Verified {
  ok: true;
  payload: OpPayload;
  signer: Signer;
}

export interface Rejected {
  ok: false;
  rejection: SignatureRejection;
  /** Present once the signature verified and the payload parsed (checks 5–10). */
  payload?: OpPayload;
  /** Present once the key matched a configured signer. */
  signer?: Signer;
}

export type VerifyResult = Verified | Rejected;

export const DEFAULT_SKEW_SECONDS = 60;
export const DEFAULT_MAX_TTL_SECONDS = 900;

/** Full verification for the gate; never throws for bad input. */
export function verifyEnvelope(
  input: unknown,
  ctx: VerifyContext,
  expected: ExpectedAction,
): Promise<VerifyResult> {
  return run(input, ctx, expected);
}

/**
 * Every check except the binding (there is no gated action to compare with), for
 * `op check`. Its answer means "would be accepted for the action it names".
 */
export function inspectEnvelope(input: unknown, ctx: VerifyContext): Promise<VerifyResult> {
  return run(input, ctx, null);
}

async function run(
  input: unknown,
  ctx: VerifyContext,
  expected: ExpectedAction | null,
): Promise<VerifyResult> {
  const reject = (
    reason: RejectionReason,
    detail: string,
    extra: { payload?: OpPayload; signer?: Signer } = {},
  ): Rejected => ({ ok: false, rejection: new SignatureRejection(reason, detail), ...extra });

  const decoded = decodeEnvelope(input);
  if (!decoded.ok) return reject("malformed", decoded.problem);

  let sig: ReturnType<typeof parseArmoredSshsig>;
  try {
    sig = parseArmoredSshsig(decoded.envelope.signature);
  } catch (e) {
    if (e instanceof SshsigFormatError) return reject("malformed", `signature: ${e.message}`);
    throw e;
  }
  const signer = ctx.signers.find((s) => sameBytes(s.publicKey.blob, sig.publicKey.blob));
  if (!signer) {
    return reject("unknown_signer", `key ${sig.publicKey.fingerprint} is not a configured signer`);
  }
  if (sig.namespace !== OP_NAMESPACE) {
    return reject("bad_signature", `namespace '${sig.namespace}' is not ${OP_NAMESPACE}`, {
      signer,
    });
  }
  const good = await verifySshsig(ctx.ed25519, sig, decoded.payloadBytes, OP_NAMESPACE);
  if (!good) {
    return reject("bad_signature", `signature by ${signer.name} does not match the payload`, {
      signer,
    });
  }

  const parsed = parsePayload(decoded.payloadBytes);
  if (!parsed.ok) return reject("malformed", parsed.problem, { signer });
  const payload = parsed.payload;
  const known = { signer, payload };

  const nowMs = ctx.clock.now();
  if (signer.expiresAt !== undefined && nowMs >= signer.expiresAt) {
    return reject(
      "signer_expired",
      `signer ${signer.name} expired at ${new Date(signer.expiresAt).toISOString()}`,
      known,
    );
  }

  const now = Math.floor(nowMs / 1000);
  const skew = ctx.skewSeconds ?? DEFAULT_SKEW_SECONDS;
  const maxTtl = ctx.maxTtlSeconds ?? DEFAULT_MAX_TTL_SECONDS;
  if (payload.iat > now + skew) {
    return reject("not_yet_valid", `issued at ${payload.iat}, now ${now} (skew ${skew} s)`, known);
  }
  if (payload.exp - payload.iat > maxTtl) {
    // A long-lived approval is refused outright rather than trimmed: the operator asked for
    // something the host will not honour, and should learn it now.
    return reject(
      "expired",
      `lifetime ${payload.exp - payload.iat} s exceeds the maximum ${maxTtl} s`,
      known,
    );
  }
  if (now >= payload.exp + skew) {
    return reject("expired", `expired at ${payload.exp}, now ${now} (skew ${skew} s)`, known);
  }

  if (payload.host !== ctx.hostId) {
    return reject(
      "wrong_host",
      `signed for host '${payload.host}', this is '${ctx.hostId}'`,
      known,
    );
  }

  if (expected) {
    const mismatch = bindingMismatch(payload, expected);
    if (mismatch) return reject("binding_mismatch", mismatch, known);
  }

  if (!roleAllows(signer.role, payload.op)) {
    return reject("role_denied", `a ${signer.role} key may not sign ${payload.op}`, known);
  }

  if (await ctx.isNonceUsed(payload.nonce)) {
    return reject("replay", `nonce of job ${payload.job ?? "(none)"} was already used`, known);
  }
  return { ok: true, payload, signer };
}

/** Why the payload does not describe the expected action, or null when it does. */
function bindingMismatch(payload: OpPayload, expected: ExpectedAction): string | null {
  if (payload.op !== expected.op) return `signed op ${payload.op}, action is ${expected.op}`;
  const signed = payload.guest;
  const acting = expected.guest;
  if (signed === undefined || acting === undefined) {
    if (signed !== undefined) return `signed for guest ${signed.vmid}, action is on no guest`;
    if (acting !== undefined) return `signed for no guest, action is on guest ${acting.vmid}`;
  } else {
    if (signed.vmid !== acting.vmid) {
      return `signed for guest ${signed.vmid}, action is on guest ${acting.vmid}`;
    }
    // A signed uid pins one guest incarnation: the same vmid reused by a new guest is another
    // guest. Without a signed uid the vmid alone binds.
    if (signed.uid !== undefined && signed.uid !== acting.uid) {
      return `signed for guest uid ${signed.uid}, action is on ${acting.uid ?? "a guest without uid"}`;
    }
  }
  // An envelope signed for one hub job must not run as another, nor outside any job. A payload
  // without `job` binds by op, guest and params alone.
  if (payload.job !== undefined && payload.job !== expected.job) {
    return `signed for job ${payload.job}, carried by ${expected.job === undefined ? "no job" : `job ${expected.job}`}`;
  }
  let want: string;
  try {
    want = canonicalJson(expected.params);
  } catch (e) {
    if (e instanceof CanonicalJsonError) return `action params are not JSON: ${e.message}`;
    throw e;
  }
  if (canonicalJson(payload.params) !== want) return "signed params differ from the action's";
  return null;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
