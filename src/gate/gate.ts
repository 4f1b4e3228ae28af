import { createHash } from "node:crypto";
import type { Ed25519 } from "../authz/ed25519.ts";
import type { GuestRef } from "../authz/envelope.ts";
import { SignatureRejection } from "../authz/rejection.ts";
import { rotationRefusal } from "../authz/rotation.ts";
import type { Signer } from "../authz/signers.ts";
import { type ExpectedAction, type VerifyResult, verifyEnvelope } from "../authz/verify.ts";
import type { Logger } from "../log/types.ts";
import { signersRotateParams } from "../ops/params/signers-rotate.ts";
import { isOpName, type OperationRequest } from "../ops/types.ts";
import type { AuditInput } from "../store/audit.ts";
import type { IntentInput } from "../store/journal.ts";
import type { HoldInput, PendingOp } from "../store/pending.ts";
import type { SignedIntentInput, SignedIntentResult } from "../store/signed-intent.ts";
import { canonicalJson } from "../util/canonical-json.ts";
import type { Clock } from "../util/clock.ts";
import { requestActor, signerActor, targetOf } from "./actor.ts";
import {
  type ActionFacts,
  type Classification,
  classify,
  DEFAULT_MAX_GROW_GIB,
  DEFAULT_PROVISION_BRIDGES,
  type GrowBound,
} from "./classify.ts";
import { provenanceFacts } from "./provenance.ts";
import type { Gate, GateContext, GateDecision } from "./seam.ts";

/** The audit `action` of decisions about held operations that are not the operation itself. */
export const GATE_AUDIT_ACTIONS = {
  decline: "gate.decline",
  expire: "gate.expire",
} as const;

/**
 * What the engine passes besides the journal. `transaction` is the id of the compound
 * operation the request is a step of; the engine sets it only for compound operations it runs
 * itself (never from a request field), and the gate then treats objects whose journal
 * provenance carries the same id as made within this operation.
 */
export interface GateCallContext extends GateContext {
  transaction?: string;
}

/** A destructive operation the gate accepted on a signature; the engine journals it with this. */
export interface SignedApproval {
  nonce: string;
  /** ms since the epoch: the envelope's `exp`; after it (plus skew) the nonce may be pruned. */
  expiresAt: number;
  signer: { name: string; keyId: string; role: Signer["role"] };
  job?: string;
  /** The held `pending_signature` operation this signature releases. */
  releasePendingId?: string;
}

export interface GateVerdict extends GateDecision {
  classification: Classification;
  /** For `rejected`: the verifier's detail (names fields, never key material). */
  detail?: string;
  /** For `accepted`: what `recordIntent` needs to consume the nonce with the journal write. */
  signed?: SignedApproval;
}

/** The parts of the store the gate uses (src/store Store satisfies it). */
export interface GateStore {
  nonces: { isConsumed(nonce: string): boolean };
  pending: {
    hold(input: HoldInput): { op: PendingOp; created: boolean };
    byId(id: string): PendingOp | undefined;
    byJob(jobId: string): PendingOp | undefined;
    list(options?: { status?: PendingOp["status"]; limit?: number }): PendingOp[];
    reject(id: string, resolution: string): PendingOp;
    expireOlderThan(olderThan: number, resolution?: string): number;
  };
  audit: { append(input: AuditInput): unknown };
  journal: { recordIntent(input: IntentInput): number };
  recordSignedIntent(input: SignedIntentInput): SignedIntentResult;
}

