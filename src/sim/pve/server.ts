import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { HttpMethod } from "../../proxmox/http.ts";
import { authenticate } from "./auth.ts";
import type { RequestContext, SimCore } from "./context.ts";
import { PreSerialized, WithTotal } from "./context.ts";
import { fail, PveHttpError } from "./errors.ts";
import { extractParams } from "./request-params.ts";
import type { Router } from "./router.ts";
import { checkParams } from "./validate-params.ts";
import { unknownOnRelease } from "./version-profile.ts";

export interface ServerStats {
  requests: number;
  byStatus: Record<number, number>;
  dropped: number;
  /**
   * Mutating requests whose handler ran to completion, by `METHOD /path`: the changes the host
   * made, however many answers were lost. Fault tests count exactly-once here.
   */
  applied: Record<string, number>;
}

export interface ApiServerDeps {
  core: SimCore;
  router: Router;
  authFailDelayMs: number;
  stats: ServerStats;
  /** Aborted at stop, to end pending delays. */
  signal: AbortSignal;
}

const PREFIX = "/api2/json";
const METHODS = new Set(["GET", "POST", "PUT", "DELETE"]);
const JSON_TYPE = "application/json;charset=UTF-8";

/** Reason phrase = first line of the message (docs/proxmox-behaviour.md#api-envelope-and-errors), kept to header-safe bytes. */
function reasonPhrase(message: string): string {
  const first = message.split("\n", 1)[0] ?? "";
  return first.replace(/[^\t\x20-\x7e]/g, "?");
}

function send(
  res: ServerResponse,
  stats: ServerStats,
  status: number,
  reason: string,
  body: string,
): void {
  stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
  const headers: Record<string, string | number> = { "content-length": Buffer.byteLength(body) };
  if (body.length > 0) headers["content-type"] = JSON_TYPE;
  res.writeHead(status, reason, headers);
  res.end(body);
}

/** `{"data":null,"errors"?:…,"message":"…\n"}` (docs/proxmox-behaviour.md#api-envelope-and-errors). */
function sendError(res: ServerResponse, stats: ServerStats, e: PveHttpError): void {
  const message = e.message.endsWith("\n") ? e.message : `${e.message}\n`;
  const body: Record<string, unknown> = { data: null };
  if (e.errors !== undefined) body.errors = e.errors;
  body.message = message;
  send(res, stats, e.status, reasonPhrase(message), JSON.stringify(body));
}

function sendResult(res: ServerResponse, stats: ServerStats, result: unknown): void {
  let body: string;
  if (result instanceof PreSerialized) body = `{"data":${result.json}}`;
  else if (result instanceof WithTotal)
    body = JSON.stringify({ data: result.data, total: result.total });
  else body = JSON.stringify({ data: result === undefined ? null : result });
  send(res, stats, 200, "OK", body);
}

