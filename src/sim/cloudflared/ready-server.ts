/**
 * A stand-in for cloudflared's metrics server, loopback only: `/ready` answers as cloudflared
 * does (docs/proxmox-behaviour.md#cloudflared-ready), 200 with at least one connection and
 * 503 with none, the same JSON body either way. Tests and the demo set the connection count.
 */
export interface FakeCloudflared {
  readonly url: string;
  readonly port: number;
  setConnections(n: number): void;
  stop(): Promise<void>;
}

export function startFakeCloudflared(
  opts: { connections?: number; connectorId?: string } = {},
): FakeCloudflared {
  let connections = opts.connections ?? 4;
  const connectorId = opts.connectorId ?? "5e3f1c2a-9b7d-4c1e-8f20-1a2b3c4d5e6f";
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/healthcheck") return new Response("OK\n");
      if (path !== "/ready") return new Response("404 page not found\n", { status: 404 });
      const status = connections > 0 ? 200 : 503;
      return new Response(JSON.stringify({ status, readyConnections: connections, connectorId }), {
        status,
      });
    },
  });
  const port = server.port as number;
  return {
    url: `http://127.0.0.1:${port}/ready`,
    port,
    setConnections: (n) => {
      connections = n;
    },
    stop: async () => {
      await server.stop(true);
    },
  };
}
