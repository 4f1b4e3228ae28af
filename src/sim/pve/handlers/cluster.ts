import type { RequestContext } from "../context.ts";
import { strParam } from "../context.ts";
import { fail, paramError } from "../errors.ts";
import type { SimStorage } from "../state.ts";
import { vmstatus } from "../vmstatus.ts";
import { activationError } from "./storage-create.ts";

export function version(ctx: RequestContext): unknown {
  return { ...ctx.core.version };
}

/** ssl_fingerprint is the node's own leaf SHA-256, colon form (docs/proxmox-behaviour.md#ssl-fingerprint). */
export function nodes(ctx: RequestContext): unknown {
  const { core } = ctx;
  const entry: Record<string, unknown> = {
    node: core.node,
    status: "online",
    type: "node",
    id: `node/${core.node}`,
    level: "",
    ssl_fingerprint: core.fingerprint,
  };
  // Entries without Sys.Audit get reduced stats (docs/proxmox-behaviour.md#endpoint-summary).
  if (core.access.has(ctx.who, `/nodes/${core.node}`, "Sys.Audit")) {
    Object.assign(entry, {
      cpu: 0.0312,
      maxcpu: core.hostCpus,
      mem: Math.floor(core.hostMemory * 0.41),
      maxmem: core.hostMemory,
      disk: 9 * 1024 ** 3,
      maxdisk: 100 * 1024 ** 3,
      uptime: Math.floor((core.clock.now() - core.startedAt) / 1000) + 86_400,
    });
  }
  return [entry];
}

/** GET /nodes/{node}/time: the simulator's clock (skewed when a test gives it a skewed one). */
export function nodeTime(ctx: RequestContext): unknown {
  const time = Math.floor(ctx.core.clock.now() / 1000);
  return { time, localtime: time, timezone: "UTC" };
}

export function nodeStatus(ctx: RequestContext): unknown {
  const { core } = ctx;
  const used = Math.floor(core.hostMemory * 0.41);
  return {
    uptime: Math.floor((core.clock.now() - core.startedAt) / 1000) + 86_400,
    cpu: 0.0312,
    wait: 0.0004,
    idle: 0,
    // loadavg entries are strings on the wire (docs/proxmox-behaviour.md#json-type-quirks: Perl emits what it last used).
    loadavg: ["0.21", "0.18", "0.12"],
    cpuinfo: {
      cpus: core.hostCpus,
      sockets: 1,
      cores: core.hostCpus,
      model: "Simulated CPU",
      mhz: "2400.000",
      hvm: "1",
      flags: "fpu vme de pse",
      user_hz: 100,
    },
    memory: {
      total: core.hostMemory,
      used,
      free: core.hostMemory - used,
      available: core.hostMemory - used,
    },
    swap: { total: 8 * 1024 ** 3, used: 0, free: 8 * 1024 ** 3 },
    rootfs: {
      total: 100 * 1024 ** 3,
      used: 9 * 1024 ** 3,
      avail: 91 * 1024 ** 3,
      free: 91 * 1024 ** 3,
    },
    ksm: { shared: 0 },
    kversion: "Linux 6.17.2-1-pve #1 SMP PREEMPT_DYNAMIC PMX 6.17.2-1 (2025-11-20T10:00Z)",
    pveversion: `pve-manager/${core.version.version}/${core.version.repoid}`,
    "boot-info": { mode: "efi", secureboot: 0 },
    "current-kernel": {
      sysname: "Linux",
      release: "6.17.2-1-pve",
      version: "#1 SMP PREEMPT_DYNAMIC PMX 6.17.2-1 (2025-11-20T10:00Z)",
      machine: "x86_64",
    },
  };
}

function storageVisible(ctx: RequestContext, id: string): boolean {
  const privs = ctx.core.access.privileges(ctx.who, `/storage/${id}`);
  return privs.has("Datastore.Audit") || privs.has("Datastore.AllocateSpace");
}

/** GET /storage: config entries, silently filtered (docs/proxmox-behaviour.md#endpoint-summary). */
export function storageConfig(ctx: RequestContext): unknown {
  const type = strParam(ctx, "type");
  const out: Record<string, unknown>[] = [];
  for (const s of ctx.core.state.storages.values()) {
    if (type !== undefined && s.type !== type) continue;
    if (!storageVisible(ctx, s.storage)) continue;
    const e: Record<string, unknown> = {
      storage: s.storage,
      type: s.type,
      content: s.content.join(","),
      digest: ctx.core.state.storageDigest(),
    };
    if (s.path !== undefined) e.path = s.path;
    if (s.vgname !== undefined) e.vgname = s.vgname;
    if (s.thinpool !== undefined) e.thinpool = s.thinpool;
    if (s.shared) e.shared = 1;
    if (s.pruneBackups !== undefined) e["prune-backups"] = s.pruneBackups;
    if (s.maxProtectedBackups !== undefined) e["max-protected-backups"] = s.maxProtectedBackups;
    if (s.isMountpoint) e.is_mountpoint = "yes";
    if (s.disabled) e.disable = 1;
    for (const k of [
      "server",
      "export",
      "share",
      "username",
      "datastore",
      "fingerprint",
      "namespace",
      "options",
      "smbversion",
    ] as const) {
      if (s[k] !== undefined) e[k] = s[k];
    }
    if (s.encryptionKeyFingerprint !== undefined) e["encryption-key"] = s.encryptionKeyFingerprint;
    out.push(e);
  }
  return out;
}

