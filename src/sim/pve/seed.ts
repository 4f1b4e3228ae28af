import { z } from "zod";
import { REQUIRED_PRIVILEGES } from "../../selftest/required-privileges.ts";
import { parseRetention } from "./prune.ts";

/**
 * The seed document: what the simulated host holds at start. Validated with zod because the
 * CLI reads it from a file (`--seed FILE`).
 */
const configValue = z.union([z.string(), z.number()]);
const ctConfig = z.record(z.string(), configValue);

const seedVolume = z.strictObject({
  volid: z.string().regex(/^[a-zA-Z][a-zA-Z0-9\-_.]*:.+$/),
  content: z.enum(["vztmpl", "backup", "iso", "snippets", "rootdir", "images"]),
  format: z.string(),
  size: z.number().int().nonnegative(),
  ctime: z.number().int().nonnegative(),
  vmid: z.number().int().optional(),
  notes: z.string().optional(),
  protected: z.boolean().optional(),
  /** For a vzdump archive: the CT config inside it (`pct.conf`), used by restore. */
  config: ctConfig.optional(),
});

const seedStorage = z.strictObject({
  storage: z.string().regex(/^[a-zA-Z][a-zA-Z0-9\-_.]*$/),
  type: z.enum(["dir", "lvmthin", "lvm", "zfspool", "nfs", "cifs", "pbs", "btrfs"]),
  content: z.array(z.enum(["vztmpl", "backup", "iso", "snippets", "rootdir", "images"])),
  path: z.string().optional(),
  vgname: z.string().optional(),
  thinpool: z.string().optional(),
  shared: z.boolean().optional(),
  /** Bytes. */
  total: z.number().int().positive(),
  /** Bytes used by things other than the volumes listed here. */
  baseUsed: z.number().int().nonnegative().optional(),
  /** storage.cfg `prune-backups`, e.g. `keep-last=3` (docs/proxmox-behaviour.md#vzdump-remove). */
  pruneBackups: z
    .string()
    .regex(
      /^keep-(all|last|hourly|daily|weekly|monthly|yearly)=\d+(,keep-(last|hourly|daily|weekly|monthly|yearly)=\d+)*$/,
    )
    .refine((v) => !("error" in parseRetention(v)), "keep-all cannot be set with other options")
    .optional(),
  volumes: z.array(seedVolume).optional(),
});

const seedSnapshot = z.strictObject({
  name: z.string(),
  description: z.string().optional(),
  snaptime: z.number().int().optional(),
  parent: z.string().optional(),
  config: ctConfig.optional(),
});

const seedGuest = z.strictObject({
  vmid: z.number().int().min(100).max(999999999),
  status: z.enum(["running", "stopped"]),
  config: ctConfig,
  snapshots: z.array(seedSnapshot).optional(),
  /** The snapshot the current state descends from. */
  parent: z.string().optional(),
});

const seedToken = z.strictObject({
  /** The name under which the simulator reports the full token string (`tokens.agent`). */
  key: z.string().min(1),
  userid: z.string().regex(/^[^\s:/!@]+@[A-Za-z][A-Za-z0-9.\-_]+$/),
  tokenid: z.string().regex(/^[A-Za-z][A-Za-z0-9.\-_]+$/),
  privsep: z.boolean(),
  /** Random at start when absent. */
  secret: z.string().optional(),
});

const seedAcl = z.strictObject({
  path: z.string().startsWith("/"),
  /** A userid or a full token id (`user@realm!tokenid`). */
  ugid: z.string(),
  roleid: z.string(),
  propagate: z.boolean().optional(),
});

export const pveSeedSchema = z.strictObject({
  node: z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/),
  version: z
    .strictObject({ version: z.string(), release: z.string(), repoid: z.string() })
    .optional(),
  cpus: z.number().int().positive().optional(),
  /** Bytes. */
  memory: z.number().int().positive().optional(),
  storages: z.array(seedStorage),
  guests: z.array(seedGuest),
  access: z.strictObject({
    users: z.array(z.strictObject({ userid: z.string(), enable: z.boolean().optional() })),
    roles: z.record(z.string(), z.array(z.string())),
    tokens: z.array(seedToken),
    acl: z.array(seedAcl),
  }),
});

export type PveSeed = z.infer<typeof pveSeedSchema>;
export type SeedGuest = z.infer<typeof seedGuest>;
export type SeedVolume = z.infer<typeof seedVolume>;
export type SeedStorage = z.infer<typeof seedStorage>;

/**
 * The role the agent's token is meant to hold: the same 16 privileges the selftest checks for,
 * so the default seed is a correctly provisioned host.
 */
export const FELHOM_AGENT_PRIVILEGES = REQUIRED_PRIVILEGES;

const GiB = 1024 * 1024 * 1024;
/** 2026-01-15T10:00:00Z, a fixed ctime so seeds are reproducible. */
const SEED_EPOCH = 1768471200;

