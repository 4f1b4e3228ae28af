/**
 * LXC config values as PVE stores and returns them. Integers and 0/1 booleans come back as JSON
 * numbers; `cpulimit` stays the original config string (docs/proxmox-behaviour.md#json-type-quirks); memory and swap are
 * MiB (docs/proxmox-behaviour.md#units); disk sizes are DiskSize strings such as `8G`.
 */
export type CtConfig = Record<string, string | number>;

const INT_KEYS = new Set(["cores", "cpuunits", "memory", "swap", "tty"]);
const BOOL_KEYS = new Set(["console", "debug", "onboot", "protection", "template", "unprivileged"]);

/** Turns a form value into the JSON type PVE emits for that key. */
export function configValue(key: string, value: unknown): string | number {
  if (INT_KEYS.has(key) || BOOL_KEYS.has(key)) {
    if (typeof value === "number") return value;
    if (typeof value === "boolean") return value ? 1 : 0;
    const n = Number(value);
    if (typeof value === "string" && value !== "" && Number.isFinite(n)) return n;
  }
  if (typeof value === "number") return String(value);
  if (typeof value === "boolean") return value ? "1" : "0";
  return String(value);
}

/**
 * Options applied at once to a running CT; everything else waits in `[pve:pending]` until the
 * next start (docs/proxmox-behaviour.md#sync-and-async-endpoints, $LXC_FASTPLUG_OPTIONS plus the hotplug branch).
 */
export function isHotplug(key: string, current: CtConfig): boolean {
  if (
    [
      "description",
      "onboot",
      "startup",
      "protection",
      "hostname",
      "hookscript",
      "cores",
      "tags",
      "lock",
      "cpulimit",
      "cpuunits",
      "memory",
      "swap",
    ].includes(key)
  ) {
    return true;
  }
  if (/^net\d+$/.test(key) || /^dev\d+$/.test(key)) return true;
  return /^mp\d+$/.test(key) && current[key] === undefined;
}

/** A property string as ordered key/value pairs; the leading bare value gets `defaultKey`. */
export function parsePropertyString(text: string, defaultKey?: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(",")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq < 0) {
      if (defaultKey !== undefined && !out.has(defaultKey)) out.set(defaultKey, part);
      else out.set(part, "1");
    } else {
      out.set(part.slice(0, eq), part.slice(eq + 1));
    }
  }
  return out;
}

export function formatPropertyString(props: Map<string, string>, defaultKey?: string): string {
  const parts: string[] = [];
  for (const [k, v] of props) parts.push(k === defaultKey ? v : `${k}=${v}`);
  if (defaultKey !== undefined) {
    const i = [...props.keys()].indexOf(defaultKey);
    if (i > 0) parts.unshift(...parts.splice(i, 1));
  }
  return parts.join(",");
}

const UNIT: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `8G` / `512M` / `1073741824` → bytes; null when malformed. */
export function parseDiskSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([KMGT])?$/.exec(text);
  if (!m) return null;
  return Math.round(Number(m[1]) * (m[2] ? (UNIT[m[2]] as number) : 1));
}

/** The largest unit that divides evenly, as PVE's format_size writes it. */
export function formatDiskSize(bytes: number): string {
  for (const u of ["T", "G", "M", "K"] as const) {
    const f = UNIT[u] as number;
    if (bytes % f === 0) return `${bytes / f}${u}`;
  }
  return String(bytes);
}

/** rootfs/mpN `size` in bytes (4 GiB when unknown, docs/proxmox-behaviour.md#units). */
export function volumeSize(value: string | number | undefined): number {
  if (typeof value !== "string") return 4 * 1024 ** 3;
  const size = parsePropertyString(value, "volume").get("size");
  return (size && parseDiskSize(size)) || 4 * 1024 ** 3;
}

export function volumeId(value: string | number | undefined): string | undefined {
  if (typeof value !== "string") return undefined;
  return parsePropertyString(value, "volume").get("volume");
}
