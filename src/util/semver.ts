/** `MAJOR.MINOR.PATCH` with an optional `-prerelease` (no build metadata). */
export const VERSION_PATTERN =
  /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(?:-([0-9A-Za-z.-]{1,64}))?$/;

/**
 * Orders two versions the semver way: numbers first, then a version with a prerelease tag
 * before the same one without; prerelease tags compare field by field (numeric fields as
 * numbers, and before alphanumeric ones). Throws on text that is not a version.
 */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  for (let i = 0; i < 3; i++) {
    const d = (pa.core[i] as number) - (pb.core[i] as number);
    if (d !== 0) return Math.sign(d);
  }
  if (pa.pre === undefined || pb.pre === undefined) {
    if (pa.pre === pb.pre) return 0;
    return pa.pre === undefined ? 1 : -1;
  }
  const fa = pa.pre.split(".");
  const fb = pb.pre.split(".");
  for (let i = 0; i < Math.max(fa.length, fb.length); i++) {
    const x = fa[i];
    const y = fb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return Math.sign(d);
    } else if (nx !== ny) {
      return nx ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

function parseVersion(text: string): { core: number[]; pre?: string } {
  const m = VERSION_PATTERN.exec(text);
  if (!m) throw new RangeError(`not a version: ${JSON.stringify(text)}`);
  const core = [Number(m[1]), Number(m[2]), Number(m[3])];
  return m[4] === undefined ? { core } : { core, pre: m[4] };
}