export interface GateOptions {
  store: GateStore;
  /** This agent's host id (config `host_id`, or the enrolled identity's); absent = none yet. */
  hostId: string | undefined;
  /**
   * The signers in force: a fixed list, or a function read at every verification, so a
   * `signers.rotate` takes effect for the next envelope without a restart.
   */
  signers: readonly Signer[] | (() => readonly Signer[]);
  /**
   * The configured signers, a floor no rotation removes (docs/architecture.md#operator-key-rotation);
   * part of `signers` too. Default none.
   */
  configuredSigners?: readonly Signer[];
  clock: Clock;
  ed25519: Ed25519;
  skewSeconds?: number;
  maxTtlSeconds?: number;
  /** One unsigned grow adds at most this many GiB when the guest has no max_disk_gib. */
  maxGrowGiB?: number;
  /** Bridges a new guest may join without a signature. */
  provisionBridges?: readonly string[];
  /** The agent-assigned uid of a guest, when the agent keeps one; binds signed uids. */
  guestUid?: (vmid: number) => string | undefined;
  logger?: Logger;
}

export type PendingErrorKind = "not_found" | "not_pending" | "not_an_operation";

/** A release or decline named a held operation that cannot take it; nothing changed. */
export class PendingOperationError extends Error {
  override readonly name = "PendingOperationError";
  constructor(
    readonly kind: PendingErrorKind,
    readonly pendingId: string,
    detail: string,
  ) {
    super(`held operation ${pendingId}: ${detail}`);
  }
}

/** The engine asked to journal a decision that does not permit execution. */
export class GateRefusalError extends Error {
  override readonly name = "GateRefusalError";
  constructor(readonly outcome: GateDecision["outcome"]) {
    super(`a '${outcome}' decision does not permit execution`);
  }
}

export interface ReleaseResult {
  verdict: GateVerdict;
  /** For `accepted`: the held operation as a request carrying the envelope, to submit. */
  request?: OperationRequest;
}

interface Held {
  row: PendingOp;
  /** The signature's action must equal the held one. */
  sameAction: boolean;
}

function paramsHash(params: unknown): string | undefined {
  try {
    return createHash("sha256").update(canonicalJson(params), "utf8").digest("hex");
  } catch {
    return undefined;
  }
}

function sameActionAs(row: PendingOp, req: OperationRequest): boolean {
  if (row.op !== req.op || row.vmid !== (req.vmid ?? null)) return false;
  try {
    return canonicalJson(req.params) === row.paramsJson;
  } catch {
    return false;
  }
}

/**
 * The reversibility gate (docs/architecture.md#destructive-needs-a-signature, docs/architecture.md#signed-operations): benign operations are `allowed`; a destructive
 * one is `accepted` only on a valid, role-permitted signature bound to exactly this action
 * (the expected action is built from the request, never from the envelope), is held as
 * `pending_signature` when unsigned, and is `rejected:<reason>` when its signature fails.
 * Every decision is appended to the audit log before it is returned.
 *
 * Accepting does not consume the nonce: `recordIntent` does, in the same transaction that
 * journals the execution, so a crash cannot burn a nonce without a record nor leave a record
 * whose nonce can be replayed.
 */
export class ReversibilityGate implements Gate {
  constructor(private readonly o: GateOptions) {}

  classify(req: OperationRequest, ctx: GateCallContext): Classification {
    return classify(req, this.facts(req, ctx));
  }

  /**
   * Provenance from the journal and the facts agent code looked up (golden images, the disk's
   * bound); the classifier itself stays pure.
   */
  private facts(req: OperationRequest, ctx: GateCallContext): ActionFacts {
    const facts: ActionFacts = provenanceFacts(ctx.journal, req, ctx.transaction);
    if (req.op === "guest.provision") {
      const archive = req.params.archive;
      const golden = typeof archive === "string" ? ctx.goldenImages?.byVolid(archive) : undefined;
      if (golden) facts.goldenImage = { volid: golden.volid, source: golden.source };
      facts.provisionBridges = this.o.provisionBridges ?? DEFAULT_PROVISION_BRIDGES;
    }
    if (req.op === "guest.resize") facts.grow = this.growBound(ctx);
    if (req.op === "storage.add" && ctx.storage !== undefined) facts.storage = ctx.storage;
    return facts;
  }

