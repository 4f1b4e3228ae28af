import { afterEach, beforeEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Envelope } from "../../src/authz/envelope.ts";
import { buildPayload, signEnvelope } from "../../src/authz/sign.ts";
import type { Ed25519SeedKey } from "../../src/authz/sshsig.ts";
import type { CliContext } from "../../src/cli/context.ts";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "../../src/cli/context.ts";
import { runPending } from "../../src/cli/pending.ts";
import { runOperatorRequests, takeOperatorRequests } from "../../src/daemon/operator-requests.ts";
import { signersInForce } from "../../src/daemon/signers-in-force.ts";
import { ReversibilityGate } from "../../src/gate/gate.ts";
import { silentLogger } from "../../src/log/types.ts";
import type { OpName } from "../../src/ops/types.ts";
import type { Store } from "../../src/store/store.ts";
import { systemClock } from "../../src/util/clock.ts";
import { keyFromSeed, signerFor } from "../authz/support.ts";
import { ed, HOST, keyLine } from "../gate/support.ts";
import { Rig } from "../reconcile/support.ts";

// `felhom-agent pending` on a host that is not enrolled: the command line queues the
// operator's approval or decline in the store, the daemon's side carries it out through the
// gate (docs/architecture.md#held-operations-on-the-host).

const ops = await keyFromSeed(61, "ops@example");
const vault = await keyFromSeed(62, "vault@example");
const bob = await keyFromSeed(63, "bob@example");

let rig: Rig;
let gate: ReversibilityGate;
let out = "";
let err = "";
let configPath: string;

function ctx(): CliContext {
  out = "";
  err = "";
  return {
    env: {},
    configPath,
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
  };
}

beforeEach(async () => {
  const configured = [signerFor(ops, "ops", "operational")];
  rig = await Rig.start(
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
  configPath = join(rig.dir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      proxmox: {
        endpoint: "https://127.0.0.1:8006",
        node: "pve1",
        token: "felhom-agent@pve!agent=00000000-0000-4000-8000-000000000000",
        tls: { fingerprint: `${"AA:".repeat(31)}AA` },
      },
      state_dir: rig.dir,
      host_id: HOST,
    }),
  );
});
afterEach(async () => {
  await rig.close();
});

const ROTATION = {
  signers: [
    { name: "bob", key: keyLine(bob), role: "operational" },
    { name: "vault", key: keyLine(vault), role: "recovery" },
  ],
};

