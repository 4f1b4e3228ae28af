import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { normalizeDescription } from "../../src/proxmox/description.ts";
import { lenientBool, lenientInt, lenientNumber } from "../../src/proxmox/lenient.ts";
import {
  clusterResourceSchema,
  nextIdSchema,
  nodeEntrySchema,
  nodeStatusSchema,
  permissionsSchema,
} from "../../src/proxmox/schema-cluster.ts";
import {
  lxcConfigSchema,
  lxcStatusSchema,
  snapshotListSchema,
} from "../../src/proxmox/schema-guest.ts";
import { nodeStorageSchema, storageVolumeSchema } from "../../src/proxmox/schema-storage.ts";
import { isTaskSuccess, taskLogSchema, taskStatusSchema } from "../../src/proxmox/schema-task.ts";

describe("lenient primitives (docs/proxmox-behaviour.md#json-type-quirks)", () => {
  test("numbers and booleans arrive in several forms", () => {
    expect(lenientInt.parse("100")).toBe(100);
    expect(lenientInt.parse(100)).toBe(100);
    expect(lenientNumber.parse("0.5")).toBe(0.5);
    expect(lenientBool.parse(0)).toBe(false);
    expect(lenientBool.parse(1)).toBe(true);
    expect(lenientBool.parse("1")).toBe(true);
    expect(lenientBool.parse(true)).toBe(true);
    expect(lenientInt.safeParse("1.5").success).toBe(false);
    expect(lenientInt.safeParse("abc").success).toBe(false);
    expect(lenientBool.safeParse("true").success).toBe(false);
  });

  test("nextid is a string on the wire", () => {
    expect(nextIdSchema.parse("100")).toBe(100);
  });
});

