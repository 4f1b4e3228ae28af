import { afterEach, describe, expect, test } from "bun:test";
import type { Envelope } from "../../src/authz/envelope.ts";
import { buildPayload, signEnvelope } from "../../src/authz/sign.ts";
import type { Signer } from "../../src/authz/signers.ts";
import type { Ed25519SeedKey } from "../../src/authz/sshsig.ts";
import { signersInForce } from "../../src/daemon/signers-in-force.ts";
import { ReversibilityGate } from "../../src/gate/gate.ts";
import { silentLogger } from "../../src/log/types.ts";
import type { OperationRequest, OpName } from "../../src/ops/types.ts";
import { SIGNER_SET_AUDIT_ACTION } from "../../src/store/signer-set-audit.ts";
import type { Store } from "../../src/store/store.ts";
import { systemClock } from "../../src/util/clock.ts";
import { keyFromSeed, signerFor } from "../authz/support.ts";
import { Rig } from "../reconcile/support.ts";
import { ed, HOST, keyLine } from "./support.ts";

// signers.rotate end to end through the engine: the gate decides with the signer's role in
// hand, the store-only executor replaces the enrolled set, and the next envelope is verified
// against the new set (docs/architecture.md#operator-key-rotation).

const ops = await keyFromSeed(31, "ops@example");
const vault = await keyFromSeed(32, "vault@example");
const bob = await keyFromSeed(33, "bob@example");
const vault2 = await keyFromSeed(34, "vault2@example");
const mallory = await keyFromSeed(35, "mallory@example");
const floorKey = await keyFromSeed(36, "floor@example");

type Role = "operational" | "recovery";
interface Entry {
  name: string;
  key: Ed25519SeedKey;
  role: Role;
}

let rig: Rig | undefined;
let gate: ReversibilityGate | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const fp = (k: Ed25519SeedKey) => k.publicKey.fingerprint;

/** An engine whose gate reads the signers from the store, with `configured` as the floor. */
async function start(enrolled: Entry[], configured: Signer[] = []): Promise<Rig> {
  const r = await Rig.start(
    {},
    {
      makeGate: (store: Store) => {
        gate = new ReversibilityGate({
          store,
          hostId: HOST,
          signers: signersInForce(configured, store.enrolledSigners, silentLogger),
          configuredSigners: configured,
          clock: systemClock,
          ed25519: ed,
        });
        return gate;
      },
    },
  );
  r.store.transaction(() =>
    r.store.enrolledSigners.importEnrollment(
      `${HOST}@2026-01-01T00:00:00Z`,
      enrolled.map((e) => ({ name: e.name, publicKey: keyLine(e.key), role: e.role })),
    ),
  );
  return r;
}

const rotation = (entries: Entry[]) => ({
  signers: entries.map((e) => ({ name: e.name, key: keyLine(e.key), role: e.role })),
});

async function sign(
  key: Ed25519SeedKey,
  op: OpName,
  params: Record<string, unknown>,
): Promise<Envelope> {
  const payload = buildPayload({
    op,
    host: HOST,
    params,
    now: Math.floor(Date.now() / 1000),
    ttlSeconds: 300,
  });
  return signEnvelope(ed, key, payload);
}

const hostOp = (
  op: OpName,
  params: Record<string, unknown>,
  envelope?: Envelope,
): OperationRequest => ({
  op,
  params,
  origin: "operator",
  priority: "interactive",
  ...(envelope ? { envelope } : {}),
});

async function rotate(r: Rig, by: Ed25519SeedKey, entries: Entry[]) {
  const params = rotation(entries);
  return r.engine.submit(
    hostOp("signers.rotate", params, await sign(by, "signers.rotate", params)),
  );
}

/** A destructive host op signed by `key`: who the gate accepts now. */
async function accepts(r: Rig, key: Ed25519SeedKey): Promise<string> {
  const params = { storage: `usb-${Math.random().toString(16).slice(2, 8)}` };
  const v = await (gate as ReversibilityGate).decide(
    hostOp("storage.remove", params, await sign(key, "storage.remove", params)),
    {
      journal: r.store.journal,
    },
  );
  return v.outcome === "accepted" ? "accepted" : `${v.outcome}:${v.reason}`;
}

