/**
 * Named `format`s that appear in the simulated endpoints' schemas. apidata.js only carries the
 * format's name, so the rules are restated here from the upstream sources named per entry
 * (pve-common JSONSchema.pm unless said otherwise). A check returns the text the Perl validator
 * dies with (without its trailing newline), or null when the value is fine. Where the upstream
 * check reads host state (zone.tab, the pool list) the rule is a syntactic approximation.
 */
import { isIPv4, isIPv6 } from "node:net";
import type { PropSchema } from "./pve-schema.ts";

export type FormatCheck = (value: string) => string | null;

export type NamedFormat =
  | { readonly kind: "code"; readonly check: FormatCheck }
  | {
      readonly kind: "hash";
      readonly schema: Readonly<Record<string, PropSchema>>;
      /** The format's verify sub, run on the parsed hash: the text it dies with, or null. */
      readonly verify?: (parsed: Readonly<Record<string, string | number>>) => string | null;
    };

const CONFIGID_RE = /^[a-z][a-z0-9_-]+$/i;
const STORAGE_ID_RE = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;
const NODE_RE = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const DNS_LABEL = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?";
const DNS_NAME_RE = new RegExp(`^(?:${DNS_LABEL}\\.)*${DNS_LABEL}$`);
const MAC_RE = /^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$/i;
const TAG_RE = /^[a-z0-9_][a-z0-9_\-+.]*$/i;
const VOLUME_ID_RE = /^[a-z][a-z0-9\-_.]*[a-z0-9]:.+$/is;
const DISK_SIZE_RE = /^\d+(?:\.\d+)?[KMGT]?$/;
const EMAIL_USER = "[\\w+\\-~]+(?:\\.[\\w+\\-~]+)*";
const EMAIL_RE = new RegExp(`^${EMAIL_USER}@[a-zA-Z0-9-]+(?:\\.[a-zA-Z0-9-]+)*$`);
const EMAIL_USER_RE = new RegExp(`^${EMAIL_USER}$`);
/** pve-access-control: pool ids, nested up to three levels since PVE 8.1. */
const POOL_ID_RE = /^[A-Za-z0-9.\-_]+(?:\/[A-Za-z0-9.\-_]+){0,2}$/;
const TIMEZONE_RE = /^[A-Za-z0-9_+-]+(?:\/[A-Za-z0-9_+-]+)*$/;
const STORAGE_CONTENT = new Set([
  "images",
  "rootdir",
  "vztmpl",
  "iso",
  "backup",
  "snippets",
  "import",
  "none",
]);

const isIp = (v: string): boolean => !v.includes("%") && (isIPv4(v) || isIPv6(v));

function cidr(v: string, v6: boolean): boolean {
  const m = /^(.+)\/(\d+)$/.exec(v);
  if (!m) return false;
  const bits = Number(m[2]);
  const addr = m[1] as string;
  return v6
    ? !addr.includes("%") && isIPv6(addr) && bits > 7 && bits <= 128
    : isIPv4(addr) && bits > 7 && bits <= 32;
}

function startupOrder(v: string): boolean {
  if (v === "" || v === "0") return false;
  for (const part of v.split(",")) {
    if (/^\s*$/.test(part)) continue;
    if (!/^(?:(?:order=)?\d+|up=\d+|down=\d+)$/.test(part)) return false;
  }
  return true;
}

const code = (check: FormatCheck): NamedFormat => ({ kind: "code", check });

const optInt = (minimum: number, maximum?: number): PropSchema => ({
  type: "integer",
  optional: 1,
  minimum,
  ...(maximum === undefined ? {} : { maximum }),
});

