import { type AddressInfo, connect, createServer, type Socket } from "node:net";

export interface CountingProxy {
  port: number;
  url: string;
  /** TCP connections accepted so far. */
  connections(): number;
  /** Bytes that went from client to server. */
  bytesUp(): number;
  /** Sends connections accepted from now on to another port; open ones stay where they are. */
  retarget(port: number): void;
  stop(): Promise<void>;
}

/** A TCP pass-through that counts accepted connections, to measure connection reuse. */
export async function startCountingProxy(initialTarget: number): Promise<CountingProxy> {
  let targetPort = initialTarget;
  let connections = 0;
  let bytesUp = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    connections++;
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    client.on("data", (d: Buffer) => {
      bytesUp += d.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    connections: () => connections,
    bytesUp: () => bytesUp,
    retarget: (p) => {
      targetPort = p;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
