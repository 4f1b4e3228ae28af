import { z } from "zod";
import type { Runner, RunResult } from "./runner.ts";

/**
 * The fenced root side (docs/architecture.md#fence, src/proxmox/routing.md): ONLY the three operations that
 * no Proxmox API token can perform. Everything else, the whole guest lifecycle including
 * restore, goes through the API client. Do not add methods that the API can do.
 *
 * Every command is a fixed absolute path with an argv array (never a shell). Every value that
 * reaches an argv is checked against a strict pattern that cannot start with `-`, so no value
 * can be read as an option; values never contain `,` `=` or whitespace where the tool splits
 * on them. This module never opens a network connection (test/proxmox/fence.test.ts).
 */
export interface Privileged {
  createGoldenLXC(opts: GoldenLXCOptions): Promise<void>;
  mountUSBByUUID(opts: MountUSBOptions): Promise<MountUSBResult>;
  smart(device: string, opts?: { type?: SmartDeviceType }): Promise<SmartReport>;
  sensors(): Promise<SensorsReport>;
}

/** Absolute command paths (Debian / PVE 8–9 layout). sudoers entries must name the same paths. */
export interface PrivilegedPaths {
  pct: string;
  mkdir: string;
  mount: string;
  findmnt: string;
  tee: string;
  smartctl: string;
  sensors: string;
  fstab: string;
}

export const DEFAULT_PRIVILEGED_PATHS: PrivilegedPaths = {
  pct: "/usr/sbin/pct",
  mkdir: "/usr/bin/mkdir",
  mount: "/usr/bin/mount",
  findmnt: "/usr/bin/findmnt",
  tee: "/usr/bin/tee",
  smartctl: "/usr/sbin/smartctl",
  sensors: "/usr/bin/sensors",
  fstab: "/etc/fstab",
};

/**
 * In `sudo` mode the agent calls the root-owned wrappers install.sh puts here: sudoers allows
 * exactly these paths, and each wrapper repeats the argument checks as root, because a sudoers
 * `*` would also match spaces and options. `sensors -j` is allowed as is; fstab is not a command.
 */
export const SUDO_WRAPPER_DIR = "/usr/local/lib/felhom-agent/priv";

export function privilegedPathsFor(mode: "sudo" | "direct"): PrivilegedPaths {
  if (mode === "direct") return DEFAULT_PRIVILEGED_PATHS;
  return {
    ...DEFAULT_PRIVILEGED_PATHS,
    pct: `${SUDO_WRAPPER_DIR}/pct`,
    findmnt: `${SUDO_WRAPPER_DIR}/findmnt`,
    mkdir: `${SUDO_WRAPPER_DIR}/mkdir`,
    mount: `${SUDO_WRAPPER_DIR}/mount`,
    tee: `${SUDO_WRAPPER_DIR}/tee`,
    smartctl: `${SUDO_WRAPPER_DIR}/smartctl`,
  };
}

export interface PrivilegedOptions {
  runner: Runner;
  paths?: Partial<PrivilegedPaths>;
  /** USB storage may only be mounted strictly below one of these. */
  mountRoots?: readonly string[];
}

/** A value was refused before any command ran. The value itself is not repeated. */
export class PrivilegedArgumentError extends Error {
  override readonly name = "PrivilegedArgumentError";
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`invalid ${field}: ${reason}`);
  }
}

/** A root command ran and failed. */
export class PrivilegedCommandError extends Error {
  override readonly name = "PrivilegedCommandError";
  readonly code: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly truncated: boolean;
  readonly stderr: string;
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    result: RunResult,
    detail?: string,
  ) {
    const how = result.timedOut
      ? "timed out"
      : result.code === null
        ? `was killed (${result.signal ?? "signal"})`
        : `exited ${result.code}`;
    const why = detail ?? lastLine(result.stderr);
    super(`${command} ${how}${why ? `: ${why}` : ""}`);
    this.code = result.code;
    this.signal = result.signal;
    this.timedOut = result.timedOut;
    this.truncated = result.truncated;
    this.stderr = result.stderr.slice(-4096);
  }
}

/** A command succeeded but its output is not what we parse. */
export class PrivilegedOutputError extends Error {
  override readonly name = "PrivilegedOutputError";
  constructor(
    readonly command: string,
    readonly reason: string,
  ) {
    super(`unexpected output from ${command}: ${reason}`);
  }
}

