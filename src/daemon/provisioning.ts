import type { Logger } from "../log/types.ts";
import type { OperationStatus, OpOrigin, SignedEnvelope } from "../ops/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import { requireEnvSupport } from "../reconcile/env-support.ts";
import { parseOperationId } from "../reconcile/operation-ids.ts";
import { type BootstrapRecord, DEFAULT_BOOTSTRAP_TTL_MS } from "../store/bootstrap-codes.ts";
import type { Store } from "../store/store.ts";
import type { SettlingSubmitter } from "./bootstrap-redeemer.ts";
import type { BootstrapSecrets } from "./bootstrap-secrets.ts";

export interface ProvisionInput {
  archive: string;
  hostname: string;
  /** From `/cluster/nextid` when absent. */
  vmid?: number;
  /** The first enabled, active `rootdir` storage of the node when absent. */
  storage?: string;
  net?: Record<string, string>;
  cores?: number;
  memoryMiB?: number;
  /** The controller's hub credential, as the hub sealed it for the guest: relayed, never opened. */
  hubCredential?: string;
  ttlMs?: number;
  origin: OpOrigin;
  jobId?: string;
  envelope?: SignedEnvelope;
}

export interface ProvisionDeps {
  engine: SettlingSubmitter;
  client: Pick<ProxmoxClient, "version" | "nextId" | "nodeStorage" | "guestStatus">;
  store: Pick<Store, "bootstrapCodes">;
  secrets: BootstrapSecrets;
  logger: Logger;
}

/** How far a provisioning got: `started` means the guest runs with its code in `env`. */
export interface ProvisionOutcome {
  vmid: number;
  /** The step reached; `restore`, `env`, `start` name the operation that did not succeed. */
  step: "started" | "restore" | "env" | "start";
  bootstrap?: BootstrapRecord;
  /** The operation that stopped it, when one did. */
  failed?: OperationStatus;
}

/** A provisioning the agent will not start (no storage for it); nothing was changed. */
export class ProvisionRefusedError extends Error {
  override readonly name = "ProvisionRefusedError";
}

/** The journal entry behind an operation's status, when it has one. */
export function journalIdOf(status: OperationStatus): number | null {
  const parsed = parseOperationId(status.id);
  return parsed?.kind === "journal" ? parsed.journalId : null;
}

async function defaultStorage(client: ProvisionDeps["client"]): Promise<string> {
  const list = await client.nodeStorage({ content: "rootdir", enabled: true });
  const s = list.find((x) => x.content.includes("rootdir") && x.active !== false);
  if (!s) throw new ProvisionRefusedError("no enabled, active storage takes container root disks");
  return s.storage;
}

async function run(
  deps: ProvisionDeps,
  req: Parameters<SettlingSubmitter["enqueue"]>[0],
): Promise<OperationStatus> {
  const { settled } = await deps.engine.enqueue(req);
  return settled;
}

/**
 * A new guest from a golden image (docs/architecture.md#provisioning-constraints): restore
 * (`unique`, `unprivileged`, hostname, storage), a bootstrap code into `env`, start. Each step
 * is an operation of its own through the engine and the gate; where one stops, `status`
 * shows it and `resumeProvisioning` carries on.
 */
export async function provisionGuest(
  deps: ProvisionDeps,
  input: ProvisionInput,
): Promise<ProvisionOutcome> {
  await requireEnvSupport(deps.client);
  const vmid = input.vmid ?? (await deps.client.nextId());
  const storage = input.storage ?? (await defaultStorage(deps.client));
  const restored = await run(deps, {
    op: "guest.provision",
    vmid,
    params: {
      ...(input.hubCredential !== undefined
        ? { hub_credential: { sealed: input.hubCredential } }
        : {}),
      archive: input.archive,
      hostname: input.hostname,
      storage,
      unique: true,
      unprivileged: true,
      ...(input.net ? { net: input.net } : {}),
      ...(input.cores !== undefined ? { cores: input.cores } : {}),
      ...(input.memoryMiB !== undefined ? { memoryMiB: input.memoryMiB } : {}),
    },
    origin: input.origin,
    ...(input.jobId ? { jobId: input.jobId } : {}),
    ...(input.envelope ? { envelope: input.envelope } : {}),
    priority: "interactive",
  });
  if (restored.state !== "done") return { vmid, step: "restore", failed: restored };
  return bootstrapAndStart(deps, vmid, input, journalIdOf(restored));
}

