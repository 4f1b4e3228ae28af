import type { Socket } from "bun";

/**
 * A hub gone wrong that answers every request with a body that never ends, to prove the agent
 * stops reading at its cap. Written on a raw TLS socket because Bun.serve rewrites the framing
 * of a streamed body (it drops a Content-Length and sends chunked), and the lie is the point:
 *
 * - `chunked`: `Transfer-Encoding: chunked` and chunks forever;
 * - `lying_length`: the same, with `Content-Length: 100` next to it. The chunked framing wins
 *   (RFC 9112 §6.3), so a reader that trusts the small length reads forever.
 */
export type EndlessBodyMode = "chunked" | "lying_length";

export interface EndlessBodyServer {
  /** `https://127.0.0.1:PORT`, with the hub simulator's certificate. */
  url: string;
  /** Body bytes handed to the kernel so far, over all connections. */
  bytesSent(): number;
  /** Connections the peer (or the server) has closed. */
  closedConnections(): number;
  stop(): Promise<void>;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x20);
const FRAME = Buffer.concat([
  Buffer.from(`${CHUNK.length.toString(16)}\r\n`),
  CHUNK,
  Buffer.from("\r\n"),
]);

interface Conn {
  started: boolean;
  /** The unwritten tail of the frame in flight, so the chunked framing stays whole. */
  pending: Buffer | undefined;
}

export function serveEndlessBody(opts: {
  tls: { cert: string; key: string };
  mode: EndlessBodyMode;
  hostname?: string;
}): EndlessBodyServer {
  let sent = 0;
  let closed = 0;
  const head =
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" +
    (opts.mode === "lying_length" ? "content-length: 100\r\n" : "") +
    "transfer-encoding: chunked\r\n\r\n";

  // Writes until the socket's buffer is full; `drain` continues.
  const pump = (s: Socket<Conn>) => {
    for (;;) {
      const out = s.data.pending ?? FRAME;
      const n = s.write(out);
      if (n <= 0) return;
      sent += n;
      s.data.pending = n < out.length ? out.subarray(n) : undefined;
      if (s.data.pending !== undefined) return;
    }
  };

  const server = Bun.listen<Conn>({
    hostname: opts.hostname ?? "127.0.0.1",
    port: 0,
    tls: { cert: opts.tls.cert, key: opts.tls.key },
    socket: {
      open(s) {
        s.data = { started: false, pending: undefined };
      },
      data(s) {
        // Any request bytes start the answer; the request itself does not matter.
        if (s.data.started) return;
        s.data.started = true;
        s.data.pending = Buffer.from(head);
        pump(s);
      },
      drain(s) {
        if (s.data.started) pump(s);
      },
      close() {
        closed++;
      },
      error() {
        closed++;
      },
    },
  });
  return {
    url: `https://${server.hostname}:${server.port}`,
    bytesSent: () => sent,
    closedConnections: () => closed,
    async stop() {
      server.stop(true);
    },
  };
}