/** The mountpoint or the filesystem is already used differently; nothing was changed. */
export class MountConflictError extends Error {
  override readonly name = "MountConflictError";
  constructor(
    readonly mountpoint: string,
    readonly uuid: string,
    readonly where: "mounted" | "fstab",
    readonly existing: string,
  ) {
    super(
      where === "mounted"
        ? `${mountpoint} already has ${existing} mounted, not UUID=${uuid}`
        : `fstab already has an entry that conflicts with UUID=${uuid} on ${mountpoint}: ${existing}`,
    );
  }
}

// ---- value patterns: none can start with '-' or contain whitespace, ',' or '=' ----

// pve-storage-id (pve-storage PVE/JSONSchema): letter first, alnum last.
const STORAGE_ID = /^[A-Za-z][A-Za-z0-9\-_.]*[A-Za-z0-9]$/;
const TEMPLATE_FILE = /^[A-Za-z0-9][A-Za-z0-9._+-]*\.(?:tar|tar\.gz|tar\.xz|tar\.zst|tgz)$/;
const DNS_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${DNS_LABEL}(?:\\.${DNS_LABEL})*$`);
// Linux interface names are at most 15 bytes; vmbrN or an SDN vnet.
const BRIDGE = /^[A-Za-z][A-Za-z0-9_]{0,14}$/;
const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const IPV4_CIDR = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}/(?:3[0-2]|[12]?\\d)$`);
// Filesystem UUIDs: the RFC 4122 form (ext4, xfs, btrfs), XXXX-XXXX (vfat, exfat), 16 hex (ntfs).
const FS_UUID =
  /^(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}|[0-9A-Fa-f]{16})$/;
// Mountpoints: absolute, plain segments only (fstab splits on whitespace; no '..' games).
const PATH_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const BLOCK_DEVICE =
  /^\/dev\/(?:sd[a-z]{1,2}|hd[a-z]|vd[a-z]{1,2}|nvme\d{1,3}(?:n\d{1,3})?|disk\/by-id\/[A-Za-z0-9][A-Za-z0-9._:+-]{0,199})$/;

export const USB_FILESYSTEMS = [
  "ext4",
  "ext3",
  "ext2",
  "xfs",
  "btrfs",
  "vfat",
  "exfat",
  "ntfs3",
] as const;
export type UsbFilesystem = (typeof USB_FILESYSTEMS)[number];
export const SMART_DEVICE_TYPES = ["auto", "sat", "scsi", "nvme", "ata"] as const;
export type SmartDeviceType = (typeof SMART_DEVICE_TYPES)[number];

// Hardening for a removable data disk; `nofail` so the host boots without the disk.
const MOUNT_OPTIONS = "nosuid,nodev,noexec";
const FSTAB_OPTIONS = `nofail,${MOUNT_OPTIONS}`;

const goldenSchema = z.strictObject({
  // PVE guest ids: 100 ..= 999999999.
  vmid: z.number().int().min(100).max(999_999_999),
  /** `STORAGE:vztmpl/FILE`, e.g. `local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst`. */
  ostemplate: z.string().refine(isTemplateVolid, "must be STORAGE:vztmpl/FILE.tar.(gz|xz|zst)"),
  /** rootfs storage, e.g. `local-lvm`. */
  storage: z.string().regex(STORAGE_ID, "must be a storage id"),
  rootfsGb: z.number().int().min(1).max(65_536),
  cores: z.number().int().min(1).max(512).optional(),
  memoryMb: z.number().int().min(16).max(4_194_304).optional(),
  swapMb: z.number().int().min(0).max(4_194_304).optional(),
  hostname: z.string().regex(HOSTNAME, "must be a DNS host name").optional(),
  net0: z
    .strictObject({
      bridge: z.string().regex(BRIDGE, "must be an interface name like vmbr0"),
      ip: z.string().refine((s) => s === "dhcp" || IPV4_CIDR.test(s), "must be dhcp or A.B.C.D/N"),
      gw: z.string().regex(IPV4, "must be an IPv4 address").optional(),
    })
    .optional(),
});

export type GoldenLXCOptions = z.input<typeof goldenSchema>;

const mountSchema = z.strictObject({
  uuid: z.string().regex(FS_UUID, "must be a filesystem UUID (as blkid shows it)"),
  mountpoint: z.string(),
  fstype: z.enum(USB_FILESYSTEMS).optional(),
  /** Also write an fstab entry so the mount survives a reboot. */
  persist: z.boolean(),
});

export type MountUSBOptions = z.input<typeof mountSchema>;