export const NAMED_FORMATS: ReadonlyMap<string, NamedFormat> = new Map<string, NamedFormat>([
  ["string", code(() => null)],
  [
    "pve-vmid",
    code((v) => (/^[1-9][0-9]{2,8}$/.test(v) ? null : "value does not look like a valid VM ID")),
  ],
  [
    "pve-node",
    code((v) => (NODE_RE.test(v) ? null : "value does not look like a valid node name")),
  ],
  ["pve-configid", code((v) => (CONFIGID_RE.test(v) ? null : `invalid configuration ID '${v}'`))],
  [
    "pve-storage-id",
    code((v) => (STORAGE_ID_RE.test(v) ? null : `storage ID '${v}' contains illegal characters`)),
  ],
  [
    "dns-name",
    code((v) => (DNS_NAME_RE.test(v) ? null : "value does not look like a valid DNS name")),
  ],
  ["ipv4", code((v) => (isIPv4(v) ? null : "value does not look like a valid IPv4 address"))],
  [
    "ipv6",
    code((v) =>
      !v.includes("%") && isIPv6(v) ? null : "value does not look like a valid IPv6 address",
    ),
  ],
  ["ip", code((v) => (isIp(v) ? null : "value does not look like a valid IP address"))],
  [
    "mac-addr",
    code((v) => (MAC_RE.test(v) ? null : "value does not look like a valid unicast MAC address")),
  ],
  [
    "pve-ipv4-config",
    code((v) =>
      v === "dhcp" || v === "manual" || cidr(v, false)
        ? null
        : "value does not look like a valid ipv4 network configuration",
    ),
  ],
  [
    "pve-ipv6-config",
    code((v) =>
      v === "auto" || v === "dhcp" || v === "manual" || cidr(v, true)
        ? null
        : "value does not look like a valid ipv6 network configuration",
    ),
  ],
  [
    "disk-size",
    code((v) => (DISK_SIZE_RE.test(v) ? null : `value does not look like a valid disk size: ${v}`)),
  ],
  ["pve-startup-order", code((v) => (startupOrder(v) ? null : "unable to parse startup options"))],
  ["pve-tag", code((v) => (TAG_RE.test(v) ? null : "invalid characters in tag"))],
  // pve-storage `PVE/Storage/Plugin.pm` parse_lvm_name (current releases allow a leading digit).
  [
    "pve-storage-vgname",
    code((v) =>
      /^[a-z0-9][a-z0-9\-_.]*[a-z0-9]$/i.test(v)
        ? null
        : `lvm name '${v}' contains illegal characters`,
    ),
  ],
  // pve-storage `PVE/Storage/Plugin.pm` parse_volume_id.
  [
    "pve-volume-id",
    code((v) => (VOLUME_ID_RE.test(v) ? null : `unable to parse volume ID '${v}'`)),
  ],
  // pve-container `PVE/LXC/Config.pm` verify_lxc_mp_string.
  [
    "pve-lxc-mp-string",
    code((v) =>
      /(?:^|\/)\.\.?(?:\/|$)/.test(v) ? `${v} contains illegal character sequences` : null,
    ),
  ],
  // pve-container `PVE/LXC/Config.pm` verify_lxc_dev_string.
  [
    "pve-lxc-dev-string",
    code((v) =>
      !v.startsWith("/dev/") || /\/\.\.?(?:\/|$)/.test(v)
        ? `${v} is not a valid device path`
        : null,
    ),
  ],
  // pve-container: an IP, or a link-local IPv6 address with a %interface suffix.
  [
    "lxc-ip-with-ll-iface",
    code((v) => {
      const ll = /^(fe80:[^%]+)%([a-z][a-z0-9_]{1,20}(?:[:.]\d+)?)$/i.exec(v);
      if (ll && isIPv6(ll[1] as string)) return null;
      return isIp(v) ? null : "value does not look like a valid IP address";
    }),
  ],
  // Approximation: upstream looks the name up in /usr/share/zoneinfo/zone.tab.
  [
    "pve-ct-timezone",
    code((v) =>
      v === "host" || v === "UTC" || TIMEZONE_RE.test(v) ? null : `invalid time zone '${v}'`,
    ),
  ],
  [
    "pve-poolid",
    code((v) => (POOL_ID_RE.test(v) ? null : `pool name '${v}' contains invalid characters`)),
  ],
  [
    "email-or-username",
    code((v) =>
      EMAIL_RE.test(v) || EMAIL_USER_RE.test(v)
        ? null
        : "value does not look like a valid email address or user name",
    ),
  ],
  // pve-storage: the content types the storage plugins know.
  [
    "pve-storage-content",
    code((v) => (STORAGE_CONTENT.has(v) ? null : `invalid content type '${v}'`)),
  ],
  // pve-storage `PVE/Storage/Plugin.pm`: the storage update schema's formats.
  [
    "pve-storage-path",
    code((v) => (/^\/[^;()]+/.test(v) ? null : "value does not look like a valid absolute path")),
  ],
  [
    "pve-storage-server",
    code((v) =>
      isIp(v) || DNS_NAME_RE.test(v)
        ? null
        : "value does not look like a valid server name or IP address",
    ),
  ],
  // Approximation of PVE::Tools::parse_host_and_port: a host or [IPv6], an optional port.
  [
    "pve-storage-portal-dns",
    code((v) => {
      const m = /^(?:\[([^\]]+)\]|([^:]+)|([^[\]]+:[^[\]]+))(?::(\d+))?$/.exec(v);
      const host = m?.[1] ?? m?.[2] ?? m?.[3];
      return host !== undefined && (isIp(host) || DNS_NAME_RE.test(host))
        ? null
        : "value does not look like a valid portal address";
    }),
  ],
  ["pve-storage-options", code((v) => (/^\S+$/.test(v) ? null : `invalid options '${v}'`))],
  [
    "pve-dir-override",
    code((v) => {
      const m = /^([a-z]+)=([^.]*(?:\.?[^.]+)+)$/.exec(v);
      const path = m?.[2] ?? "";
      const ok =
        m !== null &&
        STORAGE_CONTENT.has(m[1] as string) &&
        path.length < 1023 &&
        !path.split("/").some((part) => part.length >= 255);
      return ok ? null : `invalid override '${v}'`;
    }),
  ],
  [
    "pve-task-status-type",
    code((v) => (/^(?:ok|error|warning|unknown)$/i.test(v) ? null : `invalid status '${v}'`)),
  ],
  // pve-access-control: realm ids.
  [
    "pve-realm",
    code((v) =>
      /^[A-Za-z][A-Za-z0-9.\-_]+$/.test(v) ? null : `value '${v}' does not look like a valid realm`,
    ),
  ],
  // Approximation: upstream looks the name up in its privilege table.
  [
    "pve-priv",
    code((v) =>
      /^[A-Z][A-Za-z]*(?:\.[A-Z][A-Za-z]*)+$/.test(v) ? null : `invalid privilege '${v}'`,
    ),
  ],
  // Hash formats: pve-storage `PVE/Storage/Plugin.pm` (prune-backups, keep-* minimum 0) and pve-manager
  // `PVE/VZDump/Common.pm` (backup-performance, backup-fleecing); typetexts in apidata.js agree.
  [
    "prune-backups",
    {
      kind: "hash",
      schema: {
        "keep-all": { type: "boolean", optional: 1 },
        "keep-last": optInt(0),
        "keep-hourly": optInt(0),
        "keep-daily": optInt(0),
        "keep-weekly": optInt(0),
        "keep-monthly": optInt(0),
        "keep-yearly": optInt(0),
      },
      // pve-storage `validate_prune_backups` (docs/proxmox-behaviour.md#vzdump-remove).
      verify: (p) => {
        const positive = Object.entries(p).some(([k, v]) => k !== "keep-all" && Number(v) > 0);
        return positive && Number(p["keep-all"] ?? 0) === 1
          ? "keep-all cannot be set together with other options."
          : null;
      },
    },
  ],
  [
    "backup-performance",
    {
      kind: "hash",
      schema: { "max-workers": optInt(1, 256), "pbs-entries-max": optInt(1) },
    },
  ],
  [
    "backup-fleecing",
    {
      kind: "hash",
      schema: {
        enabled: { type: "boolean", optional: 1, default_key: 1, default: 0 },
        storage: { type: "string", optional: 1, format: "pve-storage-id" },
      },
    },
  ],
]);