  private growBound(ctx: GateCallContext): GrowBound {
    const max = ctx.disk?.maxDiskGiB;
    if (max === undefined) {
      return { kind: "per_operation", maxGrowGiB: this.o.maxGrowGiB ?? DEFAULT_MAX_GROW_GIB };
    }
    const current = ctx.disk?.currentBytes;
    return {
      kind: "max_disk",
      maxDiskGiB: max,
      ...(current === undefined ? {} : { currentBytes: current }),
    };
  }

  async decide(req: OperationRequest, ctx: GateCallContext): Promise<GateVerdict> {
    const classification = this.classify(req, ctx);
    if (classification.verdict === "benign") {
      this.audit(req, requestActor(req), "allowed", classification, {
        ...(req.envelope ? { envelope: "not needed" } : {}),
      });
      return { outcome: "allowed", reason: classification.reason, classification };
    }
    if (!req.envelope) return this.hold(req, classification);
    return this.verifySigned(req, req.envelope, classification, this.findHeld(req));
  }

  /**
   * A later signed envelope for a held operation. It is verified against the held action;
   * on `accepted` the returned request (the held action plus the envelope) is submitted, and
   * its decision links back to this held row (by job id, or as the identical action).
   * A failing envelope leaves the operation held. Throws PendingOperationError, changing
   * nothing, when `id` is not a held operation.
   */
  async releasePending(id: string, envelope: unknown): Promise<ReleaseResult> {
    const row = this.o.store.pending.byId(id);
    if (!row) throw new PendingOperationError("not_found", id, "no such held operation");
    if (row.status !== "pending") {
      throw new PendingOperationError("not_pending", id, `it is already ${row.status}`);
    }
    if (!isOpName(row.op)) {
      throw new PendingOperationError("not_an_operation", id, `'${row.op}' is not an operation`);
    }
    const request: OperationRequest = {
      op: row.op,
      ...(row.vmid === null ? {} : { vmid: row.vmid }),
      params: row.params as Record<string, unknown>,
      origin: row.origin,
      ...(row.jobId === null ? {} : { jobId: row.jobId }),
      envelope: envelope as NonNullable<OperationRequest["envelope"]>,
      priority: "interactive",
    };
    const classification: Classification = {
      verdict: "destructive",
      rule: "held",
      reason: row.reason ?? "held for an operator's signature",
    };
    const verdict = await this.verifySigned(request, envelope, classification, {
      row,
      sameAction: true,
    });
    return verdict.outcome === "accepted" ? { verdict, request } : { verdict };
  }

  /** The operator declines a held operation; it will never run. */
  declinePending(id: string, actor: string, why: string): PendingOp {
    const row = this.o.store.pending.byId(id);
    if (!row) throw new PendingOperationError("not_found", id, "no such held operation");
    if (row.status !== "pending") {
      throw new PendingOperationError("not_pending", id, `it is already ${row.status}`);
    }
    const done = this.o.store.pending.reject(id, `declined: ${why}`);
    this.o.store.audit.append({
      actor,
      action: GATE_AUDIT_ACTIONS.decline,
      target: targetOf(row.vmid),
      outcome: "declined",
      details: { pending: id, op: row.op, ...(row.jobId ? { job: row.jobId } : {}) },
    });
    return done;
  }

  /** Held operations older than `maxAgeMs` expire unsigned; returns how many. */
  expirePending(maxAgeMs: number): number {
    const count = this.o.store.pending.expireOlderThan(this.o.clock.now() - maxAgeMs);
    if (count > 0) {
      this.o.store.audit.append({
        actor: "agent",
        action: GATE_AUDIT_ACTIONS.expire,
        target: null,
        outcome: "expired",
        details: { count, max_age_ms: maxAgeMs },
      });
    }
    return count;
  }