export interface MountUSBResult {
  mount: "mounted" | "already_mounted";
  fstab: "added" | "present" | "not_requested";
}

function isTemplateVolid(s: string): boolean {
  const m = /^([^:]+):vztmpl\/(.+)$/.exec(s);
  return m !== null && STORAGE_ID.test(m[1] as string) && TEMPLATE_FILE.test(m[2] as string);
}

function parseArgs<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = [what, ...(issue?.path ?? []).map(String)].join(".");
  throw new PrivilegedArgumentError(field, issue?.message ?? "invalid");
}

export function createPrivileged(opts: PrivilegedOptions): Privileged {
  const paths: PrivilegedPaths = { ...DEFAULT_PRIVILEGED_PATHS, ...opts.paths };
  for (const [name, p] of Object.entries(paths)) {
    if (!p.startsWith("/")) throw new PrivilegedArgumentError(`paths.${name}`, "must be absolute");
  }
  const mountRoots = opts.mountRoots ?? ["/mnt", "/media"];
  const runner = opts.runner;

  const run = async (cmd: string, args: string[], timeoutMs: number, stdin?: string) => {
    const r = await runner.run(
      cmd,
      args,
      stdin === undefined ? { timeoutMs } : { timeoutMs, stdin },
    );
    return r;
  };
  const runOk = async (cmd: string, args: string[], timeoutMs: number, stdin?: string) => {
    const r = await run(cmd, args, timeoutMs, stdin);
    if (r.code !== 0 || r.timedOut || r.truncated) throw new PrivilegedCommandError(cmd, args, r);
    return r;
  };

  return {
    /**
     * Builds the Docker-capable golden base container: `pct create` with
     * `--features nesting=1,keyctl=1`.
     *
     * Why not the API: setting any feature flag other than `nesting` is hard-coded to the
     * literal user root@pam ("changing feature flags (except nesting) is only allowed for
     * root@pam", docs/proxmox-behaviour.md#root-only-config-checks); an API token is never root@pam, not even a
     * root@pam token. This is the only root-fenced create: customer guests are restored from
     * the golden backup through the API, and restore keeps keyctl from the archive without a
     * permission check (docs/proxmox-behaviour.md#identity-on-restore). One-time, at enrolment.
     */
    async createGoldenLXC(input) {
      const o = parseArgs(goldenSchema, input, "golden");
      const args = [
        "create",
        String(o.vmid),
        o.ostemplate,
        "--unprivileged",
        "1",
        "--features",
        "nesting=1,keyctl=1",
        "--rootfs",
        `${o.storage}:${o.rootfsGb}`,
      ];
      if (o.cores !== undefined) args.push("--cores", String(o.cores));
      if (o.memoryMb !== undefined) args.push("--memory", String(o.memoryMb));
      if (o.swapMb !== undefined) args.push("--swap", String(o.swapMb));
      if (o.hostname !== undefined) args.push("--hostname", o.hostname);
      if (o.net0 !== undefined) {
        const gw = o.net0.gw !== undefined ? `,gw=${o.net0.gw}` : "";
        args.push("--net0", `name=eth0,bridge=${o.net0.bridge},ip=${o.net0.ip}${gw}`);
      }
      // Template extraction on slow storage takes minutes.
      await runOk(paths.pct, args, 15 * 60_000);
    },

    /**
     * Mounts a USB filesystem by UUID below a mount root and, with `persist`, adds its fstab
     * entry. Idempotent: an identical mount or entry is left alone; a different one is a
     * MountConflictError raised before anything changes.
     *
     * Why not the API: a host mount is not a Proxmox operation at all; PVE storage definitions
     * (POST /storage) assume the path is already mounted. fstab is written by appending one
     * line with `tee -a /etc/fstab` (fixed arguments, the line on stdin): no shell, and no
     * rewrite of the whole file that a crash could leave half-written.
     */
    async mountUSBByUUID(input) {
      const o = parseArgs(mountSchema, input, "mount");
      checkMountpoint(o.mountpoint, mountRoots);
      const uuid = o.uuid;
      const source = `UUID=${uuid}`;

      // Read both states first, so a conflict changes nothing.
      let fstab: MountUSBResult["fstab"] = "not_requested";
      if (o.persist) fstab = (await fstabHas(uuid, o.mountpoint)) ? "present" : "added";
      const mounted = await mountedUuid(o.mountpoint);
      if (mounted !== undefined && mounted.uuid.toLowerCase() !== uuid.toLowerCase()) {
        throw new MountConflictError(o.mountpoint, uuid, "mounted", mounted.describe);
      }

      let mount: MountUSBResult["mount"] = "already_mounted";
      if (mounted === undefined) {
        await runOk(paths.mkdir, ["-p", o.mountpoint], 30_000);
        const typeArgs = o.fstype !== undefined ? ["-t", o.fstype] : [];
        await runOk(paths.mount, ["-o", MOUNT_OPTIONS, ...typeArgs, source, o.mountpoint], 60_000);
        mount = "mounted";
      }
      if (fstab === "added") {
        // The leading newline ends a last line that lacks one; the comment says who wrote it.
        const line = `\n# felhom-agent: USB storage\n${source} ${o.mountpoint} ${o.fstype ?? "auto"} ${FSTAB_OPTIONS} 0 0\n`;
        await runOk(paths.tee, ["-a", paths.fstab], 30_000, line);
      }
      return { mount, fstab };
    },

    /**
     * SMART data of one disk: `smartctl -a -j [-d TYPE] DEVICE`.
     *
     * Why not the API: opening a raw block device for SMART commands needs OS root. PVE 9.1
     * does have GET /nodes/{node}/disks/smart (Sys.Audit; docs/proxmox-behaviour.md#api-schema-source), but it returns only
     * `health` plus an attribute list or text: no temperature, power-on hours or NVMe health
     * log as fields, no smartctl exit bitmask, and no `-d` device type, which USB-SATA bridges
     * need (`-d sat`). That is why SMART is one of the three root operations (docs/architecture.md#fence).
     * smartctl's exit status is a bitmask: bits 2–7 report disk problems alongside valid
     * JSON and are returned as flags; only bits 0–1 (no data) are errors.
     */
    async smart(device, smartOpts = {}) {
      if (typeof device !== "string" || !BLOCK_DEVICE.test(device)) {
        throw new PrivilegedArgumentError(
          "device",
          "must be /dev/sdX, /dev/nvmeN[nM], /dev/vdX, /dev/hdX or /dev/disk/by-id/NAME",
        );
      }
      const type = smartOpts.type;
      if (type !== undefined && !(SMART_DEVICE_TYPES as readonly string[]).includes(type)) {
        throw new PrivilegedArgumentError(
          "type",
          `must be one of ${SMART_DEVICE_TYPES.join(", ")}`,
        );
      }
      const args = ["-a", "-j", ...(type !== undefined ? ["-d", type] : []), device];
      const r = await run(paths.smartctl, args, 60_000);
      if (r.timedOut || r.truncated) throw new PrivilegedCommandError(paths.smartctl, args, r);
      const json = parseJson(r.stdout);
      if (json === undefined) {
        if (r.code !== 0) throw new PrivilegedCommandError(paths.smartctl, args, r);
        throw new PrivilegedOutputError(paths.smartctl, "not JSON");
      }
      const parsed = smartSchema.safeParse(json);
      if (!parsed.success) {
        throw new PrivilegedOutputError(paths.smartctl, zodWhere(parsed.error));
      }
      const report = toSmartReport(parsed.data, device, r.code ?? parsed.data.smartctl.exit_status);
      // Bits 0 and 1: bad command line, or the device could not be opened: no data.
      if ((report.exitStatus & 0b11) !== 0) {
        const msgs = parsed.data.smartctl.messages?.map((m) => m.string).join("; ");
        throw new PrivilegedCommandError(paths.smartctl, args, r, msgs || undefined);
      }
      return report;
    },

    /**
     * Hardware sensors: `sensors -j` (lm-sensors).
     *
     * Why not the API: the Proxmox API exposes no temperatures or fans; they come from the
     * host's hwmon drivers. Some hwmon drivers expose readings
     * to root only, so sensors runs on the fenced side with a fixed argv.
     */
    async sensors() {
      const args = ["-j"];
      const r = await run(paths.sensors, args, 15_000);
      if (r.timedOut || r.truncated) throw new PrivilegedCommandError(paths.sensors, args, r);
      const json = parseJson(r.stdout);
      // sensors exits non-zero when one chip cannot be read, yet prints the rest.
      if (json === undefined) {
        if (r.code !== 0) throw new PrivilegedCommandError(paths.sensors, args, r);
        throw new PrivilegedOutputError(paths.sensors, "not JSON");
      }
      const parsed = sensorsSchema.safeParse(json);
      if (!parsed.success) throw new PrivilegedOutputError(paths.sensors, zodWhere(parsed.error));
      return toSensorsReport(parsed.data);
    },
  };

  /** The filesystem mounted at `mountpoint`, if any. */
  async function mountedUuid(
    mountpoint: string,
  ): Promise<{ uuid: string; describe: string } | undefined> {
    const args = ["--json", "--output", "SOURCE,TARGET,FSTYPE,UUID", "--mountpoint", mountpoint];
    const r = await run(paths.findmnt, args, 30_000);
    // findmnt exits 1 with no output when nothing matches.
    if (r.code === 1 && r.stdout.trim() === "") return undefined;
    if (r.code !== 0 || r.timedOut || r.truncated)
      throw new PrivilegedCommandError(paths.findmnt, args, r);
    const fs = parseFindmnt(r.stdout, paths.findmnt).find((f) => f.target === mountpoint);
    if (!fs) return undefined;
    return { uuid: fs.uuid ?? "", describe: `${fs.source}${fs.uuid ? ` (UUID=${fs.uuid})` : ""}` };
  }

  /** true when fstab already has exactly this entry; throws on a conflicting one. */
  async function fstabHas(uuid: string, mountpoint: string): Promise<boolean> {
    const args = ["--fstab", "--json", "--output", "SOURCE,TARGET,FSTYPE,OPTIONS"];
    const r = await run(paths.findmnt, args, 30_000);
    if (r.code === 1 && r.stdout.trim() === "") return false;
    if (r.code !== 0 || r.timedOut || r.truncated)
      throw new PrivilegedCommandError(paths.findmnt, args, r);
    const source = `UUID=${uuid}`.toLowerCase();
    let present = false;
    for (const e of parseFindmnt(r.stdout, paths.findmnt)) {
      const sameSource = e.source.toLowerCase() === source;
      const sameTarget = e.target === mountpoint;
      if (sameSource && sameTarget) present = true;
      else if (sameSource || sameTarget) {
        throw new MountConflictError(mountpoint, uuid, "fstab", `${e.source} ${e.target}`);
      }
    }
    return present;
  }
}