/**
 * Issues a fresh code (revoking any earlier one), writes it into `env`, and starts the guest;
 * a guest already running is shut down first, because `env` reaches PID 1 only at a start.
 */
async function bootstrapAndStart(
  deps: ProvisionDeps,
  vmid: number,
  input: Pick<ProvisionInput, "hubCredential" | "ttlMs" | "origin">,
  journalId: number | null,
): Promise<ProvisionOutcome> {
  const { code, record } = deps.store.bootstrapCodes.issue({
    vmid,
    journalId,
    ...(input.hubCredential !== undefined ? { hubCredential: input.hubCredential } : {}),
    ...(input.ttlMs !== undefined ? { ttlMs: input.ttlMs } : {}),
  });
  deps.secrets.hold(record.id, vmid, code);
  let env: OperationStatus;
  try {
    env = await run(deps, {
      op: "guest.config",
      vmid,
      params: { bootstrap: record.id },
      origin: "reconcile",
      priority: "interactive",
    });
  } finally {
    deps.secrets.forget(record.id);
  }
  if (env.state !== "done") {
    deps.store.bootstrapCodes.revoke(vmid);
    return { vmid, step: "env", failed: env, bootstrap: deps.store.bootstrapCodes.byId(record.id) };
  }
  deps.store.bootstrapCodes.mark(record.id, "env_set");
  const status = await deps.client.guestStatus(vmid);
  if (status.status === "running") {
    const down = await run(deps, {
      op: "guest.shutdown",
      vmid,
      params: {},
      origin: "reconcile",
      priority: "interactive",
    });
    if (down.state !== "done") {
      return {
        vmid,
        step: "start",
        failed: down,
        bootstrap: deps.store.bootstrapCodes.byId(record.id),
      };
    }
  }
  const started = await run(deps, {
    op: "guest.start",
    vmid,
    params: {},
    origin: "reconcile",
    priority: "interactive",
  });
  if (started.state !== "done") {
    return {
      vmid,
      step: "start",
      failed: started,
      bootstrap: deps.store.bootstrapCodes.byId(record.id),
    };
  }
  const rec = deps.store.bootstrapCodes.mark(record.id, "started");
  deps.logger.info("guest provisioned; waiting for its controller to bootstrap", {
    vmid,
    bootstrap: record.id,
  });
  return { vmid, step: "started", bootstrap: rec };
}

/**
 * Carries on a provisioning that stopped after its restore: a code that was never traded
 * (whatever step it reached: the clear code is gone from memory after a restart) is replaced
 * by a new one, written and the guest (re)started; a traded code whose `env` is still in the
 * config gets `env` removed.
 */
export async function resumeProvisioning(
  deps: ProvisionDeps,
  vmid: number,
  input: Pick<ProvisionInput, "ttlMs" | "hubCredential"> = {},
): Promise<ProvisionOutcome> {
  const latest = deps.store.bootstrapCodes.latest(vmid);
  if (latest?.step === "env_removed") return { vmid, step: "started", bootstrap: latest };
  if (latest?.step === "redeemed") {
    const removed = await run(deps, {
      op: "guest.config",
      vmid,
      params: { delete: ["env"] },
      origin: "reconcile",
      priority: "interactive",
    });
    if (removed.state !== "done") return { vmid, step: "env", failed: removed, bootstrap: latest };
    return {
      vmid,
      step: "started",
      bootstrap: deps.store.bootstrapCodes.mark(latest.id, "env_removed"),
    };
  }
  await requireEnvSupport(deps.client);
  return bootstrapAndStart(
    deps,
    vmid,
    {
      origin: "reconcile",
      ...((input.hubCredential ?? latest?.hubCredential)
        ? { hubCredential: input.hubCredential ?? latest?.hubCredential ?? undefined }
        : {}),
      ...(input.ttlMs !== undefined ? { ttlMs: input.ttlMs } : {}),
    },
    latest?.journalId ?? null,
  );
}

