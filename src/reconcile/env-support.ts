/** The first PVE release whose containers take the `env` option (docs/proxmox-behaviour.md#the-lxc-env-option). */
export const ENV_MIN_RELEASE: readonly [number, number] = [9, 1];

/**
 * Provisioning on a release without `env`: the bootstrap code could only travel by a
 * root-only bind mount, which the agent does not do (docs/architecture.md#provisioning-constraints).
 */
export class EnvUnsupportedError extends Error {
  override readonly name = "EnvUnsupportedError";
  constructor(release: string) {
    super(
      `Proxmox VE ${release} has no container env option (needs ${ENV_MIN_RELEASE.join(".")} or later), so a new guest cannot receive its bootstrap code; upgrade the host before provisioning`,
    );
  }
}

/** Whether `release` (`9.1`, `8.4`, …) is at least `min`; false when it does not parse. */
export function releaseAtLeast(release: string, min: readonly [number, number]): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > min[0] || (major === min[0] && minor >= min[1]);
}

/** Throws EnvUnsupportedError unless the host's release has `env`. */
export async function requireEnvSupport(client: {
  version(): Promise<{ release: string }>;
}): Promise<void> {
  const v = await client.version();
  if (!releaseAtLeast(v.release, ENV_MIN_RELEASE)) throw new EnvUnsupportedError(v.release);
}
