import type { Context } from "hono";
import type { OperationRequest, OperationStatus, OperationSubmitter } from "../ops/types.ts";
import type { Clock } from "../util/clock.ts";
import { parseOr422, readJson } from "./body.ts";
import type { BackupTargetSource, QuotaSource } from "./deps.ts";
import type { LocalApiEnv } from "./env.ts";
import { forbidden, LocalApiError, notFound } from "./errors.ts";
import type { GuestReads } from "./guest-reads.ts";
import type { GuestRouteId } from "./route-table.ts";
import {
  backupBody,
  createSnapshotBody,
  operationIdParam,
  resourcesBody,
  SNAPSHOT_PREFIX,
  snapshotName,
} from "./schemas.ts";
import {
  type BackupTargetInput,
  operationView,
  selfView,
  snapshotsView,
  storageView,
} from "./views.ts";

export interface HandlerDeps {
  reads: GuestReads;
  submitter: OperationSubmitter;
  quotas: QuotaSource;
  backups: BackupTargetSource;
  clock: Clock;
}

type Handler = (c: Context<LocalApiEnv>, d: HandlerDeps) => Promise<Response>;

/**
 * Hands the request to the per-guest queue. The vmid is the token's, never the caller's; the
 * gate's verdict comes back in the status: a held or refused operation is a 403 for the guest.
 */
async function submitForGuest(
  c: Context<LocalApiEnv>,
  d: HandlerDeps,
  req: Omit<OperationRequest, "vmid" | "origin" | "priority">,
  extra: Record<string, unknown> = {},
): Promise<Response> {
  const vmid = c.get("guest").vmid;
  const status: OperationStatus = await d.submitter.submit({
    ...req,
    vmid,
    origin: "localapi",
    priority: "interactive",
  });
  c.set("operation", status);
  d.reads.invalidate(vmid);
  if (status.state === "pending_signature") {
    throw forbidden(
      "pending_signature",
      "this action is destructive for the guest's data and needs an operator's signature; it is held, not executed",
      { operation_id: status.id },
    );
  }
  if (status.state === "rejected") {
    throw forbidden("rejected", `the action was refused: ${status.reason ?? "not permitted"}`, {
      operation_id: status.id,
      ...(status.reason ? { reason: status.reason } : {}),
    });
  }
  return c.json(
    {
      operation: operationView(status),
      status_url: `/v1/self/operations/${encodeURIComponent(status.id)}`,
      ...extra,
    },
    202,
  );
}

function defaultLabel(now: number): string {
  return new Date(now).toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

async function requireSnapshot(c: Context<LocalApiEnv>, d: HandlerDeps): Promise<string> {
  const name = parseOr422(snapshotName, c.req.param("name"));
  const list = await d.reads.snapshots(c.get("guest").vmid, true);
  if (!list.snapshots.some((s) => s.name === name)) {
    throw notFound(`the guest has no snapshot named '${name}'`);
  }
  return name;
}

export const HANDLERS: Record<GuestRouteId, Handler> = {
  async getSelf(c, d) {
    const { vmid } = c.get("guest");
    const [status, config] = await Promise.all([d.reads.status(vmid), d.reads.config(vmid)]);
    return c.json(selfView(status, config, d.quotas.quotaFor(vmid)));
  },

  async getStorage(c, d) {
    const { vmid } = c.get("guest");
    const [status, config, nodeStorage] = await Promise.all([
      d.reads.status(vmid),
      d.reads.config(vmid),
      d.reads.nodeStorage(),
    ]);
    const configured = d.backups.backupStorageFor(vmid);
    const backupStores = nodeStorage.filter(
      (s) => s.content.includes("backup") && s.enabled !== false && s.active !== false,
    );
    const targets: BackupTargetInput[] = await Promise.all(
      backupStores.map(async (s) => ({
        storage: s,
        volumes: (await d.reads.backups(vmid, s.storage)).filter((v) => v.vmid === vmid),
        configured: s.storage === configured,
      })),
    );
    return c.json(storageView(status, config, nodeStorage, targets, d.clock.now()));
  },

  async listSnapshots(c, d) {
    return c.json(snapshotsView(await d.reads.snapshots(c.get("guest").vmid)));
  },

  async createSnapshot(c, d) {
    const body = await readJson(c, createSnapshotBody);
    const name = `${SNAPSHOT_PREFIX}${body.name ?? defaultLabel(d.clock.now())}`;
    const list = await d.reads.snapshots(c.get("guest").vmid, true);
    if (list.snapshots.some((s) => s.name === name)) {
      throw new LocalApiError(409, `a snapshot named '${name}' exists already`, {
        code: "snapshot_exists",
      });
    }
    return submitForGuest(
      c,
      d,
      {
        op: "guest.snapshot",
        params: { name, description: body.description ?? "taken through the local API" },
      },
      { snapshot: name },
    );
  },

  async rollbackSnapshot(c, d) {
    const name = await requireSnapshot(c, d);
    return submitForGuest(c, d, { op: "guest.rollback", params: { name } }, { snapshot: name });
  },

  async deleteSnapshot(c, d) {
    const name = await requireSnapshot(c, d);
    return submitForGuest(
      c,
      d,
      { op: "guest.snapshot.delete", params: { name } },
      { snapshot: name },
    );
  },

  async growResources(c, d) {
    const body = await readJson(c, resourcesBody);
    const { vmid } = c.get("guest");
    const quota = d.quotas.quotaFor(vmid);
    const config = await d.reads.config(vmid, true);
    const params: Record<string, number> = {};
    const check = (
      field: "cores" | "memory_mib",
      wanted: number | undefined,
      current: number | undefined,
      max: number | undefined,
    ) => {
      if (wanted === undefined) return;
      if (max === undefined) {
        throw forbidden("no_quota", `no quota allows this guest to change ${field}`);
      }
      if (current !== undefined && wanted < current) {
        throw forbidden(
          "shrink_not_permitted",
          `${field} can only grow through this API (now ${current}, asked ${wanted})`,
        );
      }
      if (wanted > max) {
        throw forbidden(
          "quota_exceeded",
          `${field} ${wanted} is over the guest's quota of ${max}`,
          { quota: max },
        );
      }
      if (wanted !== current) params[field === "cores" ? "cores" : "memoryMiB"] = wanted;
    };
    check("cores", body.cores, config.cores, quota?.maxCores);
    check("memory_mib", body.memory_mib, config.memoryMiB, quota?.maxMemoryMiB);
    if (Object.keys(params).length === 0) {
      return c.json({ changed: false, cores: config.cores, memory_mib: config.memoryMiB }, 200);
    }
    return submitForGuest(c, d, { op: "guest.config", params });
  },

  async runBackup(c, d) {
    const body = await readJson(c, backupBody);
    const { vmid } = c.get("guest");
    const storage = d.backups.backupStorageFor(vmid);
    if (storage === undefined) {
      throw forbidden("no_backup_target", "no backup tier is configured for this guest");
    }
    return submitForGuest(c, d, { op: "guest.backup", params: { storage, mode: body.mode } });
  },

  async getOperation(c, d) {
    const id = parseOr422(operationIdParam, c.req.param("id"));
    const status = d.submitter.status(id);
    // Another guest's operation is indistinguishable from one that does not exist.
    if (!status || status.vmid !== c.get("guest").vmid) {
      throw notFound("no such operation for this guest");
    }
    return c.json(operationView(status));
  },
};
