/**
 * PVE's disk size syntax, read exactly: `N[.F][K|M|G|T]`, binary units, no unit = bytes, the
 * result truncated to whole bytes (docs/proxmox-behaviour.md#disk-size-syntax). A `number`
 * stops being exact above 2^53, and `+999999999999T` is far above, so sizes are `bigint`.
 */
const SIZE = /^(\d{1,30})(?:\.(\d{1,30}))?([KMGT])?$/;

const UNIT_BYTES: Readonly<Record<string, bigint>> = {
  "": 1n,
  K: 1024n,
  M: 1024n ** 2n,
  G: 1024n ** 3n,
  T: 1024n ** 4n,
};

export const GIB = 1024n ** 3n;

/** Bytes of a size string without sign, or undefined when it is not PVE's syntax. */
export function parseDiskSize(text: string): bigint | undefined {
  const m = SIZE.exec(text);
  if (!m) return undefined;
  const unit = UNIT_BYTES[m[3] ?? ""] as bigint;
  const whole = BigInt(m[1] as string) * unit;
  const fraction = m[2];
  if (fraction === undefined) return whole;
  // N.F × unit, truncated like PVE's int(): F/10^len(F) × unit, floored.
  return whole + (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length);
}

/** The bytes a resize `+N[KMGT]` adds, or undefined for anything that is not a growth. */
export function parseGrowth(text: string): bigint | undefined {
  if (!text.startsWith("+")) return undefined;
  return parseDiskSize(text.slice(1));
}

/**
 * The `size=` of a volume property string as PVE stores it in the guest config
 * (`local-lvm:vm-101-disk-0,size=8G`), or undefined when it has none or it does not parse.
 */
export function volumeSize(property: string): bigint | undefined {
  for (const part of property.split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq) === "size") return parseDiskSize(part.slice(eq + 1));
  }
  return undefined;
}
