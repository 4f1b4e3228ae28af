import { createServer } from "node:net";

/**
 * A loopback port that was free a moment ago, for a server that must be told its port in a
 * config file (the demo's local API, tests). Another process could take it in between; on
 * loopback in a test run that is rare enough.
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