export const DEBIAN_TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";
export const GOLDEN_ARCHIVE = "local:backup/vzdump-lxc-9000-2026_01_15-10_00_00.tar.zst";

export interface DefaultSeedOptions {
  node?: string;
  /** Extra stopped/running guests from VMID 1000 up, for load tests. */
  extraGuests?: number;
}

function ct(
  vmid: number,
  hostname: string,
  memory: number,
  extra: Record<string, string | number> = {},
): Record<string, string | number> {
  return {
    arch: "amd64",
    cores: 2,
    features: "nesting=1,keyctl=1",
    hostname,
    memory,
    net0: `name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:${(vmid >> 8).toString(16).toUpperCase().padStart(2, "0")}:${(vmid & 255).toString(16).toUpperCase().padStart(2, "0")},ip=dhcp,type=veth`,
    ostype: "debian",
    rootfs: `local-lvm:vm-${vmid}-disk-0,size=8G`,
    swap: 512,
    unprivileged: 1,
    ...extra,
  };
}

/**
 * One node; `local` (dir) with a Debian template and a golden vzdump archive of a Docker-ready
 * CT; `local-lvm` (lvmthin) with the guests' disks; CTs 101 (running), 102 (stopped), 103
 * (running); the felhom-agent user with a privilege-separated `agent` token holding the
 * FelhomAgent role on `/` (user and token), a privsep `noacl` token without ACLs, and a
 * root@pam token.
 */
export function defaultSeed(opts: DefaultSeedOptions = {}): PveSeed {
  const node = opts.node ?? "pve1";
  const guests: SeedGuest[] = [
    {
      vmid: 101,
      status: "running",
      config: ct(101, "customer-a", 2048, { onboot: 1, description: "Customer A\n" }),
      snapshots: [
        {
          name: "before-upgrade",
          description: "",
          snaptime: SEED_EPOCH + 3600,
          config: ct(101, "customer-a", 2048, { onboot: 1 }),
        },
      ],
      parent: "before-upgrade",
    },
    { vmid: 102, status: "stopped", config: ct(102, "customer-b", 1024) },
    { vmid: 103, status: "running", config: ct(103, "customer-c", 4096, { tags: "felhom" }) },
  ];
  for (let i = 0; i < (opts.extraGuests ?? 0); i++) {
    const vmid = 1000 + i;
    guests.push({
      vmid,
      status: i % 3 === 0 ? "stopped" : "running",
      config: ct(vmid, `load-${vmid}`, 512),
    });
  }
  const disks = guests.map((g) => ({
    volid: `local-lvm:vm-${g.vmid}-disk-0`,
    content: "rootdir" as const,
    format: "raw",
    size: 8 * GiB,
    ctime: SEED_EPOCH,
    vmid: g.vmid,
  }));
  return {
    node,
    storages: [
      {
        storage: "local",
        type: "dir",
        path: "/var/lib/vz",
        content: ["vztmpl", "backup", "iso", "snippets"],
        // What PVE writes for the default `local` storage.
        pruneBackups: "keep-all=1",
        total: 100 * GiB,
        baseUsed: 9 * GiB,
        volumes: [
          {
            volid: DEBIAN_TEMPLATE,
            content: "vztmpl",
            format: "tzst",
            size: 125_829_120,
            ctime: SEED_EPOCH,
          },
          {
            volid: GOLDEN_ARCHIVE,
            content: "backup",
            format: "tar.zst",
            size: 612_368_384,
            ctime: SEED_EPOCH,
            vmid: 9000,
            notes: "felhom golden image (Docker-ready)",
            config: {
              arch: "amd64",
              cores: 2,
              features: "nesting=1,keyctl=1",
              hostname: "golden",
              memory: 2048,
              net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:90:00:00,ip=dhcp,type=veth",
              ostype: "debian",
              rootfs: "local-lvm:vm-9000-disk-0,size=8G",
              swap: 512,
              unprivileged: 1,
            },
          },
        ],
      },
      {
        storage: "local-lvm",
        type: "lvmthin",
        vgname: "pve",
        thinpool: "data",
        content: ["rootdir", "images"],
        total: 400 * GiB,
        volumes: disks,
      },
    ],
    guests,
    access: {
      users: [{ userid: "felhom-agent@pve" }],
      roles: { FelhomAgent: [...FELHOM_AGENT_PRIVILEGES] },
      tokens: [
        { key: "agent", userid: "felhom-agent@pve", tokenid: "agent", privsep: true },
        { key: "noacl", userid: "felhom-agent@pve", tokenid: "noacl", privsep: true },
        { key: "root", userid: "root@pam", tokenid: "sim", privsep: false },
      ],
      acl: [
        { path: "/", ugid: "felhom-agent@pve", roleid: "FelhomAgent", propagate: true },
        { path: "/", ugid: "felhom-agent@pve!agent", roleid: "FelhomAgent", propagate: true },
      ],
    },
  };
}
