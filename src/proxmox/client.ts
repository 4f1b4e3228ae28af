import { z } from "zod";
import { silentLogger } from "../log/types.ts";
import { systemClock } from "../util/clock.ts";
import { parseApiToken } from "./api-token.ts";
import {
  defaultPollSchedule,
  type LxcConfigUpdate,
  type ProxmoxClient,
  type ProxmoxClientOptions,
  type TaskLogPage,
} from "./client-types.ts";
import {
  type DecodedList,
  decodeList,
  type ListItemProblem,
  type ListSpec,
  rawId,
  rawVmid,
} from "./decode-list.ts";
import { createHttp, type Params } from "./http.ts";
import { proxmoxRequestRetry } from "./retry.ts";
import {
  clusterResourceSchema,
  nextIdSchema,
  nodeEntrySchema,
  nodeStatusSchema,
  permissionsSchema,
  versionSchema,
} from "./schema-cluster.ts";
import { diskEntrySchema } from "./schema-disks.ts";
import { lxcConfigSchema, lxcStatusSchema, snapshotListSchema } from "./schema-guest.ts";
import { guestInterfacesSchema } from "./schema-interfaces.ts";
import {
  createdStorageSchema,
  nodeStorageSchema,
  pruneMarkSchema,
  storageConfigSchema,
  storageVolumeSchema,
} from "./schema-storage.ts";
import {
  nullOrUpidSchema,
  taskLogSchema,
  taskStatusSchema,
  taskSummarySchema,
  upidSchema,
} from "./schema-task.ts";
import { nodeTimeSchema } from "./schema-time.ts";
import { normalizeTrust } from "./tls-trust.ts";
import { createTransport } from "./transport.ts";
import { ProxmoxConfigError, ProxmoxParamError } from "./transport-errors.ts";
import { parseUpid } from "./upid.ts";
import { readTail, waitForTask } from "./wait-task.ts";

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

const LXC: ListSpec = { list: "lxc", identify: (r) => ({ vmid: rawVmid(r.vmid) }) };
const DISKS: ListSpec = { list: "disks", identify: (r) => ({ id: rawId(r.devpath) }) };
const NODES: ListSpec = { list: "nodes", identify: (r) => ({ id: rawId(r.node) }) };
const STORAGE: ListSpec = { list: "storage", identify: (r) => ({ id: rawId(r.storage) }) };
const NODE_STORAGE: ListSpec = {
  list: "node-storage",
  identify: (r) => ({ id: rawId(r.storage) }),
};
const STORAGE_CONTENT: ListSpec = {
  list: "storage-content",
  identify: (r) => ({ id: rawId(r.volid), vmid: rawVmid(r.vmid) }),
};
const PRUNE_MARKS: ListSpec = {
  list: "prune-marks",
  identify: (r) => ({ id: rawId(r.volid), vmid: rawVmid(r.vmid) }),
};
const RESOURCES: ListSpec = {
  list: "cluster-resources",
  identify: (r) => ({ id: rawId(r.id), vmid: rawVmid(r.vmid) }),
};
const TASKS: ListSpec = {
  list: "tasks",
  identify: (r) => ({ id: rawId(r.upid), vmid: rawVmid(r.id) }),
};
const DEFAULT_NO_SUCH_TASK_WINDOW_MS = 5_000;
const NODE_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
// pve-configid, maxLength 40 (docs/proxmox-behaviour.md#endpoint-summary).
const SNAPSHOT_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,39}$/;

/**
 * Creates the API client. Validates every option up front (bad input changes nothing, and
 * the token secret is never echoed); no connection is made until the first request.
 */
