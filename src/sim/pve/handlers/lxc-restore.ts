import { type CtConfig, parseDiskSize, parsePropertyString } from "../ct-config.ts";

/**
 * What a restore takes from the archive's config and what it refuses, as pve-container's
 * `create_vm` and `sanitize_and_merge_config` do for a caller that is not the literal root@pam
 * (every simulator caller: a root@pam token is not that user)
 * (docs/proxmox-behaviour.md#lxc-restore-from-archive).
 */

/** Archive keys never merged: volumes are recreated, the rest describes the old CT. */
const NOT_MERGED = /^(digest|rootfs|snapshots|unprivileged|parent|template|lock|mp\d+|unused\d+)$/;

/** `unprivileged` of the restored CT: the parameter when given, else the archive's. */
export function restoredUnprivileged(param: unknown, archive: CtConfig): boolean {
  if (param !== undefined && param !== null) return param === true || param === 1 || param === "1";
  return archive.unprivileged === 1 || archive.unprivileged === "1";
}

/**
 * Explicit parameters win; archive keys fill the gaps. A restricted caller restoring an
 * unprivileged archive as privileged loses the archive's features (with a warning).
 */
export function mergeRestoreConfig(
  explicit: CtConfig,
  archive: CtConfig,
  unprivileged: boolean,
  warn: (text: string) => void,
): CtConfig {
  const conf: CtConfig = { ...explicit };
  for (const [key, value] of Object.entries(archive)) {
    if (NOT_MERGED.test(key)) continue;
    if (key === "features" && !unprivileged && archive.unprivileged === 1) {
      warn("changing from unprivileged to privileged, skipping features");
      continue;
    }
    if (conf[key] === undefined) conf[key] = value;
  }
  if (unprivileged) conf.unprivileged = 1;
  else delete conf.unprivileged;
  return conf;
}

export interface RecreatedVolume {
  key: string;
  sizeBytes: number;
  /** The rest of the mount point's properties (`mp=/srv`, `backup=1`, …), volume left out. */
  props: Map<string, string>;
}

/**
 * Storage-only restore (no `rootfs` passed): the archive's volume mount points are recreated
 * on the target storage at their recorded size; a bind or device mount point is root-only.
 * Returns the volumes, or the text the worker dies with.
 */
export function archiveMountpoints(archive: CtConfig): RecreatedVolume[] | { error: string } {
  const out: RecreatedVolume[] = [];
  const keys = Object.keys(archive)
    .filter((k) => k === "rootfs" || /^mp\d+$/.test(k))
    .sort((a, b) => (a === "rootfs" ? -1 : b === "rootfs" ? 1 : mpIndex(a) - mpIndex(b)));
  if (!keys.includes("rootfs")) {
    return {
      error: "rootfs configuration could not be recovered, please check and specify manually!",
    };
  }
  for (const key of keys) {
    const props = parsePropertyString(String(archive[key]), "volume");
    const volume = props.get("volume") ?? "";
    // classify_mountpoint: /dev/… is a device, any other absolute path a bind mount.
    const type = volume.startsWith("/dev/") ? "device" : volume.startsWith("/") ? "bind" : "volume";
    if (type !== "volume") {
      if (key === "rootfs") {
        return {
          error: `restoring rootfs to ${type} mount is only possible by specifying -rootfs manually!`,
        };
      }
      return { error: `restoring '${key}' to ${type} mount is only possible for root` };
    }
    const sizeBytes = parseDiskSize(props.get("size") ?? "");
    if (sizeBytes === null || sizeBytes === 0) {
      return { error: `unable to detect disk size - please specify ${key} (size)` };
    }
    props.delete("volume");
    props.delete("size");
    out.push({ key, sizeBytes, props });
  }
  return out;
}

function mpIndex(key: string): number {
  return Number(key.slice(2));
}
