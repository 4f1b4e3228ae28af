import type { PermSpec, RouteDef } from "./context.ts";
import { permissions } from "./handlers/access.ts";
import {
  clusterResources,
  nextId,
  nodeStatus,
  nodeStorage,
  nodes,
  nodeTime,
  storageConfig,
  storageContent,
  version,
} from "./handlers/cluster.ts";
import { diskSmart, listDisks } from "./handlers/disks.ts";
import { putConfig } from "./handlers/lxc-config.ts";
import { createCt } from "./handlers/lxc-create.ts";
import { destroy, resize } from "./handlers/lxc-disk.ts";
import { interfaces } from "./handlers/lxc-interfaces.ts";
import { reboot, shutdown, start, stop } from "./handlers/lxc-power.ts";
import { getConfig, getPending, listLxc, statusCurrent } from "./handlers/lxc-read.ts";
import {
  deleteVolume,
  pruneDelete,
  pruneDryRun,
  updateVolumeAttributes,
} from "./handlers/prune.ts";
import {
  createSnapshot,
  deleteSnapshot,
  listSnapshots,
  rollback,
  snapshotConfig,
  updateSnapshotConfig,
} from "./handlers/snapshots.ts";
import { updateStorage } from "./handlers/storage-config.ts";
import { createStorage, deleteStorage } from "./handlers/storage-create.ts";
import { listTasks, stopTask, taskLog, taskStatus } from "./handlers/tasks.ts";
import { vzdump } from "./handlers/vzdump.ts";

const ALL: PermSpec = { kind: "all" };
const HANDLER: PermSpec = { kind: "handler" };
const vm = (...privs: string[]): PermSpec => ({ kind: "check", path: "/vms/{vmid}", privs });
const vmAny = (...privs: string[]): PermSpec => ({ kind: "any", path: "/vms/{vmid}", privs });

const CT = "/nodes/{node}/lxc/{vmid}";