const enrolledIds = (r: Rig) => r.store.enrolledSigners.list().map((s) => `${s.name} ${s.role}`);
const changes = (r: Rig) =>
  r.store.audit.list({}).filter((row) => row.action === SIGNER_SET_AUDIT_ACTION);

const START: Entry[] = [
  { name: "ops", key: ops, role: "operational" },
  { name: "vault", key: vault, role: "recovery" },
];

describe("signers.rotate by a recovery key", () => {
  test("replaces the whole enrolled set, recovery keys included; the old keys stop, the new ones work", async () => {
    rig = await start(START);
    const next: Entry[] = [
      { name: "bob", key: bob, role: "operational" },
      { name: "vault2", key: vault2, role: "recovery" },
    ];
    const done = await rotate(rig, vault, next);
    expect(done).toMatchObject({ op: "signers.rotate", state: "done" });
    expect(done.result).toEqual({
      signers: [
        { name: "bob", fingerprint: fp(bob), role: "operational" },
        { name: "vault2", fingerprint: fp(vault2), role: "recovery" },
      ],
    });
    expect(enrolledIds(rig)).toEqual(["bob operational", "vault2 recovery"]);
    const rows = rig.store.enrolledSigners.list();
    expect(rows.every((s) => s.source === "rotation" && s.journalId !== null)).toBe(true);
    expect(rig.store.journal.byId(rows[0]?.journalId as number)).toMatchObject({
      op: "signers.rotate",
      phase: "done",
    });
    // Audited with the fingerprints before and after.
    const row = changes(rig).at(-1);
    expect(JSON.parse(row?.details ?? "{}")).toMatchObject({
      by: "rotation",
      before: [`${fp(ops)} operational`, `${fp(vault)} recovery`],
      after: [`${fp(bob)} operational`, `${fp(vault2)} recovery`],
      added: [fp(bob), fp(vault2)],
      removed: [fp(ops), fp(vault)],
    });
    // The very next envelope is verified against the new set.
    expect(await accepts(rig, ops)).toBe("rejected:unknown_signer");
    expect(await accepts(rig, bob)).toBe("accepted");
    // The recovery key still signs nothing but rotation.
    expect(await accepts(rig, vault2)).toBe("rejected:role_denied");
  });

  test("unsigned it is held and nothing changes", async () => {
    rig = await start(START);
    const held = await rig.engine.submit(hostOp("signers.rotate", rotation([])));
    expect(held.state).toBe("pending_signature");
    expect(enrolledIds(rig)).toEqual(["ops operational", "vault recovery"]);
  });
});