export function createProxmoxClient(opts: ProxmoxClientOptions): ProxmoxClient {
  const endpoint = parseEndpoint(opts.endpoint);
  if (typeof opts.node !== "string" || !NODE_NAME.test(opts.node)) {
    throw new ProxmoxConfigError("node", "must be a host name label, e.g. pve");
  }
  const token = parseApiToken(opts.token);
  const trust = normalizeTrust(opts.trust);
  const logger = (opts.logger ?? silentLogger).child({ component: "proxmox" });
  const clock = opts.clock ?? systemClock;
  const requestTimeoutMs = positive(
    "requestTimeoutMs",
    opts.requestTimeoutMs,
    DEFAULT_REQUEST_TIMEOUT_MS,
  );
  const retry = { ...proxmoxRequestRetry, ...opts.retry };
  const schedule = { ...defaultPollSchedule, ...opts.taskPoll };
  const noSuchTaskWindowMs = opts.noSuchTaskWindowMs ?? DEFAULT_NO_SUCH_TASK_WINDOW_MS;
  const node = opts.node;

  const transport = createTransport({
    endpoint,
    trust,
    logger,
    connectTimeoutMs: requestTimeoutMs,
  });
  const http = createHttp({
    endpoint,
    token,
    transport,
    clock,
    logger,
    requestTimeoutMs,
    retry,
    random: opts.random,
  });

  const nodePath = `/nodes/${enc(node)}`;
  const ctPath = (vmid: number) => `${nodePath}/lxc/${vmidOf(vmid)}`;
  const taskPath = (upid: string) => `/nodes/${enc(parseUpid(upid).node)}/tasks/${enc(upid)}`;

  const get = async <T>(
    path: string,
    schema: z.ZodType<T, unknown>,
    params?: Params,
    signal?: AbortSignal,
  ) => (await http.call({ method: "GET", path, schema, params, signal })).data;
  // One unreadable item must not blank a list (docs/proxmox-behaviour.md#per-item-list-decoding).
  const report = (p: ListItemProblem) => {
    logger.warn(
      p.outcome === "dropped"
        ? "Proxmox list item could not be decoded and is left out"
        : "Proxmox list item decoded without some fields",
      { ...p },
    );
    opts.onListItemProblem?.(p);
  };
  const list = async <T>(
    path: string,
    item: z.ZodType<T, unknown>,
    spec: ListSpec,
    params?: Params,
    signal?: AbortSignal,
  ): Promise<DecodedList<T>> => {
    const raw = await get(path, z.array(z.unknown()), params, signal);
    const decoded = decodeList(raw, item, spec);
    for (const p of decoded.problems ?? []) report(p);
    return decoded;
  };
  const task = async (
    method: "POST" | "PUT" | "DELETE",
    path: string,
    params?: Params,
    signal?: AbortSignal,
  ) => (await http.call({ method, path, schema: upidSchema, params, signal })).data;

  const taskLog = async (
    upid: string,
    start: number,
    limit: number,
    signal?: AbortSignal,
  ): Promise<TaskLogPage> => {
    const r = await http.call({
      method: "GET",
      path: `${taskPath(upid)}/log`,
      schema: taskLogSchema,
      params: { start: Math.max(0, Math.floor(start)), limit: Math.max(1, Math.floor(limit)) },
      signal,
    });
    return { lines: r.data, total: r.total ?? r.data.length };
  };
  const taskStatus = (upid: string, signal?: AbortSignal) =>
    get(`${taskPath(upid)}/status`, taskStatusSchema, undefined, signal);

  return {
    node,
    tokenId: token.tokenId,

    version: async (o) => get("/version", versionSchema, undefined, o?.signal),
    nodes: async (o) => list("/nodes", nodeEntrySchema, NODES, undefined, o?.signal),
    nodeStatus: async (o) => get(`${nodePath}/status`, nodeStatusSchema, undefined, o?.signal),
    // skipsmart=1: the node would run smartctl itself per disk, 10 s each; the agent reads
    // SMART through its own fenced side (docs/proxmox-behaviour.md#disk-inventory).
    listDisks: async (o) =>
      list(`${nodePath}/disks/list`, diskEntrySchema, DISKS, { skipsmart: 1 }, o?.signal),
    nodeTime: async (o) => get(`${nodePath}/time`, nodeTimeSchema, undefined, o?.signal),
    listLXC: async (o) => list(`${nodePath}/lxc`, lxcStatusSchema, LXC, undefined, o?.signal),
    guestStatus: async (vmid, o) =>
      get(`${ctPath(vmid)}/status/current`, lxcStatusSchema, undefined, o?.signal),
    guestConfig: async (vmid, o) =>
      get(
        `${ctPath(vmid)}/config`,
        lxcConfigSchema,
        { current: o?.current, snapshot: o?.snapshot },
        o?.signal,
      ),
    guestInterfaces: async (vmid, o) =>
      get(`${ctPath(vmid)}/interfaces`, guestInterfacesSchema, undefined, o?.signal),
    listSnapshots: async (vmid, o) => {
      const l = await get(`${ctPath(vmid)}/snapshot`, snapshotListSchema, undefined, o?.signal);
      for (const p of l.problems ?? []) report({ ...p, vmid });
      return l;
    },
    listStorage: async (o) =>
      list("/storage", storageConfigSchema, STORAGE, { type: o?.type }, o?.signal),
    nodeStorage: async (o) =>
      list(
        `${nodePath}/storage`,
        nodeStorageSchema,
        NODE_STORAGE,
        { content: o?.content, enabled: o?.enabled },
        o?.signal,
      ),
    storageContent: async (storage, o) =>
      list(
        `${nodePath}/storage/${enc(storageId(storage))}/content`,
        storageVolumeSchema,
        STORAGE_CONTENT,
        { content: o?.content, vmid: o?.vmid === undefined ? undefined : vmidOf(o.vmid) },
        o?.signal,
      ),
    clusterResources: async (o) =>
      list("/cluster/resources", clusterResourceSchema, RESOURCES, { type: o?.type }, o?.signal),
    nextId: async (o) =>
      get(
        "/cluster/nextid",
        nextIdSchema,
        { vmid: o?.vmid === undefined ? undefined : vmidOf(o.vmid) },
        o?.signal,
      ),
    listTasks: async (p) =>
      list(
        `${nodePath}/tasks`,
        taskSummarySchema,
        TASKS,
        {
          vmid: p?.vmid === undefined ? undefined : vmidOf(p.vmid),
          typefilter: p?.typefilter,
          source: p?.source,
          errors: p?.errors,
          limit: p?.limit,
          since: p?.since,
        },
        p?.signal,
      ),
    permissions: async (o) =>
      get("/access/permissions", permissionsSchema, { path: o?.path }, o?.signal),

    restoreLXC: async (p, o) =>
      task(
        "POST",
        `${nodePath}/lxc`,
        {
          ...p.extra,
          vmid: vmidOf(p.vmid),
          ostemplate: nonEmpty("archive", p.archive),
          restore: true,
          storage: p.storage,
          unique: p.unique,
          force: p.force,
          hostname: p.hostname,
          memory: p.memoryMiB,
          swap: p.swapMiB,
          cores: p.cores,
          description: p.description,
          pool: p.pool,
          start: p.start,
          unprivileged: p.unprivileged,
          tags: p.tags?.join(";"),
          ...p.net,
        },
        o?.signal,
      ),
    vzdump: async (p, o) =>
      task(
        "POST",
        `${nodePath}/vzdump`,
        {
          ...p.extra,
          vmid: String(vmidOf(p.vmid)),
          storage: storageId(p.storage),
          mode: p.mode,
          compress: p.compress,
          "notes-template": p.notesTemplate,
          protected: p.protected,
          remove: p.remove,
        },
        o?.signal,
      ),
    snapshot: async (vmid, name, o) =>
      task(
        "POST",
        `${ctPath(vmid)}/snapshot`,
        { snapname: snapName(name), description: o?.description },
        o?.signal,
      ),
    rollback: async (vmid, name, o) =>
      task(
        "POST",
        `${ctPath(vmid)}/snapshot/${enc(snapName(name))}/rollback`,
        { start: o?.start },
        o?.signal,
      ),
    deleteSnapshot: async (vmid, name, o) =>
      task(
        "DELETE",
        `${ctPath(vmid)}/snapshot/${enc(snapName(name))}`,
        { force: o?.force },
        o?.signal,
      ),
    start: async (vmid, o) => task("POST", `${ctPath(vmid)}/status/start`, undefined, o?.signal),
    stop: async (vmid, o) =>
      task(
        "POST",
        `${ctPath(vmid)}/status/stop`,
        { "overrule-shutdown": o?.overruleShutdown },
        o?.signal,
      ),
    shutdown: async (vmid, o) =>
      task(
        "POST",
        `${ctPath(vmid)}/status/shutdown`,
        { timeout: o?.timeoutSec, forceStop: o?.forceStop },
        o?.signal,
      ),
    resize: async (vmid, p, o) =>
      task(
        "PUT",
        `${ctPath(vmid)}/resize`,
        { disk: diskId(p.disk), size: diskSize(p.size), digest: p.digest },
        o?.signal,
      ),
    destroy: async (vmid, p, o) =>
      task(
        "DELETE",
        ctPath(vmid),
        {
          force: p?.force,
          purge: p?.purge,
          "destroy-unreferenced-disks": p?.destroyUnreferencedDisks,
        },
        o?.signal,
      ),
    setConfig: async (vmid, p, o) =>
      (
        await http.call({
          method: "PUT",
          path: `${ctPath(vmid)}/config`,
          schema: nullOrUpidSchema,
          params: configParams(p),
          signal: o?.signal,
        })
      ).data,

    createStorage: async (p, o) => {
      const r = await http.call({
        method: "POST",
        path: "/storage",
        schema: createdStorageSchema,
        params: { ...p, storage: storageId(p.storage) },
        signal: o?.signal,
      });
      return r.data;
    },
    deleteStorage: async (storage, o) => {
      await http.call({
        method: "DELETE",
        path: `/storage/${enc(storageId(storage))}`,
        schema: z.unknown(),
        signal: o?.signal,
      });
    },

    pruneDryRun: async (storage, p, o) =>
      list(
        `${nodePath}/storage/${enc(storageId(storage))}/prunebackups`,
        pruneMarkSchema,
        PRUNE_MARKS,
        { vmid: String(vmidOf(p.vmid)), type: "lxc", "prune-backups": p.pruneBackups },
        o?.signal,
      ),
    pruneBackups: async (storage, p, o) =>
      task(
        "DELETE",
        `${nodePath}/storage/${enc(storageId(storage))}/prunebackups`,
        { vmid: String(vmidOf(p.vmid)), type: "lxc", "prune-backups": p.pruneBackups },
        o?.signal,
      ),
    deleteVolume: async (storage, volid, o) =>
      task(
        "DELETE",
        `${nodePath}/storage/${enc(storageId(storage))}/content/${enc(volid)}`,
        undefined,
        o?.signal,
      ),

    updateVolumeAttributes: async (storage, volid, p, o) => {
      await http.call({
        method: "PUT",
        path: `${nodePath}/storage/${enc(storageId(storage))}/content/${enc(volid)}`,
        schema: z.null(),
        params: {
          ...(p.protected !== undefined ? { protected: p.protected ? 1 : 0 } : {}),
          ...(p.notes !== undefined ? { notes: p.notes } : {}),
        },
        signal: o?.signal,
      });
    },

    taskStatusOnce: async (upid, o) => taskStatus(upid, o?.signal),
    taskLog: async (upid, start, limit, o) => taskLog(upid, start, limit, o?.signal),
    taskLogTail: async (upid, lines = 50, o) =>
      readTail({ log: taskLog }, upid, Math.max(1, lines), o?.signal),
    waitTask: async (upid, o) =>
      waitForTask(
        {
          clock,
          schedule,
          noSuchTaskWindowMs,
          callerTokenId: token.tokenId,
          status: taskStatus,
          log: taskLog,
        },
        upid,
        o,
      ),

    clockOffset: () => http.clockOffset(),
    close: () => transport.close(),
  };
}

