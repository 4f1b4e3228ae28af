/**
 * Parameters a release older than the one simulated does not know. PVE validates every call
 * against its schema with `additionalProperties => 0`, so on such a release the key is a 400
 * naming it (docs/proxmox-behaviour.md#the-lxc-env-option).
 */
const ADDED_IN_9_1: Readonly<Record<string, readonly string[]>> = {
  "POST /nodes/{node}/lxc": ["env", "entrypoint"],
  "PUT /nodes/{node}/lxc/{vmid}/config": ["env", "entrypoint"],
};

const UNKNOWN =
  "property is not defined in schema and the schema does not allow additional properties";

/** `major.minor` of a `release` such as `9.1` or `8.4`; undefined when it does not parse. */
function releaseOf(release: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** The 400 field errors the simulated release answers for `params`, or undefined when none. */
export function unknownOnRelease(
  release: string,
  method: string,
  routePath: string,
  params: Record<string, unknown>,
): Record<string, string> | undefined {
  const r = releaseOf(release);
  if (r === undefined || r[0] > 9 || (r[0] === 9 && r[1] >= 1)) return undefined;
  const added = ADDED_IN_9_1[`${method} ${routePath}`] ?? [];
  const errors: Record<string, string> = {};
  for (const key of added) if (params[key] !== undefined) errors[key] = UNKNOWN;
  return Object.keys(errors).length > 0 ? errors : undefined;
}