describe("signers.rotate by an operational key", () => {
  test("may add and remove operational keys while a recovery key stays", async () => {
    rig = await start(START);
    const done = await rotate(rig, ops, [
      { name: "bob", key: bob, role: "operational" },
      { name: "vault", key: vault, role: "recovery" },
    ]);
    expect(done.state).toBe("done");
    expect(enrolledIds(rig)).toEqual(["vault recovery", "bob operational"]);
    expect(await accepts(rig, ops)).toBe("rejected:unknown_signer");
    expect(await accepts(rig, bob)).toBe("accepted");
  });

  test.each([
    ["drops the last recovery key", [{ name: "ops", key: ops, role: "operational" }]],
    [
      "swaps the recovery key for one of its own",
      [
        { name: "ops", key: ops, role: "operational" },
        { name: "mallory", key: mallory, role: "recovery" },
      ],
    ],
    [
      "keeps the recovery key but adds one of its own beside it",
      [
        { name: "ops", key: ops, role: "operational" },
        { name: "vault", key: vault, role: "recovery" },
        { name: "mallory", key: mallory, role: "recovery" },
      ],
    ],
    [
      "promotes itself to recovery beside the recovery key",
      [
        { name: "ops", key: ops, role: "recovery" },
        { name: "vault", key: vault, role: "recovery" },
      ],
    ],
    [
      "keeps the recovery key but demotes it to operational",
      [
        { name: "ops", key: ops, role: "operational" },
        { name: "vault", key: vault, role: "operational" },
      ],
    ],
  ] as [string, Entry[]][])(
    "may not remove the last recovery key: %s → role_denied, nothing changed",
    async (_why, next) => {
      rig = await start(START);
      const before = rig.store.audit.list({}).length;
      const refused = await rotate(rig, ops, next);
      expect(refused).toMatchObject({ state: "rejected", reason: "role_denied" });
      expect(enrolledIds(rig)).toEqual(["ops operational", "vault recovery"]);
      expect(rig.store.journal.recent(10).filter((e) => e.op === "signers.rotate")).toHaveLength(0);
      const audit = rig.store.audit.list({}).slice(before);
      expect(audit.map((r) => r.outcome)).toEqual(["rejected:role_denied"]);
      expect(JSON.parse(audit[0]?.details ?? "{}").detail).toContain(fp(vault));
      expect(changes(rig)).toHaveLength(0);
    },
  );

  test("a recovery key configured on the host counts as kept: the enrolled one may go", async () => {
    const configured = [signerFor(floorKey, "floor", "recovery")];
    rig = await start(START, configured);
    const done = await rotate(rig, ops, [{ name: "ops", key: ops, role: "operational" }]);
    expect(done.state).toBe("done");
    expect(enrolledIds(rig)).toEqual(["ops operational"]);
  });

  test("an expired recovery key is gone already: the operational key may name a new one", async () => {
    rig = await start([]);
    rig.store.transaction(() =>
      rig?.store.enrolledSigners.importEnrollment(`${HOST}@2026-01-02T00:00:00Z`, [
        { name: "ops", publicKey: keyLine(ops), role: "operational" },
        {
          name: "vault",
          publicKey: keyLine(vault),
          role: "recovery",
          expiresAt: "2020-01-01T00:00:00Z",
        },
      ]),
    );
    const done = await rotate(rig, ops, [
      { name: "ops", key: ops, role: "operational" },
      { name: "vault2", key: vault2, role: "recovery" },
    ]);
    expect(done.state).toBe("done");
  });
});

describe("configured signers are a floor", () => {
  test("a rotation to an empty set leaves the configured signers in force, and cannot demote them", async () => {
    const configured = [signerFor(floorKey, "floor", "operational")];
    rig = await start(START, configured);
    // Listing the configured key as recovery changes nothing about it: the config's role wins.
    const done = await rotate(rig, vault, [
      { name: "floor-as-recovery", key: floorKey, role: "recovery" },
    ]);
    expect(done.state).toBe("done");
    expect(await accepts(rig, floorKey)).toBe("accepted");
    const empty = await rotate(rig, floorKey, []);
    expect(empty.state).toBe("done");
    expect(enrolledIds(rig)).toEqual([]);
    expect(await accepts(rig, floorKey)).toBe("accepted");
    expect(await accepts(rig, ops)).toBe("rejected:unknown_signer");
  });

  test("with no configured signers, a rotation that leaves nobody is refused", async () => {
    rig = await start(START);
    const refused = await rotate(rig, vault, []);
    expect(refused).toMatchObject({ state: "rejected", reason: "role_denied" });
    expect(enrolledIds(rig)).toEqual(["ops operational", "vault recovery"]);
  });
});

describe("bad rotations are refused before the gate", () => {
  test("duplicate keys, unknown roles and foreign key types are invalid_params; no nonce spent", async () => {
    rig = await start(START);
    for (const params of [
      {
        signers: [
          { name: "a", key: keyLine(bob), role: "operational" },
          { name: "b", key: keyLine(bob, "again"), role: "recovery" },
        ],
      },
      { signers: [{ name: "a", key: keyLine(bob), role: "admin" }] },
      {
        signers: [
          { name: "a", key: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ", role: "operational" },
        ],
      },
    ]) {
      const envelope = await sign(vault, "signers.rotate", params);
      const r = await rig.engine.submit(hostOp("signers.rotate", params, envelope));
      expect(r.state).toBe("rejected");
      expect(r.reason).toContain("invalid_params");
    }
    expect(enrolledIds(rig)).toEqual(["ops operational", "vault recovery"]);
  });
});
