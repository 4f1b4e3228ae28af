import { z } from "zod";
import { defineSection } from "../config/section.ts";
import { checkListenAddress, isWildcardAddress, ListenAddressError } from "./listen-address.ts";

export interface LocalApiRateLimit {
  /** Sustained requests per minute per token. */
  per_minute: number;
  /** Requests a token may make at once after being idle. */
  burst: number;
}

export interface LocalApiConfig {
  /** Bind address; absent means the first address of `bridge`, found at start. */
  listen?: string;
  /** Interface whose address is the default listen address. */
  bridge: string;
  port: number;
  allow_wildcard: boolean;
  body_limit_bytes: number;
  rate_limit: LocalApiRateLimit;
  /** How long a GET answer from Proxmox is reused for the same guest. */
  read_cache_ms: number;
  /** `false` turns the local API off (`run` does not start it). */
  enabled: boolean;
}

const schema = z
  .strictObject({
    enabled: z.boolean().default(true),
    listen: z.string().optional(),
    bridge: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,15}$/, "must be an interface name")
      .default("vmbr0"),
    port: z.number().int().min(1).max(65535).default(8443),
    allow_wildcard: z.boolean().default(false),
    body_limit_bytes: z.number().int().min(256).max(1_048_576).default(16_384),
    rate_limit: z
      .strictObject({
        per_minute: z.number().int().min(1).max(1_000_000).default(120),
        burst: z.number().int().min(1).max(100_000).default(30),
      })
      .prefault({}),
    read_cache_ms: z.number().int().min(0).max(600_000).default(2000),
  })
  .prefault({});

type RawLocalApi = z.output<typeof schema>;

export const localApiSection = defineSection({
  key: "local_api",
  schema,
  env: [
    { path: ["local_api", "enabled"], kind: "bool" },
    { path: ["local_api", "listen"], kind: "string" },
    { path: ["local_api", "bridge"], kind: "string" },
    { path: ["local_api", "port"], kind: "int" },
    { path: ["local_api", "allow_wildcard"], kind: "bool" },
    { path: ["local_api", "body_limit_bytes"], kind: "int" },
    { path: ["local_api", "rate_limit", "per_minute"], kind: "int" },
    { path: ["local_api", "rate_limit", "burst"], kind: "int" },
    { path: ["local_api", "read_cache_ms"], kind: "int" },
  ],
  resolve: (raw: RawLocalApi, ctx): LocalApiConfig => {
    const out: LocalApiConfig = {
      enabled: raw.enabled,
      bridge: raw.bridge,
      port: raw.port,
      allow_wildcard: raw.allow_wildcard,
      body_limit_bytes: raw.body_limit_bytes,
      rate_limit: { ...raw.rate_limit },
      read_cache_ms: raw.read_cache_ms,
    };
    if (raw.listen !== undefined) {
      try {
        out.listen = checkListenAddress(raw.listen, raw.allow_wildcard);
      } catch (err) {
        if (err instanceof ListenAddressError) {
          // The message begins with the key; the config error names it already.
          ctx.fail(["local_api", "listen"], err.message.replace(/^local_api\.listen /, ""));
        }
        throw err;
      }
      if (isWildcardAddress(raw.listen)) {
        ctx.warn(
          ["local_api", "listen"],
          "wildcard bind: the local API is reachable from every network of the host",
        );
      }
    }
    return out;
  },
  redact: (c: LocalApiConfig) => ({ ...c, rate_limit: { ...c.rate_limit } }),
  secrets: () => [],
});
