import pkg from "../package.json" with { type: "json" };

/** The agent's version, embedded at build time from package.json. */
export const AGENT_VERSION: string = pkg.version;
