import type { Server } from "bun";
import type { LocalApiApp } from "./app.ts";
import { checkListenAddress } from "./listen-address.ts";

export interface LocalApiServerOptions {
  app: LocalApiApp;
  tls: { cert: string; key: string };
  /** Bind address (checked again here: a wildcard needs `allowWildcard`). */
  hostname: string;
  port: number;
  allowWildcard?: boolean;
  /** Bun refuses larger bodies before the app sees them; the app's own 413 covers the rest. */
  maxRequestBodySize?: number;
}

export interface LocalApiServer {
  url: string;
  hostname: string;
  port: number;
  stop(): Promise<void>;
}

/** Serves the app over HTTPS with the agent's own certificate. */
export function startLocalApiServer(opts: LocalApiServerOptions): LocalApiServer {
  const hostname = checkListenAddress(opts.hostname, opts.allowWildcard === true);
  const server: Server<undefined> = Bun.serve({
    hostname,
    port: opts.port,
    tls: { cert: opts.tls.cert, key: opts.tls.key },
    // Headroom over the app's limit so the app answers with its JSON 413 for near misses.
    maxRequestBodySize: (opts.maxRequestBodySize ?? 16_384) * 4,
    // The peer address goes to the app as its env: `POST /v1/bootstrap` accepts a code only
    // from the guest's own address.
    fetch: (req, srv) => opts.app.fetch(req, { remoteAddress: srv.requestIP(req)?.address }),
  });
  const port = server.port ?? opts.port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `https://${host}:${port}`,
    hostname,
    port,
    stop: () => server.stop(true),
  };
}
