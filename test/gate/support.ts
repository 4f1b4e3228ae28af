import { createEd25519 } from "../../src/authz/ed25519.ts";
import type { Envelope } from "../../src/authz/envelope.ts";
import { isGuestOp } from "../../src/authz/operations.ts";
import { buildPayload, signEnvelope } from "../../src/authz/sign.ts";
import type { Signer } from "../../src/authz/signers.ts";
import type { Ed25519SeedKey } from "../../src/authz/sshsig.ts";
import { type GateOptions, type GateStore, ReversibilityGate } from "../../src/gate/gate.ts";
import type { OperationRequest, OpName } from "../../src/ops/types.ts";
import type { Store } from "../../src/store/store.ts";
import { systemClock } from "../../src/util/clock.ts";
import { keyFromSeed, signerFor } from "../authz/support.ts";
import { TempStateDir } from "../store/support.ts";

export const HOST = "host-a";
export const ed = createEd25519();

export const alice = await keyFromSeed(11, "alice@example");
export const rescue = await keyFromSeed(12, "rescue@example");
export const stranger = await keyFromSeed(13, "stranger@example");
export const retired = await keyFromSeed(14, "retired@example");

export function signersAt(nowMs: number): Signer[] {
  return [
    signerFor(alice, "alice", "operational"),
    signerFor(rescue, "rescue", "recovery"),
    signerFor(retired, "retired", "operational", nowMs - 1000),
  ];
}

/** The OpenSSH public key line of a test key. */
export function keyLine(k: Ed25519SeedKey, comment = "test"): string {
  return `ssh-ed25519 ${Buffer.from(k.publicKey.blob).toString("base64")} ${comment}`;
}

/** `signers.rotate` params keeping the harness's operational and recovery keys. */
export function rotateParams(
  signers: { name: string; key: Ed25519SeedKey; role: "operational" | "recovery" }[] = [
    { name: "alice", key: alice, role: "operational" },
    { name: "rescue", key: rescue, role: "recovery" },
  ],
): Record<string, unknown> {
  return { signers: signers.map((s) => ({ name: s.name, key: keyLine(s.key), role: s.role })) };
}

export interface SignOptions {
  key?: Ed25519SeedKey;
  op?: OpName;
  /** The signed guest of a guest.* op (default 101); host-level ops sign none. */
  vmid?: number;
  uid?: string;
  params?: Record<string, unknown>;
  host?: string;
  job?: string;
  /** Seconds relative to the harness clock. */
  iatOffset?: number;
  ttl?: number;
}

/** A temporary store with a gate over it, on a clock the test moves. */
export class GateHarness {
  readonly dir = new TempStateDir();
  store: Store;
  gate: ReversibilityGate;

  constructor(private readonly over: Partial<GateOptions> = {}) {
    this.store = this.dir.open();
    this.gate = this.makeGate();
  }

  get clock() {
    return this.dir.clock;
  }

  get ctx() {
    return { journal: this.store.journal };
  }

  makeGate(): ReversibilityGate {
    return new ReversibilityGate({
      store: this.store,
      hostId: HOST,
      signers: signersAt(this.clock.now()),
      clock: this.clock,
      ed25519: ed,
      ...this.over,
    });
  }

  /** Closes and reopens the database and builds a new gate: what a restart leaves. */
  restart(): void {
    this.store.close();
    this.store = this.dir.open();
    this.gate = this.makeGate();
  }

  async sign(o: SignOptions = {}): Promise<Envelope> {
    const now = Math.floor(this.clock.now() / 1000) + (o.iatOffset ?? 0);
    const op = o.op ?? "guest.destroy";
    const vmid = o.vmid ?? 101;
    const payload = buildPayload({
      op,
      host: o.host ?? HOST,
      // Host-level operations name no guest (docs/architecture.md#signed-operations).
      ...(isGuestOp(op) ? { guest: o.uid === undefined ? { vmid } : { vmid, uid: o.uid } } : {}),
      params: o.params ?? {},
      now,
      ttlSeconds: o.ttl ?? 600,
      ...(o.job === undefined ? {} : { job: o.job }),
    });
    return signEnvelope(ed, o.key ?? alice, payload);
  }

  cleanup(): void {
    this.dir.cleanup();
  }
}

export function request(over: Partial<OperationRequest> = {}): OperationRequest {
  return {
    op: "guest.destroy",
    vmid: 101,
    params: {},
    origin: "job",
    jobId: "job-1",
    priority: "interactive",
    ...over,
  };
}

/**
 * The agent's gate on `store` with the harness's signers, host HOST, on the system clock: for
 * rigs whose engine must accept an operator's signature (signHostOp).
 */
export function signingGate(store: GateStore): ReversibilityGate {
  return new ReversibilityGate({
    store,
    hostId: HOST,
    signers: signersAt(Date.now()),
    clock: systemClock,
    ed25519: ed,
  });
}

/** An envelope signed now by `alice` for a host-level operation on HOST (signingGate). */
export async function signHostOp(
  op: OpName,
  params: Record<string, unknown>,
  o: { job?: string } = {},
): Promise<Envelope> {
  const payload = buildPayload({
    op,
    host: HOST,
    params,
    now: Math.floor(Date.now() / 1000),
    ttlSeconds: 600,
    ...(o.job === undefined ? {} : { job: o.job }),
  });
  return signEnvelope(ed, alice, payload);
}
