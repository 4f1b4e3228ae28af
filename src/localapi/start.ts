import { lookup } from "node:dns/promises";
import { networkInterfaces } from "node:os";
import type { Logger } from "../log/types.ts";
import { createLocalApiApp } from "./app.ts";
import { ensureLocalApiCertificate, type LocalApiCertificate } from "./certificate.ts";
import type { LocalApiConfig } from "./config-section.ts";
import type { LocalApiDeps } from "./deps.ts";
import {
  bridgeAddress,
  checkListenAddress,
  checkListenName,
  type HostLookup,
  ListenAddressError,
  type NetworkInterfaces,
} from "./listen-address.ts";
import { type LocalApiServer, startLocalApiServer } from "./server.ts";

export class LocalApiStartError extends Error {
  override readonly name = "LocalApiStartError";
}

/** The address to bind: `local_api.listen`, else the first address of `local_api.bridge`. */
export function resolveListenAddress(
  cfg: LocalApiConfig,
  interfaces: NetworkInterfaces = networkInterfaces as NetworkInterfaces,
): string {
  if (cfg.listen !== undefined) return checkListenAddress(cfg.listen, cfg.allow_wildcard);
  const found = bridgeAddress(cfg.bridge, interfaces);
  if (found === undefined) {
    throw new LocalApiStartError(
      `local_api.listen is not set and interface ${cfg.bridge} has no address; set local_api.listen to the address guests reach the host on, or local_api.bridge to the guests' bridge`,
    );
  }
  return found;
}

export interface StartedLocalApi {
  server: LocalApiServer;
  certificate: LocalApiCertificate;
}

/**
 * What `run` calls: finds the address, makes or reuses the certificate, builds the app from
 * the config's limits and serves it.
 */
export async function startLocalApi(opts: {
  config: LocalApiConfig;
  stateDir: string;
  deps: Omit<LocalApiDeps, "limits" | "allowedOrigins">;
  logger: Logger;
  interfaces?: NetworkInterfaces;
  lookup?: HostLookup;
}): Promise<StartedLocalApi> {
  const cfg = opts.config;
  const listen = resolveListenAddress(cfg, opts.interfaces);
  try {
    await checkListenName(
      listen,
      cfg.allow_wildcard,
      opts.lookup ?? ((host) => lookup(host, { all: true })),
    );
  } catch (err) {
    if (err instanceof ListenAddressError) throw new LocalApiStartError(err.message);
    throw err;
  }
  const certificate = await ensureLocalApiCertificate({ stateDir: opts.stateDir, listen });
  if (certificate.created) {
    opts.logger.info("local API certificate created", {
      path: certificate.path,
      leaf_sha256: certificate.leafSha256,
      spki_sha256: certificate.spkiSha256,
    });
  }
  if (certificate.modeRepaired) {
    opts.logger.warn("local API key file was readable by others; narrowed to 0600", {
      path: certificate.path,
    });
  }
  if (!certificate.coversListen) {
    opts.logger.warn(
      "local API certificate does not name the listen address; pinning clients still work, name-checking ones do not (remove the file to make a new one and re-pin every guest)",
      { path: certificate.path, listen },
    );
  }
  const host = listen.includes(":") ? `[${listen}]` : listen;
  const app = createLocalApiApp({
    ...opts.deps,
    logger: opts.logger,
    limits: {
      bodyLimitBytes: cfg.body_limit_bytes,
      rateLimit: { perMinute: cfg.rate_limit.per_minute, burst: cfg.rate_limit.burst },
      readCacheMs: cfg.read_cache_ms,
    },
    allowedOrigins: [`https://${host}:${cfg.port}`],
  });
  const server = startLocalApiServer({
    app,
    tls: certificate,
    hostname: listen,
    port: cfg.port,
    allowWildcard: cfg.allow_wildcard,
    maxRequestBodySize: cfg.body_limit_bytes,
  });
  opts.logger.info("local API listening", { url: server.url });
  return { server, certificate };
}
