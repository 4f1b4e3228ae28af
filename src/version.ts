import pkg from "../package.json" with { type: "json" };

/**
 * Set only by `bun build --define FELHOM_AGENT_BUILD_VERSION='"x.y.z"'` (scripts/compile.ts,
 * docs/bun-runtime.md#build-time-version):
 * a test build that must report another version than package.json's, the artifact an update
 * test installs. Release builds leave it undefined.
 */
declare const FELHOM_AGENT_BUILD_VERSION: string | undefined;

/** The agent's version, embedded at build time from package.json. */
export const AGENT_VERSION: string =
  typeof FELHOM_AGENT_BUILD_VERSION === "string" ? FELHOM_AGENT_BUILD_VERSION : pkg.version;