/** Closes the socket with no response: the client sees a network error. */
function drop(req: IncomingMessage, stats: ServerStats): void {
  stats.dropped++;
  req.socket.destroy();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/**
 * The request pipeline in pveproxy's order (docs/proxmox-behaviour.md#api-envelope-and-errors): faults of the proxy hop, 401 (delayed,
 * empty body) → 501 for unknown routes → allowtoken 403 → permission 403 → node resolution →
 * 400 parameter errors → handler (500 or result).
 */
export async function handleRequest(
  deps: ApiServerDeps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { core, stats } = deps;
  stats.requests++;
  // pveproxy stamps every answer with its own clock (docs/proxmox-behaviour.md#date-header-clock-offset);
  // the simulator's clock may be skewed on purpose.
  res.setHeader("date", new Date(core.clock.now()).toUTCString());
  const body = await readBody(req);
  const faults = core.faults();
  if (faults.latencyMs > 0) await core.clock.sleep(faults.latencyMs, deps.signal).catch(() => {});
  if (deps.signal.aborted) return drop(req, stats);
  if (faults.drop > 0 && core.rng.next() < faults.drop) return drop(req, stats);
  if (faults.http596 > 0 && core.rng.next() < faults.http596) {
    stats.byStatus[596] = (stats.byStatus[596] ?? 0) + 1;
    res.writeHead(596, "Connection timed out", { "content-length": 0 });
    res.end();
    return;
  }
  if (faults.http500 > 0 && core.rng.next() < faults.http500) {
    return sendError(res, stats, fail("simulated internal error (fault injection)"));
  }
  core.tasks.advance(core.clock.now());

  const method = (req.method ?? "GET").toUpperCase();
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  const fullPath = q < 0 ? url : url.slice(0, q);
  const search = q < 0 ? "" : url.slice(q + 1);
  const rel = fullPath.startsWith(`${PREFIX}/`) ? fullPath.slice(PREFIX.length) : fullPath;

  const auth = authenticate(req.headers.authorization, req.headers.cookie, core.access);
  if (!auth.ok) {
    // The 401 is delayed on purpose and has an empty body (docs/proxmox-behaviour.md#api-envelope-and-errors).
    await core.clock.sleep(deps.authFailDelayMs, deps.signal).catch(() => {});
    stats.byStatus[401] = (stats.byStatus[401] ?? 0) + 1;
    res.writeHead(401, auth.reason, { "content-length": 0 });
    res.end();
    return;
  }
  const match =
    fullPath.startsWith(`${PREFIX}/`) && METHODS.has(method)
      ? deps.router.match(method as HttpMethod, rel)
      : undefined;
  if (match === undefined) {
    return sendError(
      res,
      stats,
      new PveHttpError(501, `Method '${method} ${rel}' not implemented`),
    );
  }
  const { route, pathParams } = match;
  try {
    if (route.allowtoken === false && auth.principal.tokenid !== undefined) {
      throw new PveHttpError(
        403,
        `Permission check failed (URI '${rel}' not available with API token, need proper ticket.\n)`,
      );
    }
    const perm = route.perm;
    if (perm.kind === "check" || perm.kind === "any") {
      const path = perm.path.replace(/\{(\w+)\}/g, (_, k: string) => pathParams[k] ?? "");
      if (perm.kind === "check") core.access.check(auth.principal, path, perm.privs);
      else core.access.checkAny(auth.principal, path, perm.privs);
    }
    if (pathParams.node !== undefined && pathParams.node !== core.node) {
      // proxyto falls back to DNS for an unknown node (docs/proxmox-behaviour.md#unknown-node-and-nextid).
      throw fail(
        `hostname lookup '${pathParams.node}' failed - failed to get address info for: ${pathParams.node}: Name or service not known`,
      );
    }
    const raw = extractParams(method, search, req.headers["content-type"], body, pathParams);
    const checked = checkParams(method as HttpMethod, route.path, raw);
    if (!checked.ok) throw new PveHttpError(400, "Parameter verification failed.", checked.errors);
    const older = unknownOnRelease(core.version.release, method, route.path, raw);
    if (older) throw new PveHttpError(400, "Parameter verification failed.", older);
    const ctx: RequestContext = {
      core,
      who: auth.principal,
      params: checked.params,
      method: method as HttpMethod,
      path: rel,
    };
    const result = await route.handler(ctx);
    if (method !== "GET")
      stats.applied[`${method} ${rel}`] = (stats.applied[`${method} ${rel}`] ?? 0) + 1;
    if (faults.dropAfter > 0 && core.rng.next() < faults.dropAfter) return drop(req, stats);
    sendResult(res, stats, result);
  } catch (e) {
    if (e instanceof PveHttpError) return sendError(res, stats, e);
    // A non-exception die escaping the handler is a 500 with its text (docs/proxmox-behaviour.md#api-envelope-and-errors).
    sendError(res, stats, fail(e instanceof Error ? e.message : String(e)));
  }
}

export function createApiServer(deps: ApiServerDeps, tls: { cert: string; key: string }): Server {
  return createServer({ cert: tls.cert, key: tls.key, keepAlive: true }, (req, res) => {
    handleRequest(deps, req, res).catch(() => {
      if (!res.headersSent) res.destroy();
    });
  });
}