function configParams(p: LxcConfigUpdate): Params {
  if (p.description !== undefined && p.description.length > 8192) {
    throw new ProxmoxParamError("description", "longer than 8192 characters (PVE limit)");
  }
  const params: Params = {
    ...p.extra,
    hostname: p.hostname,
    description: p.description,
    memory: p.memoryMiB,
    swap: p.swapMiB,
    cores: p.cores,
    cpulimit: p.cpulimit,
    onboot: p.onboot,
    protection: p.protection,
    tags: p.tags?.join(";"),
    features: p.features,
    env: p.env,
    ...p.net,
    ...p.mountpoints,
    delete: p.delete && p.delete.length > 0 ? p.delete.join(",") : undefined,
    digest: p.digest,
  };
  for (const [k, v] of Object.entries(params)) {
    // Config values must not contain newlines, except the description (docs/proxmox-behaviour.md#snapshots-and-descriptions).
    if (k !== "description" && typeof v === "string" && /[\r\n]/.test(v)) {
      throw new ProxmoxParamError(k, "contains a newline, which PVE rejects");
    }
  }
  return params;
}

function parseEndpoint(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ProxmoxConfigError("endpoint", "not a URL (expected https://HOST:8006)");
  }
  if (url.protocol !== "https:") throw new ProxmoxConfigError("endpoint", "must use https://");
  if (url.username || url.password) {
    throw new ProxmoxConfigError("endpoint", "must not carry credentials; use the token option");
  }
  if (url.search || url.hash)
    throw new ProxmoxConfigError("endpoint", "must not have a query or fragment");
  return url;
}