function checkMountpoint(mountpoint: string, roots: readonly string[]): void {
  const segs = mountpoint.split("/");
  const ok =
    mountpoint.startsWith("/") &&
    segs.slice(1).every((s) => PATH_SEGMENT.test(s)) &&
    roots.some((root) => mountpoint.startsWith(`${root}/`)) &&
    // Proxmox mounts its own storages under /mnt/pve; a USB disk must never shadow one.
    mountpoint !== "/mnt/pve" &&
    !mountpoint.startsWith("/mnt/pve/");
  if (!ok) {
    throw new PrivilegedArgumentError(
      "mount.mountpoint",
      `must be an absolute path strictly below ${roots.join(" or ")} and not under /mnt/pve, segments of [A-Za-z0-9._-] (no '..', no trailing '/')`,
    );
  }
}

// ---- output schemas: only the parts we use, everything else passes through ----

const findmntSchema = z.looseObject({
  filesystems: z.array(
    z.looseObject({
      source: z.string(),
      target: z.string(),
      fstype: z.string().nullish(),
      uuid: z.string().nullish(),
    }),
  ),
});

function parseFindmnt(stdout: string, cmd: string) {
  const json = parseJson(stdout);
  const parsed = findmntSchema.safeParse(json);
  if (!parsed.success) throw new PrivilegedOutputError(cmd, zodWhere(parsed.error));
  return parsed.data.filesystems;
}