  /**
   * Journals the execution of an `allowed` or `accepted` decision. For `accepted`, the nonce
   * is consumed, the intent recorded and the held operation released in ONE transaction; a
   * nonce consumed meanwhile (the same envelope racing itself) returns `replay`, writes
   * nothing, and is audited as `rejected:replay`.
   */
  recordIntent(verdict: GateVerdict, intent: IntentInput): SignedIntentResult {
    if (verdict.outcome === "allowed") {
      return { ok: true, journalId: this.o.store.journal.recordIntent(intent) };
    }
    if (verdict.outcome !== "accepted" || !verdict.signed) {
      throw new GateRefusalError(verdict.outcome);
    }
    const { signed } = verdict;
    const result = this.o.store.recordSignedIntent({
      nonce: signed.nonce,
      expiresAt: signed.expiresAt,
      intent,
      ...(signed.releasePendingId === undefined
        ? {}
        : { releasePendingId: signed.releasePendingId }),
    });
    if (!result.ok) {
      this.o.store.audit.append({
        actor: requestActor({
          origin: intent.origin,
          ...(intent.vmid == null ? {} : { vmid: intent.vmid }),
        }),
        action: intent.op,
        target: targetOf(intent.vmid),
        outcome: "rejected:replay",
        details: {
          origin: intent.origin,
          ...(signed.job ? { job: signed.job } : {}),
          key_id: signed.signer.keyId,
          detail: "nonce consumed between verification and execution",
        },
      });
    }
    return result;
  }

  private findHeld(req: OperationRequest): Held | undefined {
    const pending = this.o.store.pending;
    if (req.jobId !== undefined) {
      const row = pending.byJob(req.jobId);
      if (row?.status !== "pending") return undefined;
      return { row, sameAction: sameActionAs(row, req) };
    }
    const row = pending
      .list({ status: "pending" })
      .find((r) => r.jobId === null && r.origin === req.origin && sameActionAs(r, req));
    return row ? { row, sameAction: true } : undefined;
  }

  private hold(req: OperationRequest, classification: Classification): GateVerdict {
    const { op: row, created } = this.o.store.pending.hold({
      op: req.op,
      vmid: req.vmid ?? null,
      params: req.params,
      origin: req.origin,
      jobId: req.jobId ?? null,
      reason: classification.reason,
    });
    this.audit(req, requestActor(req), "pending_signature", classification, {
      pending: row.id,
      ...(created ? {} : { held_since: row.createdAt }),
    });
    return {
      outcome: "pending_signature",
      reason: classification.reason,
      pendingId: row.id,
      classification,
    };
  }

  private async verifySigned(
    req: OperationRequest,
    envelope: unknown,
    classification: Classification,
    held: Held | undefined,
  ): Promise<GateVerdict> {
    const result = await this.verify(req, envelope, held);
    if (!result.ok) {
      const { reason, detail } = result.rejection;
      this.audit(req, requestActor(req), `rejected:${reason}`, classification, {
        rejection: reason,
        detail,
        // A signer is named only once its signature verified (the payload parsed after it).
        ...(result.payload && result.signer ? { key_id: result.signer.keyId } : {}),
        ...(held ? { pending: held.row.id } : {}),
      });
      return {
        outcome: "rejected",
        reason,
        detail,
        classification,
        ...(held ? { pendingId: held.row.id } : {}),
      };
    }
    const { payload, signer } = result;
    const refusal =
      req.op === "signers.rotate" ? this.rotationRefusal(req, signer.role) : undefined;
    if (refusal !== undefined) {
      this.audit(req, signerActor(signer), "rejected:role_denied", classification, {
        rejection: "role_denied",
        detail: refusal,
        key_id: signer.keyId,
        role: signer.role,
        ...(held ? { pending: held.row.id } : {}),
      });
      return {
        outcome: "rejected",
        reason: "role_denied",
        detail: refusal,
        classification,
        ...(held ? { pendingId: held.row.id } : {}),
      };
    }
    const signed: SignedApproval = {
      nonce: payload.nonce,
      expiresAt: payload.exp * 1000,
      signer: { name: signer.name, keyId: signer.keyId, role: signer.role },
      ...(payload.job === undefined ? {} : { job: payload.job }),
      ...(held ? { releasePendingId: held.row.id } : {}),
    };
    this.audit(req, signerActor(signer), "accepted", classification, {
      key_id: signer.keyId,
      role: signer.role,
      signed_job: payload.job ?? null,
      valid_until: payload.exp,
      ...(held ? { pending: held.row.id } : {}),
    });
    return { outcome: "accepted", reason: classification.reason, classification, signed };
  }