function positive(field: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isFinite(v) || v <= 0)
    throw new ProxmoxConfigError(field, "must be a positive number");
  return v;
}

const enc = encodeURIComponent;

function vmidOf(vmid: number): number {
  if (!Number.isInteger(vmid) || vmid < 100 || vmid > 999_999_999) {
    throw new ProxmoxParamError("vmid", `${String(vmid)} is not a valid VMID (100–999999999)`);
  }
  return vmid;
}

function snapName(name: string): string {
  if (typeof name !== "string" || !SNAPSHOT_NAME.test(name)) {
    throw new ProxmoxParamError(
      "snapname",
      "must start with a letter, then letters, digits, _ or -, at most 40",
    );
  }
  return name;
}

function storageId(s: string): string {
  if (typeof s !== "string" || !/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(s)) {
    throw new ProxmoxParamError("storage", "not a storage id");
  }
  return s;
}

function diskId(d: string): string {
  if (d !== "rootfs" && !/^mp(?:\d|[1-9]\d|1\d\d|2[0-4]\d|25[0-5])$/.test(d)) {
    throw new ProxmoxParamError("disk", "must be rootfs or mp0…mp255");
  }
  return d;
}

function diskSize(s: string): string {
  if (!/^\+?\d+(\.\d+)?[KMGT]?$/.test(s)) {
    throw new ProxmoxParamError("size", "must look like [+]N[KMGT], e.g. +2G");
  }
  return s;
}

function nonEmpty(field: string, s: string): string {
  if (typeof s !== "string" || s.trim() === "")
    throw new ProxmoxParamError(field, "must not be empty");
  return s;
}
