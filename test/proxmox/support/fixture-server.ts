import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { pemFingerprint } from "../../../src/tls/fingerprint.ts";
import { createSelfSignedCert, type SelfSignedCert } from "../../../src/tls/self-signed.ts";

export interface FixtureRequest {
  method: string;
  /** Path below /api2/json. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  form: URLSearchParams;
}

export interface FixtureReply {
  status?: number;
  /** Reason phrase; node:https sends it as given (Bun.serve does not). */
  statusText?: string;
  /** Serialised as the body; `{data: …}` envelopes are the handler's job. */
  json?: unknown;
  raw?: string;
}

export type FixtureHandler = (req: FixtureRequest) => FixtureReply | Promise<FixtureReply>;

export interface FixtureServer {
  url: string;
  port: number;
  cert: SelfSignedCert;
  fingerprint: string;
  requests: FixtureRequest[];
  /** TLS handshakes completed. */
  handshakes(): number;
  setHandler(h: FixtureHandler): void;
  /** Serve another certificate from now on (a renewed host certificate). */
  rotateCert(c: SelfSignedCert): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A loopback HTTPS server that answers like pveproxy: it records every request that reaches
 * HTTP, so a test can prove that none did. node:https because PVE < 8.3 puts its error text
 * in the reason phrase, which Bun.serve does not let a handler set.
 */
export async function startFixtureServer(opts: {
  handler: FixtureHandler;
  cert?: SelfSignedCert;
  altNames?: string[];
}): Promise<FixtureServer> {
  let cert =
    opts.cert ??
    (await createSelfSignedCert({ commonName: "pve", altNames: opts.altNames ?? ["127.0.0.1"] }));
  let handler = opts.handler;
  const requests: FixtureRequest[] = [];
  let handshakes = 0;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    readBody(req).then(async (body) => {
      const url = new URL(req.url ?? "/", "https://fixture");
      const path = url.pathname.replace(/^\/api2\/json/, "");
      const ctype = String(req.headers["content-type"] ?? "");
      const form = ctype.includes("application/x-www-form-urlencoded")
        ? new URLSearchParams(body)
        : new URLSearchParams();
      const r: FixtureRequest = {
        method: req.method ?? "GET",
        path,
        query: url.searchParams,
        headers: req.headers,
        form,
      };
      requests.push(r);
      let reply: FixtureReply;
      try {
        reply = await handler(r);
      } catch (e) {
        reply = { status: 500, json: { data: null, message: `fixture: ${String(e)}\n` } };
      }
      res.statusCode = reply.status ?? 200;
      if (reply.statusText) res.statusMessage = reply.statusText;
      const text = reply.raw ?? (reply.json === undefined ? "" : JSON.stringify(reply.json));
      res.setHeader("Content-Type", "application/json;charset=UTF-8");
      res.end(text);
    });
  };
  const make = (c: SelfSignedCert): Server => {
    const srv = createServer({ cert: c.cert, key: c.key }, onRequest);
    srv.on("secureConnection", () => {
      handshakes++;
    });
    return srv;
  };
  let server = make(cert);
  const close = (srv: Server) =>
    new Promise<void>((resolve) => {
      srv.closeAllConnections?.();
      srv.close(() => resolve());
    });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    get cert() {
      return cert;
    },
    get fingerprint() {
      return pemFingerprint(cert.cert);
    },
    requests,
    handshakes: () => handshakes,
    setHandler: (h) => {
      handler = h;
    },
    rotateCert: async (c) => {
      // Bun's node:https has no setSecureContext: restart on the same port, which also drops
      // every pooled connection, as a pveproxy restart after a certificate renewal does.
      await close(server);
      cert = c;
      server = make(c);
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    },
    stop: () => close(server),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

/** `{data: …}` with a 200, as PVE answers. */
export const ok = (data: unknown, extra: Record<string, unknown> = {}): FixtureReply => ({
  json: { data, ...extra },
});

/** A PVE ≥ 8.3 error: reason phrase = first line, body keeps `message` (docs/proxmox-behaviour.md#api-envelope-and-errors). */
export const pveError = (
  status: number,
  message: string,
  errors?: Record<string, string>,
): FixtureReply => ({
  status,
  statusText: message.split("\n")[0],
  json: { data: null, message: `${message}\n`, ...(errors ? { errors } : {}) },
});

/** A PVE < 8.3 error: the body is only {"data":null}, the text is in the reason phrase. */
export const legacyError = (status: number, message: string): FixtureReply => ({
  status,
  statusText: message.split("\n")[0],
  json: { data: null },
});

export const notFound = (req: FixtureRequest): FixtureReply => ({
  status: 501,
  statusText: `Method '${req.method} ${req.path}' not implemented`,
  json: { data: null },
});
