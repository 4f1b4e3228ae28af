import type { MountProbe } from "../../proxmox/mount-probe.ts";
import type { Runner, RunResult } from "../../proxmox/runner.ts";
import { SimHardware } from "./host-hardware.ts";

/**
 * The simulated host below Proxmox: which USB filesystems are plugged in, what is mounted
 * where, the fstab lines, and which NFS/CIFS/PBS servers answer. The simulator's storage
 * activation reads it (an `is_mountpoint` directory is active only while mounted, a network
 * storage only while its server is online), and `runner()` is a fake privileged runner that
 * changes it the way `findmnt`, `mkdir`, `mount` and `tee -a /etc/fstab` would. Faults at run
 * time: `unplug` a disk, take a server `offline`.
 */
export class SimHostFs {
  private readonly plugged = new Set<string>();
  private readonly mounts = new Map<string, string>();
  private readonly offlineServers = new Set<string>();
  readonly fstab: string[] = [];
  /** Disks (SMART) and sensors, read by `smartctl` and `sensors` through the runner. */
  readonly hardware = new SimHardware();
  /** Every command the fake runner was asked to run, in order (for tests). */
  readonly calls: { cmd: string; args: readonly string[]; stdin?: string }[] = [];

  plug(uuid: string): void {
    this.plugged.add(uuid.toLowerCase());
  }

  /** The disk is pulled: gone from the bus, and its mount with it (as a lazy unmount ends). */
  unplug(uuid: string): void {
    const u = uuid.toLowerCase();
    this.plugged.delete(u);
    for (const [mp, mounted] of this.mounts) if (mounted === u) this.mounts.delete(mp);
  }

  /** What `mount -a` with the fstab's `nofail` entries does after the disk comes back. */
  remountFromFstab(): void {
    for (const line of this.fstab) {
      const m = /^UUID=(\S+) (\S+) /.exec(line);
      if (
        m &&
        this.plugged.has((m[1] as string).toLowerCase()) &&
        !this.mounts.has(m[2] as string)
      ) {
        this.mounts.set(m[2] as string, (m[1] as string).toLowerCase());
      }
    }
  }

  setServerOnline(server: string, online: boolean): void {
    if (online) this.offlineServers.delete(server);
    else this.offlineServers.add(server);
  }

  serverOnline(server: string): boolean {
    return !this.offlineServers.has(server);
  }

  isPlugged(uuid: string): boolean {
    return this.plugged.has(uuid.toLowerCase());
  }

  /** The UUID mounted at `mountpoint`, if any. */
  mountedAt(mountpoint: string): string | undefined {
    return this.mounts.get(mountpoint);
  }

  /** What the agent's mount probe reads on this host (attached by UUID, mounted where). */
  probe(): MountProbe {
    return {
      usb: async (uuid, mountpoint) => ({
        attached: this.isPlugged(uuid),
        mounted: this.mountedAt(mountpoint) === uuid.toLowerCase(),
      }),
    };
  }

  /** A Runner that acts on this host instead of the real one. */
  runner(): Runner {
    return { run: async (cmd, args, opts) => this.run(cmd, args, opts?.stdin) };
  }

  private run(cmd: string, args: readonly string[], stdin?: string): RunResult {
    this.calls.push({ cmd, args: [...args], ...(stdin !== undefined ? { stdin } : {}) });
    const name = cmd.slice(cmd.lastIndexOf("/") + 1);
    if (name === "findmnt") return this.findmnt(args);
    if (name === "mkdir") return ok("");
    if (name === "smartctl") return this.hardware.smartctl(args);
    if (name === "sensors") return this.hardware.sensors();
    if (name === "mount") {
      const source = args.find((a) => a.startsWith("UUID="));
      const target = args.at(-1);
      if (source === undefined || target === undefined) return failed(1, "mount: bad usage");
      const uuid = source.slice(5).toLowerCase();
      if (!this.plugged.has(uuid)) {
        return failed(32, `mount: ${target}: can't find ${source}.`);
      }
      this.mounts.set(target, uuid);
      return ok("");
    }
    if (name === "tee") {
      for (const line of (stdin ?? "").split("\n")) {
        if (line.trim() !== "" && !line.startsWith("#")) this.fstab.push(line);
      }
      return ok(stdin ?? "");
    }
    return failed(127, `${cmd}: not simulated`);
  }

  private findmnt(args: readonly string[]): RunResult {
    const fstab = args.includes("--fstab");
    const entries = fstab
      ? this.fstab.map((line) => {
          const [source, target, fstype, options] = line.split(" ");
          return { source, target, fstype, options };
        })
      : [...this.mounts].map(([target, uuid]) => ({
          source: `/dev/disk/by-uuid/${uuid}`,
          target,
          fstype: "ext4",
          uuid,
        }));
    const i = args.indexOf("--mountpoint");
    const only = i >= 0 ? args[i + 1] : undefined;
    const filesystems = entries.filter((e) => only === undefined || e.target === only);
    if (filesystems.length === 0) return failed(1, "");
    return ok(JSON.stringify({ filesystems }));
  }
}

function ok(stdout: string): RunResult {
  return { code: 0, signal: null, stdout, stderr: "", timedOut: false, truncated: false };
}

function failed(code: number, stderr: string): RunResult {
  return { code, signal: null, stdout: "", stderr, timedOut: false, truncated: false };
}