const smartSchema = z.looseObject({
  smartctl: z.looseObject({
    exit_status: z.number().int(),
    messages: z.array(z.looseObject({ string: z.string() })).optional(),
  }),
  device: z.looseObject({ name: z.string(), protocol: z.string().optional() }).optional(),
  model_name: z.string().optional(),
  serial_number: z.string().optional(),
  smart_status: z.looseObject({ passed: z.boolean() }).optional(),
  temperature: z.looseObject({ current: z.number() }).optional(),
  power_on_time: z.looseObject({ hours: z.number() }).optional(),
  ata_smart_attributes: z
    .looseObject({
      table: z.array(
        z.looseObject({
          id: z.number(),
          name: z.string(),
          value: z.number(),
          worst: z.number(),
          thresh: z.number(),
          raw: z.looseObject({ value: z.number(), string: z.string() }),
        }),
      ),
    })
    .optional(),
  nvme_smart_health_information_log: z
    .looseObject({
      critical_warning: z.number(),
      available_spare: z.number(),
      percentage_used: z.number(),
      media_errors: z.number(),
    })
    .partial()
    .optional(),
});

export interface SmartReport {
  device: string;
  protocol: string | null;
  model: string | null;
  serial: string | null;
  /** Overall health self-assessment; null when the device gave none. */
  passed: boolean | null;
  temperatureC: number | null;
  powerOnHours: number | null;
  /** smartctl's exit status bitmask. */
  exitStatus: number;
  /** Bits 2–7 of the exit status (man smartctl, RETURN VALUES). */
  flags: {
    commandFailed: boolean;
    diskFailing: boolean;
    prefailAtOrBelowThreshold: boolean;
    pastAtOrBelowThreshold: boolean;
    errorLogHasErrors: boolean;
    selfTestLogHasErrors: boolean;
  };
  attributes: {
    id: number;
    name: string;
    value: number;
    worst: number;
    thresh: number;
    raw: number;
  }[];
  nvme: {
    criticalWarning?: number;
    availableSpare?: number;
    percentageUsed?: number;
    mediaErrors?: number;
  } | null;
}