/**
 * Ends a provisioning the operator gives up on: every untraded code revoked and `env`
 * removed. The guest itself stays; destroying it is its own (signed) operation.
 */
export async function cleanupProvisioning(
  deps: ProvisionDeps,
  vmid: number,
): Promise<{ revoked: number; env: OperationStatus }> {
  const revoked = deps.store.bootstrapCodes.revoke(vmid);
  const env = await run(deps, {
    op: "guest.config",
    vmid,
    params: { delete: ["env"] },
    origin: "reconcile",
    priority: "interactive",
  });
  const latest = deps.store.bootstrapCodes.latest(vmid);
  if (env.state === "done" && latest) deps.store.bootstrapCodes.mark(latest.id, "env_removed");
  return { revoked, env };
}

/**
 * What follows a `guest.provision` that restored its guest outside `provisionGuest` (a hub
 * job, a held one released, one a crash interrupted): the bootstrap code, `env` and start,
 * with the sealed controller credential the job carried.
 */
export async function continueAfterRestore(
  deps: ProvisionDeps,
  vmid: number,
  params: unknown,
  journalId: number | null,
): Promise<ProvisionOutcome> {
  const sealed = (params as { hub_credential?: { sealed?: unknown } } | null)?.hub_credential
    ?.sealed;
  await requireEnvSupport(deps.client);
  return bootstrapAndStart(
    deps,
    vmid,
    { origin: "reconcile", ...(typeof sealed === "string" ? { hubCredential: sealed } : {}) },
    journalId,
  );
}

/** Ops after which the guest at a vmid is another one than a provision left there. */
const REPLACES_GUEST = new Set(["guest.provision", "guest.restore", "guest.destroy"]);

/**
 * Provisions whose restore is done but that never got a bootstrap code: the process stopped
 * between the restore and the code (a crash, or the restore settled by crash recovery). Only
 * the newest guest-replacing operation of each vmid counts: a guest destroyed or restored over
 * since is not continued.
 */
export function restoredWithoutCode(
  store: Pick<Store, "journal" | "bootstrapCodes">,
  now: number,
  limit = 500,
): { vmid: number; journalId: number; params: unknown }[] {
  const out: { vmid: number; journalId: number; params: unknown }[] = [];
  const seen = new Set<number>();
  for (const e of store.journal.recent(limit)) {
    if (e.vmid === null || !REPLACES_GUEST.has(e.op) || e.phase !== "done") continue;
    if (seen.has(e.vmid)) continue;
    seen.add(e.vmid);
    // Only a recent one: a guest provisioned long ago (or before codes existed) runs as it
    // is, and restarting it with a new env would be a surprise, not a resume.
    const recent = now - e.updatedAt < DEFAULT_BOOTSTRAP_TTL_MS;
    if (e.op === "guest.provision" && recent && !store.bootstrapCodes.issuedFor(e.id)) {
      out.push({ vmid: e.vmid, journalId: e.id, params: e.params });
    }
  }
  return out;
}

/** Unfinished provisionings as the status report carries them (never a code). */
export function reportedProvisioning(records: readonly BootstrapRecord[]): {
  vmid: number;
  guest_uid: string;
  step: Exclude<BootstrapRecord["step"], "env_removed">;
  since: string;
  expires_at: string;
}[] {
  return records.flatMap((r) =>
    r.step === "env_removed"
      ? []
      : [
          {
            vmid: r.vmid,
            guest_uid: r.guestUid,
            step: r.step,
            since: new Date(
              Math.max(r.createdAt, r.envSetAt ?? 0, r.startedAt ?? 0, r.redeemedAt ?? 0),
            ).toISOString(),
            expires_at: new Date(r.expiresAt).toISOString(),
          },
        ],
  );
}