describe("captured shapes", () => {
  test("task status captured from a real server (docs/proxmox-behaviour.md#task-status)", () => {
    const wire = JSON.parse(
      '{"data":{"id":"100","pid":29475,"status":"stopped","type":"qmstart","pstart":1062565,"exitstatus":"WARNINGS: 1","upid":"UPID:dahu-2:00007323:001036A5:6419CAF8:qmstart:100:root@pam:","starttime":1679411960,"user":"root@pam","node":"dahu-2"}}',
    );
    const s = taskStatusSchema.parse(wire.data);
    expect(s).toMatchObject({
      upid: "UPID:dahu-2:00007323:001036A5:6419CAF8:qmstart:100:root@pam:",
      status: "stopped",
      exitstatus: "WARNINGS: 1",
      pid: 29475,
      id: "100",
      node: "dahu-2",
    });
    expect(isTaskSuccess(s.exitstatus)).toBe(true);
    expect(isTaskSuccess("OK")).toBe(true);
    expect(isTaskSuccess("CT is locked (snapshot)")).toBe(false);
    expect(isTaskSuccess("WARNINGS: x")).toBe(false);
  });

  test("a token's task status splits tokenid", () => {
    const s = taskStatusSchema.parse({
      upid: "UPID:pve:00001234:00ABCDEF:6553F100:vzsnapshot:100:agent@pve!felhom:",
      node: "pve",
      pid: 4660,
      pstart: 11259375,
      starttime: 1700000000,
      type: "vzsnapshot",
      id: "100",
      user: "agent@pve",
      tokenid: "felhom",
      status: "running",
    });
    expect(s.tokenid).toBe("felhom");
    expect(s.exitstatus).toBeUndefined();
  });

  test("task log lines with total", () => {
    expect(taskLogSchema.parse([{ n: 1, t: "no content" }])).toEqual([{ n: 1, t: "no content" }]);
  });

  test("node list with ssl_fingerprint", () => {
    const n = nodeEntrySchema.parse({
      node: "pve",
      status: "online",
      cpu: 0.0123,
      maxcpu: 8,
      mem: 4_000_000_000,
      maxmem: 16_000_000_000,
      uptime: 3600,
      ssl_fingerprint:
        "80:D4:F2:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:F5",
      level: "",
      id: "node/pve",
      type: "node",
    });
    expect(n.sslFingerprint).toStartWith("80:D4:F2");
    expect(n.maxmemBytes).toBe(16_000_000_000);
  });

  test("node status loadavg strings become numbers", () => {
    const s = nodeStatusSchema.parse({
      cpu: 0.01,
      loadavg: ["0.05", "0.10", "0.20"],
      memory: { total: 100, used: 40, free: 60 },
      uptime: 10,
      pveversion: "pve-manager/9.1.4/abc",
      "boot-info": { mode: "efi" },
    });
    expect(s.loadavg).toEqual([0.05, 0.1, 0.2]);
    expect(s.memory).toEqual({ totalBytes: 100, usedBytes: 40, freeBytes: 60 });
  });

  test("LXC status: bytes named as bytes, template 0/1, ha object", () => {
    const s = lxcStatusSchema.parse({
      vmid: "100",
      status: "running",
      name: "customer-a",
      maxmem: 2048 * 1024 * 1024,
      mem: 123456,
      maxswap: 512 * 1024 * 1024,
      maxdisk: 8 * 1024 ** 3,
      disk: 1024,
      cpus: 2,
      cpu: 0.02,
      uptime: 77,
      template: 0,
      tags: "felhom;customer",
      type: "lxc",
      pid: 999,
      ha: { managed: 0 },
      pressurecpusome: 0,
    });
    expect(s).toMatchObject({
      vmid: 100,
      maxmemBytes: 2 * 1024 ** 3,
      maxswapBytes: 512 * 1024 ** 2,
      template: false,
      tags: ["felhom", "customer"],
      haManaged: false,
    });
  });

  test("LXC config: memory in MiB, digest, indexed keys, raw text", () => {
    const c = lxcConfigSchema.parse({
      digest: "a1b2c3",
      hostname: "customer-a",
      memory: 2048,
      swap: 512,
      cores: 2,
      cpulimit: "1.5",
      onboot: 1,
      unprivileged: 1,
      features: "keyctl=1,nesting=1",
      rootfs: "local-lvm:vm-100-disk-0,size=8G",
      mp0: "local-lvm:vm-100-disk-1,mp=/data,size=32G",
      net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth",
      description: "managed by felhom\n",
      lxc: [["lxc.apparmor.profile", "unconfined"]],
    });
    expect(c.memoryMiB).toBe(2048);
    expect(c.swapMiB).toBe(512);
    expect(c.cpulimit).toBe(1.5);
    expect(c.onboot).toBe(true);
    expect(c.mountpoints).toEqual({ mp0: "local-lvm:vm-100-disk-1,mp=/data,size=32G" });
    expect(Object.keys(c.net)).toEqual(["net0"]);
    expect(c.raw.memory).toBe("2048");
    expect(c.raw.lxc).toBeUndefined();
    expect(normalizeDescription(c.description)).toBe("managed by felhom");
  });

  test("LXC config without a digest is refused", () => {
    expect(lxcConfigSchema.safeParse({ memory: 512 }).success).toBe(false);
  });

  test("snapshot list: current entry split off, sorted by snaptime", () => {
    const l = snapshotListSchema.parse([
      { name: "b", snaptime: 200, description: "", parent: "a" },
      { name: "current", digest: "x", running: 1, description: "You are here!", parent: "b" },
      { name: "a", snaptime: 100, description: "first\n" },
    ]);
    expect(l.snapshots.map((s) => s.name)).toEqual(["a", "b"]);
    expect(l.currentParent).toBe("b");
    expect(l.running).toBe(true);
  });

  test("storage and content sizes in bytes, 0/1 flags, content lists", () => {
    const s = nodeStorageSchema.parse({
      storage: "local",
      type: "dir",
      content: "backup,vztmpl,iso",
      active: 1,
      enabled: 1,
      shared: 0,
      total: 1000,
      used: 400,
      avail: 600,
      used_fraction: 0.4,
    });
    expect(s).toMatchObject({
      content: ["backup", "vztmpl", "iso"],
      shared: false,
      availBytes: 600,
    });
    const v = storageVolumeSchema.parse({
      volid: "local:backup/vzdump-lxc-100-2025_01_01-00_00_00.tar.zst",
      format: "tar.zst",
      size: "12345",
      ctime: 1700000000,
      vmid: 100,
      content: "backup",
      protected: 1,
    });
    expect(v).toMatchObject({ sizeBytes: 12345, protected: true, vmid: 100 });
  });

  test("cluster resources with shared: 0 (captured in homebutler#32)", () => {
    const r = z.array(clusterResourceSchema).parse([
      {
        id: "storage/pve/local",
        type: "storage",
        storage: "local",
        node: "pve",
        shared: 0,
        content: "iso,backup",
        status: "available",
      },
      {
        id: "lxc/100",
        type: "lxc",
        vmid: 100,
        node: "pve",
        status: "running",
        template: 0,
        maxmem: 536870912,
      },
    ]);
    expect(r[0]?.shared).toBe(false);
    expect(r[1]?.maxmemBytes).toBe(536870912);
  });

  test("permissions map: 0/1 propagate flags", () => {
    expect(permissionsSchema.parse({ "/vms": { "VM.Audit": 1, "VM.Snapshot": 0 } })).toEqual({
      "/vms": { "VM.Audit": true, "VM.Snapshot": false },
    });
  });
});

describe("normalizeDescription (docs/proxmox-behaviour.md#snapshots-and-descriptions)", () => {
  test("trailing newlines added by PVE do not count", () => {
    expect(normalizeDescription("hello")).toBe(normalizeDescription("hello\n"));
    expect(normalizeDescription("a\n\nb")).toBe(normalizeDescription("a\n\nb\n"));
    expect(normalizeDescription("x\n\n\n")).toBe("x");
    expect(normalizeDescription(undefined)).toBe("");
    expect(normalizeDescription("a\r\nb")).toBe("a\r\nb");
  });
});