  private async verify(
    req: OperationRequest,
    envelope: unknown,
    held: Held | undefined,
  ): Promise<VerifyResult> {
    const refuse = (reason: "binding_mismatch" | "wrong_host", detail: string): VerifyResult => ({
      ok: false,
      rejection: new SignatureRejection(reason, detail),
    });
    if (held && !held.sameAction) {
      return refuse(
        "binding_mismatch",
        `job ${held.row.jobId} is held as ${held.row.op} with other params; a job does not change`,
      );
    }
    const hostId = this.o.hostId;
    if (!hostId) {
      return refuse("wrong_host", "this agent has no host id yet (set host_id, or enroll)");
    }
    // A host-level action (no vmid) binds a payload without a guest, and a guest action one
    // with exactly its guest; the verifier refuses any other pairing as binding_mismatch.
    const expected: ExpectedAction = {
      op: req.op,
      ...(req.vmid === undefined ? {} : { guest: this.guestRef(req.vmid) }),
      params: req.params,
      ...(req.jobId === undefined ? {} : { job: req.jobId }),
    };
    return verifyEnvelope(
      envelope,
      {
        hostId,
        signers: this.signersInForce(),
        clock: this.o.clock,
        ed25519: this.o.ed25519,
        ...(this.o.skewSeconds === undefined ? {} : { skewSeconds: this.o.skewSeconds }),
        ...(this.o.maxTtlSeconds === undefined ? {} : { maxTtlSeconds: this.o.maxTtlSeconds }),
        isNonceUsed: (nonce) => this.o.store.nonces.isConsumed(nonce),
      },
      expected,
    );
  }

  private signersInForce(): readonly Signer[] {
    const { signers } = this.o;
    return typeof signers === "function" ? signers() : signers;
  }

  /** The rules of who may change the signer set, after the signature itself verified. */
  private rotationRefusal(req: OperationRequest, role: Signer["role"]): string | undefined {
    const parsed = signersRotateParams.safeParse(req.params);
    if (!parsed.success) return "the params are not a signer set";
    return rotationRefusal({
      signerRole: role,
      inForce: this.signersInForce(),
      configured: this.o.configuredSigners ?? [],
      next: parsed.data.signers,
      now: this.o.clock.now(),
    });
  }

  private guestRef(vmid: number): GuestRef {
    const uid = this.o.guestUid?.(vmid);
    return uid === undefined ? { vmid } : { vmid, uid };
  }

  private audit(
    req: OperationRequest,
    actor: string,
    outcome: string,
    classification: Classification,
    extra: Record<string, unknown>,
  ): void {
    const hash = paramsHash(req.params);
    this.o.store.audit.append({
      actor,
      action: req.op,
      target: targetOf(req.vmid),
      outcome,
      details: {
        origin: req.origin,
        ...(req.jobId === undefined ? {} : { job: req.jobId }),
        rule: classification.rule,
        reason: classification.reason,
        ...(classification.provenanceJournalId === undefined
          ? {}
          : { provenance_journal: classification.provenanceJournalId }),
        // The keys say what changed; the values stay in the journal, and the hash ties this
        // row to them and to the signed params without copying anything secret here.
        param_keys: Object.keys(req.params).sort(),
        ...(hash === undefined ? {} : { params_sha256: hash }),
        ...extra,
      },
    });
  }
}