async function envelopeFile(
  key: Ed25519SeedKey,
  params: Record<string, unknown>,
  op: OpName = "signers.rotate",
): Promise<string> {
  const payload = buildPayload({
    op,
    host: HOST,
    params,
    now: Math.floor(Date.now() / 1000),
    ttlSeconds: 300,
  });
  const envelope: Envelope = await signEnvelope(ed, key, payload);
  const file = join(rig.dir, `env-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(envelope));
  return file;
}

async function holdRotation(): Promise<string> {
  const held = await rig.engine.submit({
    op: "signers.rotate",
    params: ROTATION,
    origin: "operator",
    priority: "interactive",
  });
  expect(held.state).toBe("pending_signature");
  return held.id;
}

const daemonSide = () =>
  takeOperatorRequests({
    store: rig.store,
    gate,
    submitter: rig.engine,
    logger: silentLogger,
  });

test("list and show the held operation; nothing held is said plainly", async () => {
  expect(await runPending(["list"], ctx())).toBe(EXIT_OK);
  expect(out).toBe("nothing held\n");
  const id = await holdRotation();
  expect(await runPending(["list", "--json"], ctx())).toBe(EXIT_OK);
  expect(JSON.parse(out)).toMatchObject([
    {
      id,
      op: "signers.rotate",
      vmid: null,
      origin: "operator",
      status: "pending",
      params: ROTATION,
    },
  ]);
  expect(await runPending(["show", id], ctx())).toBe(EXIT_OK);
  expect(out).toContain(`${id}  pending   signers.rotate  host  operator`);
  expect(out).toContain("params: ");
});

test("approve: queued by the command line, verified and run by the daemon's side, audited", async () => {
  const id = await holdRotation();
  const file = await envelopeFile(ops, ROTATION);
  expect(
    await runPending(["approve", id, "--envelope", file, "--wait", "0", "--json"], ctx()),
  ).toBe(EXIT_OK);
  expect(JSON.parse(out)).toMatchObject({ pending: id, action: "approve", state: "waiting" });
  // Nothing changed yet: only the daemon runs operations.
  expect(rig.store.enrolledSigners.list()).toEqual([]);
  expect(await daemonSide()).toBe(1);
  expect(rig.store.enrolledSigners.list().map((s) => s.name)).toEqual(["bob", "vault"]);
  expect(rig.store.pending.byId(id)?.status).toBe("released");
  const request = rig.store.operatorRequests.byId(JSON.parse(out).request);
  expect(request).toMatchObject({ state: "done", outcome: "accepted" });
  const journalId = rig.store.enrolledSigners.list()[0]?.journalId;
  expect(request?.operationId).toBe(`op-${journalId}`);
  const audit = rig.store.audit.list({}).map((r) => `${r.actor} ${r.action} ${r.outcome}`);
  expect(audit).toEqual([
    "operator signers.rotate pending_signature",
    "operator pending.approve requested",
    "signer:ops signers.rotate accepted",
    "signer:ops signers.rotate accepted",
    "agent signers.changed done",
  ]);
  // Approving it again: it is no longer held.
  expect(await runPending(["approve", id, "--envelope", file, "--wait", "0"], ctx())).toBe(
    EXIT_FAILURE,
  );
  expect(err).toBe(
    `felhom-agent: pending approve: ${id} is already released; nothing to approve\n`,
  );
});

test("approve with an envelope for other params: rejected by the gate, still held; the command waits for the answer", async () => {
  const id = await holdRotation();
  const wrong = await envelopeFile(ops, { signers: [] });
  const stop = new AbortController();
  const loop = runOperatorRequests(
    {
      store: rig.store,
      gate,
      submitter: rig.engine,
      logger: silentLogger,
      clock: systemClock,
      pollMs: 20,
    },
    stop.signal,
  );
  try {
    expect(await runPending(["approve", id, "--envelope", wrong, "--wait", "20"], ctx())).toBe(
      EXIT_FAILURE,
    );
  } finally {
    stop.abort();
    await loop;
  }
  expect(err).toContain(`felhom-agent: pending approve: ${id} rejected:binding_mismatch`);
  expect(rig.store.pending.byId(id)?.status).toBe("pending");
  expect(rig.store.enrolledSigners.list()).toEqual([]);
});

test("decline: the held operation never runs; the reason is in the audit log", async () => {
  const id = await holdRotation();
  expect(
    await runPending(["decline", id, "--reason", "not during the freeze", "--wait", "0"], ctx()),
  ).toBe(EXIT_OK);
  expect(out).toContain("queued as request");
  await daemonSide();
  expect(rig.store.pending.byId(id)).toMatchObject({
    status: "rejected",
    resolution: "declined: not during the freeze",
  });
  const last = rig.store.audit.list({}).at(-1);
  expect(last).toMatchObject({ actor: "operator", action: "gate.decline", outcome: "declined" });
  // The envelope that would have released it now releases nothing.
  const file = await envelopeFile(ops, ROTATION);
  expect(await runPending(["approve", id, "--envelope", file], ctx())).toBe(EXIT_FAILURE);
  expect(rig.store.enrolledSigners.list()).toEqual([]);
});

test("usage errors change nothing", async () => {
  const id = await holdRotation();
  const notEnvelope = join(rig.dir, "not-envelope.json");
  writeFileSync(notEnvelope, JSON.stringify({ payload: "x" }));
  for (const argv of [
    ["approve", id],
    ["approve", "po-nothex", "--envelope", notEnvelope],
    ["approve", id, "--envelope", notEnvelope],
    ["approve", id, "--envelope", join(rig.dir, "missing.json")],
    ["decline", id],
    ["decline", id, "--reason", "   "],
    ["list", id],
    ["show", id, "--wait", "3"],
    ["approve", id, "--envelope", notEnvelope, "--wait", "forever"],
    ["frobnicate"],
    [],
  ]) {
    await expect(runPending(argv, ctx())).rejects.toBeInstanceOf(UsageError);
  }
  expect(rig.store.operatorRequests.waiting()).toEqual([]);
  expect(await runPending(["show", "po-0000000000000000"], ctx())).toBe(EXIT_FAILURE);
  expect(err).toContain("no held operation po-0000000000000000");
});
