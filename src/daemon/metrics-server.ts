import { parseMetricsListen } from "../health/config-section.ts";
import { METRICS_CONTENT_TYPE } from "../health/metrics.ts";
import type { Logger } from "../log/types.ts";

export interface MetricsServer {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * The loopback-only `/metrics` listener (docs/health.md#metrics). `render` is called per
 * scrape; an error there answers 500 without the error text, which is logged instead.
 */
export function startMetricsServer(
  listen: string,
  render: () => string,
  logger: Logger,
): MetricsServer {
  const { hostname, port } = parseMetricsListen(listen);
  const server = Bun.serve({
    hostname,
    port,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path !== "/metrics") return new Response("not found\n", { status: 404 });
      if (req.method !== "GET" && req.method !== "HEAD") {
        return new Response("method not allowed\n", {
          status: 405,
          headers: { allow: "GET, HEAD" },
        });
      }
      try {
        return new Response(render(), { headers: { "content-type": METRICS_CONTENT_TYPE } });
      } catch (err) {
        logger.error("metrics could not be rendered", { error: (err as Error).message });
        return new Response("metrics unavailable\n", { status: 500 });
      }
    },
  });
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${host}:${server.port}/metrics`,
    stop: async () => {
      await server.stop(true);
    },
  };
}