function toSmartReport(j: z.output<typeof smartSchema>, device: string, exit: number): SmartReport {
  const bit = (n: number) => (exit & (1 << n)) !== 0;
  const nv = j.nvme_smart_health_information_log;
  return {
    device: j.device?.name ?? device,
    protocol: j.device?.protocol ?? null,
    model: j.model_name ?? null,
    serial: j.serial_number ?? null,
    passed: j.smart_status?.passed ?? null,
    temperatureC: j.temperature?.current ?? null,
    powerOnHours: j.power_on_time?.hours ?? null,
    exitStatus: exit,
    flags: {
      commandFailed: bit(2),
      diskFailing: bit(3),
      prefailAtOrBelowThreshold: bit(4),
      pastAtOrBelowThreshold: bit(5),
      errorLogHasErrors: bit(6),
      selfTestLogHasErrors: bit(7),
    },
    attributes: (j.ata_smart_attributes?.table ?? []).map((a) => ({
      id: a.id,
      name: a.name,
      value: a.value,
      worst: a.worst,
      thresh: a.thresh,
      raw: a.raw.value,
    })),
    nvme: nv
      ? {
          ...(nv.critical_warning !== undefined ? { criticalWarning: nv.critical_warning } : {}),
          ...(nv.available_spare !== undefined ? { availableSpare: nv.available_spare } : {}),
          ...(nv.percentage_used !== undefined ? { percentageUsed: nv.percentage_used } : {}),
          ...(nv.media_errors !== undefined ? { mediaErrors: nv.media_errors } : {}),
        }
      : null,
  };
}

// lm-sensors: { chip: { "Adapter": "…", feature: { subfeature: number } } }
const sensorsSchema = z.record(
  z.string(),
  z.record(z.string(), z.union([z.string(), z.record(z.string(), z.number())])),
);

export interface SensorsReport {
  chips: {
    name: string;
    adapter: string | null;
    features: { name: string; values: Record<string, number> }[];
  }[];
  /** Every `tempN_input`, with its max/crit when given. */
  temperatures: { chip: string; feature: string; celsius: number; max?: number; crit?: number }[];
}

function toSensorsReport(j: z.output<typeof sensorsSchema>): SensorsReport {
  const report: SensorsReport = { chips: [], temperatures: [] };
  for (const [chip, body] of Object.entries(j)) {
    let adapter: string | null = null;
    const features: SensorsReport["chips"][number]["features"] = [];
    for (const [name, v] of Object.entries(body)) {
      if (typeof v === "string") {
        if (name === "Adapter") adapter = v;
        continue;
      }
      features.push({ name, values: v });
      for (const [sub, celsius] of Object.entries(v)) {
        const m = /^(temp\d+)_input$/.exec(sub);
        if (!m) continue;
        const t: SensorsReport["temperatures"][number] = { chip, feature: name, celsius };
        const max = v[`${m[1]}_max`];
        const crit = v[`${m[1]}_crit`];
        if (max !== undefined) t.max = max;
        if (crit !== undefined) t.crit = crit;
        report.temperatures.push(t);
      }
    }
    report.chips.push({ name: chip, adapter, features });
  }
  return report;
}

function parseJson(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function zodWhere(err: z.ZodError): string {
  const i = err.issues[0];
  return `${(i?.path ?? []).map(String).join(".") || "(root)"}: ${i?.message ?? "invalid"}`;
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return (lines[lines.length - 1] ?? "").slice(0, 300);
}