function storageStatus(ctx: RequestContext, s: SimStorage): Record<string, unknown> {
  // An inactive storage reports zero sizes (docs/proxmox-behaviour.md#storage-activation).
  if (s.disabled || activationError(s, ctx.core.hostFs) !== undefined) {
    return {
      storage: s.storage,
      type: s.type,
      content: s.content.join(","),
      active: 0,
      enabled: s.disabled ? 0 : 1,
      shared: s.shared ? 1 : 0,
      total: 0,
      used: 0,
      avail: 0,
    };
  }
  const used = ctx.core.state.used(s);
  return {
    storage: s.storage,
    type: s.type,
    content: s.content.join(","),
    active: 1,
    enabled: 1,
    shared: s.shared ? 1 : 0,
    total: s.total,
    used,
    avail: s.total - used,
    used_fraction: used / s.total,
  };
}

export function nodeStorage(ctx: RequestContext): unknown {
  const content = strParam(ctx, "content");
  const only = strParam(ctx, "storage");
  const out: Record<string, unknown>[] = [];
  for (const s of ctx.core.state.storages.values()) {
    if (only !== undefined && s.storage !== only) continue;
    if (content !== undefined && !content.split(",").some((c) => s.content.includes(c))) continue;
    if (!storageVisible(ctx, s.storage)) continue;
    out.push(storageStatus(ctx, s));
  }
  return out;
}

export function storageContent(ctx: RequestContext): unknown {
  const id = strParam(ctx, "storage") ?? "";
  const s = ctx.core.state.storages.get(id);
  if (s === undefined) throw fail(`storage '${id}' does not exist`);
  const content = strParam(ctx, "content");
  const vmid = ctx.params.vmid === undefined ? undefined : Number(ctx.params.vmid);
  const out: Record<string, unknown>[] = [];
  for (const v of s.volumes.values()) {
    if (content !== undefined && v.content !== content) continue;
    if (vmid !== undefined && v.vmid !== vmid) continue;
    const e: Record<string, unknown> = {
      volid: v.volid,
      content: v.content,
      format: v.format,
      size: v.size,
      ctime: v.ctime,
    };
    if (v.vmid !== undefined) e.vmid = v.vmid;
    if (v.notes !== undefined) e.notes = v.notes;
    if (v.content === "backup") {
      e.subtype = "lxc";
      e.protected = v.protected ? 1 : 0;
    }
    out.push(e);
  }
  return out;
}

/** Filtered by VM.Audit / Datastore.Audit / Sys.Audit, never 403 (docs/proxmox-behaviour.md#api-tokens); 0/1 booleans (docs/proxmox-behaviour.md#json-type-quirks). */
export function clusterResources(ctx: RequestContext): unknown {
  const { core } = ctx;
  const type = strParam(ctx, "type");
  const now = core.clock.now();
  const out: Record<string, unknown>[] = [];
  if (type === undefined || type === "node") {
    if (core.access.has(ctx.who, `/nodes/${core.node}`, "Sys.Audit")) {
      out.push({
        id: `node/${core.node}`,
        type: "node",
        node: core.node,
        status: "online",
        cpu: 0.0312,
        maxcpu: core.hostCpus,
        mem: Math.floor(core.hostMemory * 0.41),
        maxmem: core.hostMemory,
        disk: 9 * 1024 ** 3,
        maxdisk: 100 * 1024 ** 3,
        uptime: Math.floor((now - core.startedAt) / 1000) + 86_400,
        level: "",
        cgroup_mode: 2,
      });
    }
  }
  if (type === undefined || type === "vm") {
    for (const g of core.state.guests.values()) {
      if (!core.access.has(ctx.who, `/vms/${g.vmid}`, "VM.Audit")) continue;
      const st = vmstatus(core, g, now);
      out.push({
        id: `lxc/${g.vmid}`,
        type: "lxc",
        vmid: g.vmid,
        name: st.name,
        node: core.node,
        status: st.status,
        cpu: st.cpu,
        maxcpu: st.cpus,
        mem: st.mem,
        maxmem: st.maxmem,
        disk: st.disk,
        maxdisk: st.maxdisk,
        netin: st.netin,
        netout: st.netout,
        diskread: st.diskread,
        diskwrite: st.diskwrite,
        uptime: st.uptime,
        template: g.config.template === 1 ? 1 : 0,
        ...(g.config.tags === undefined ? {} : { tags: g.config.tags }),
        ...(g.config.lock === undefined ? {} : { lock: g.config.lock }),
      });
    }
  }
  if (type === undefined || type === "storage") {
    for (const s of core.state.storages.values()) {
      if (!storageVisible(ctx, s.storage)) continue;
      const used = core.state.used(s);
      out.push({
        id: `storage/${core.node}/${s.storage}`,
        type: "storage",
        storage: s.storage,
        node: core.node,
        status: "available",
        plugintype: s.type,
        content: s.content.join(","),
        disk: used,
        maxdisk: s.total,
        shared: s.shared ? 1 : 0,
      });
    }
  }
  return out;
}

/**
 * GET /cluster/nextid: a JSON string (docs/proxmox-behaviour.md#json-type-quirks); `vmid=N` taken → 400; none free → 500
 * (docs/proxmox-behaviour.md#unknown-node-and-nextid).
 */
export function nextId(ctx: RequestContext): unknown {
  const guests = ctx.core.state.guests;
  const wanted = ctx.params.vmid;
  if (wanted !== undefined && wanted !== null && wanted !== "") {
    const n = Number(wanted);
    if (guests.has(n)) throw paramError({ vmid: `VM ${n} already exists` });
    return String(n);
  }
  for (let id = 100; id <= 1_000_000; id++) if (!guests.has(id)) return String(id);
  throw fail("unable to get any free VMID in range [100, 1000000]");
}