/** Every endpoint served, with the permission rule its schema states (docs/proxmox-behaviour.md#endpoint-summary). */
export const ROUTE_DEFS: readonly RouteDef[] = [
  { method: "GET", path: "/version", perm: ALL, handler: version },
  { method: "GET", path: "/nodes", perm: ALL, handler: nodes },
  {
    method: "GET",
    path: "/nodes/{node}/status",
    perm: { kind: "check", path: "/nodes/{node}", privs: ["Sys.Audit"] },
    handler: nodeStatus,
  },
  {
    method: "GET",
    path: "/nodes/{node}/time",
    perm: { kind: "check", path: "/nodes/{node}", privs: ["Sys.Audit"] },
    handler: nodeTime,
  },
  {
    method: "GET",
    path: "/nodes/{node}/disks/list",
    perm: { kind: "check", path: "/nodes/{node}", privs: ["Sys.Audit"] },
    handler: listDisks,
  },
  {
    method: "GET",
    path: "/nodes/{node}/disks/smart",
    perm: { kind: "check", path: "/", privs: ["Sys.Audit"] },
    handler: diskSmart,
  },
  { method: "GET", path: "/nodes/{node}/lxc", perm: ALL, handler: listLxc },
  { method: "POST", path: "/nodes/{node}/lxc", perm: HANDLER, handler: createCt },
  { method: "GET", path: `${CT}/status/current`, perm: vm("VM.Audit"), handler: statusCurrent },
  { method: "POST", path: `${CT}/status/start`, perm: vm("VM.PowerMgmt"), handler: start },
  { method: "POST", path: `${CT}/status/stop`, perm: vm("VM.PowerMgmt"), handler: stop },
  { method: "POST", path: `${CT}/status/shutdown`, perm: vm("VM.PowerMgmt"), handler: shutdown },
  { method: "POST", path: `${CT}/status/reboot`, perm: vm("VM.PowerMgmt"), handler: reboot },
  { method: "GET", path: `${CT}/config`, perm: vm("VM.Audit"), handler: getConfig },
  { method: "GET", path: `${CT}/interfaces`, perm: vm("VM.Audit"), handler: interfaces },
  {
    method: "PUT",
    path: `${CT}/config`,
    perm: vmAny(
      "VM.Config.Disk",
      "VM.Config.CPU",
      "VM.Config.Memory",
      "VM.Config.Network",
      "VM.Config.Options",
    ),
    handler: putConfig,
  },
  { method: "GET", path: `${CT}/pending`, perm: vm("VM.Audit"), handler: getPending },
  { method: "GET", path: `${CT}/snapshot`, perm: vm("VM.Audit"), handler: listSnapshots },
  { method: "POST", path: `${CT}/snapshot`, perm: vm("VM.Snapshot"), handler: createSnapshot },
  {
    method: "DELETE",
    path: `${CT}/snapshot/{snapname}`,
    perm: vm("VM.Snapshot"),
    handler: deleteSnapshot,
  },
  {
    method: "POST",
    path: `${CT}/snapshot/{snapname}/rollback`,
    perm: vmAny("VM.Snapshot", "VM.Snapshot.Rollback"),
    handler: rollback,
  },
  {
    method: "GET",
    path: `${CT}/snapshot/{snapname}/config`,
    perm: vmAny("VM.Snapshot", "VM.Snapshot.Rollback", "VM.Audit"),
    handler: snapshotConfig,
  },
  {
    method: "PUT",
    path: `${CT}/snapshot/{snapname}/config`,
    perm: vm("VM.Snapshot"),
    handler: updateSnapshotConfig,
  },
  { method: "PUT", path: `${CT}/resize`, perm: vmAny("VM.Config.Disk"), handler: resize },
  { method: "DELETE", path: CT, perm: vm("VM.Allocate"), handler: destroy },
  { method: "POST", path: "/nodes/{node}/vzdump", perm: HANDLER, handler: vzdump },
  { method: "GET", path: "/storage", perm: ALL, handler: storageConfig },
  {
    method: "POST",
    path: "/storage",
    perm: { kind: "check", path: "/storage", privs: ["Datastore.Allocate"] },
    handler: createStorage,
  },
  {
    // On the parent path, as update (pve-storage API2/Storage/Config.pm).
    method: "DELETE",
    path: "/storage/{storage}",
    perm: { kind: "check", path: "/storage", privs: ["Datastore.Allocate"] },
    handler: deleteStorage,
  },
  {
    // On the parent path, not /storage/{storage} (pve-storage API2/Storage/Config.pm).
    method: "PUT",
    path: "/storage/{storage}",
    perm: { kind: "check", path: "/storage", privs: ["Datastore.Allocate"] },
    handler: updateStorage,
  },
  { method: "GET", path: "/nodes/{node}/storage", perm: ALL, handler: nodeStorage },
  {
    method: "GET",
    path: "/nodes/{node}/storage/{storage}/content",
    perm: {
      kind: "any",
      path: "/storage/{storage}",
      privs: ["Datastore.Audit", "Datastore.AllocateSpace"],
    },
    handler: storageContent,
  },
  {
    method: "GET",
    path: "/nodes/{node}/storage/{storage}/prunebackups",
    perm: {
      kind: "any",
      path: "/storage/{storage}",
      privs: ["Datastore.Audit", "Datastore.AllocateSpace"],
    },
    handler: pruneDryRun,
  },
  {
    method: "DELETE",
    path: "/nodes/{node}/storage/{storage}/prunebackups",
    perm: HANDLER,
    handler: pruneDelete,
  },
  {
    method: "DELETE",
    path: "/nodes/{node}/storage/{storage}/content/{volume}",
    perm: HANDLER,
    handler: deleteVolume,
  },
  {
    method: "PUT",
    path: "/nodes/{node}/storage/{storage}/content/{volume}",
    perm: HANDLER,
    handler: updateVolumeAttributes,
  },
  { method: "GET", path: "/cluster/resources", perm: ALL, handler: clusterResources },
  { method: "GET", path: "/cluster/nextid", perm: ALL, handler: nextId },
  { method: "GET", path: "/nodes/{node}/tasks", perm: ALL, handler: listTasks },
  { method: "GET", path: "/nodes/{node}/tasks/{upid}/status", perm: ALL, handler: taskStatus },
  { method: "GET", path: "/nodes/{node}/tasks/{upid}/log", perm: ALL, handler: taskLog },
  { method: "DELETE", path: "/nodes/{node}/tasks/{upid}", perm: ALL, handler: stopTask },
  { method: "GET", path: "/access/permissions", perm: ALL, handler: permissions },
  {
    // allowtoken: 0 — a token gets the 403 from docs/proxmox-behaviour.md#api-envelope-and-errors before anything else.
    method: "POST",
    path: "/access/ticket",
    perm: ALL,
    allowtoken: false,
    handler: () => null,
  },
];
