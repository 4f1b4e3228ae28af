import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import { silentLogger } from "../log/types.ts";
import { isProxmoxError } from "../proxmox/is-proxmox-error.ts";
import { auditMutation } from "./audit.ts";
import { limitBody } from "./body.ts";
import { BOOTSTRAP_PATH, bootstrapHandler, bootstrapRateLimit } from "./bootstrap.ts";
import { defaultLocalApiLimits, type LocalApiDeps } from "./deps.ts";
import type { LocalApiEnv } from "./env.ts";
import { LocalApiError } from "./errors.ts";
import {
  bearerGuest,
  hostGuard,
  originGuard,
  rateLimit,
  refuseQueryToken,
  securityHeaders,
} from "./guards.ts";
import { createGuestReads } from "./guest-reads.ts";
import { HANDLERS, type HandlerDeps } from "./handlers.ts";
import { buildOpenApiDocument } from "./openapi.ts";
import { TokenBuckets } from "./rate-limit.ts";
import { ReadCache } from "./read-cache.ts";
import { GUEST_ROUTES } from "./route-table.ts";

export const OPENAPI_PATH = "/v1/openapi.json";

export type LocalApiApp = Hono<LocalApiEnv>;

function errorResponse(err: LocalApiError): Response {
  return err.toResponse();
}

/**
 * The local API as a Hono app (no socket; `startLocalApiServer` serves it over HTTPS). Every
 * route under /v1/self acts on the guest its bearer token was minted for.
 */
export function createLocalApiApp(deps: LocalApiDeps): LocalApiApp {
  const limits = { ...defaultLocalApiLimits, ...deps.limits };
  const logger = (deps.logger ?? silentLogger).child({ component: "localapi" });
  const cache = new ReadCache(deps.clock, limits.readCacheMs);
  const buckets = new TokenBuckets(deps.clock, limits.rateLimit.perMinute, limits.rateLimit.burst);
  const handlerDeps: HandlerDeps = {
    reads: createGuestReads(deps.proxmox, cache),
    submitter: deps.submitter,
    quotas: deps.quotas,
    backups: deps.backups,
    clock: deps.clock,
  };
  const app = new Hono<LocalApiEnv>();

  app.onError((err, c) => {
    if (err instanceof LocalApiError) return errorResponse(err);
    if (err instanceof HTTPException) return err.getResponse();
    const guest = c.get("guest");
    if (isProxmoxError(err)) {
      logger.warn("Proxmox read failed for a local API request", {
        vmid: guest?.vmid,
        path: c.req.path,
        error: err.message,
      });
      return errorResponse(
        new LocalApiError(502, "the host could not read this guest from Proxmox; retry later", {
          code: "proxmox_unavailable",
        }),
      );
    }
    logger.error("local API request failed", {
      vmid: guest?.vmid,
      path: c.req.path,
      error: err.message,
    });
    return errorResponse(
      new LocalApiError(500, "internal error; the agent's log has the details", {
        code: "internal_error",
      }),
    );
  });
  app.notFound(() => errorResponse(new LocalApiError(404, "no such route", { code: "not_found" })));

  // Outermost, so its headers land on refusals and errors too; then the Host check, before
  // anything that parses the URL.
  app.use(securityHeaders());
  if (deps.requestCounts) app.use(deps.requestCounts.middleware());
  app.use(hostGuard());
  app.use(originGuard(deps.allowedOrigins ?? []));
  app.use(refuseQueryToken());
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (_c, methods) =>
        new LocalApiError(405, `method not allowed; allowed: ${methods.join(", ")}`, {
          code: "method_not_allowed",
          headers: { allow: methods.join(", ") },
        }).toResponse(),
    }),
  );

  // The document describes shapes only, no guest data: a controller or an operator can fetch
  // it before holding a token, and it is the same for every guest.
  const openapi = JSON.stringify(buildOpenApiDocument(deps.version ?? "0"));
  app.get(OPENAPI_PATH, (c) =>
    c.body(openapi, 200, { "content-type": "application/json; charset=UTF-8" }),
  );

  if (deps.bootstrap) {
    // Per source address: codes are 192 random bits, so this bounds load, not guessing odds.
    const bootstrapBuckets = new TokenBuckets(deps.clock, 30, 10);
    app.post(
      BOOTSTRAP_PATH,
      bootstrapRateLimit(bootstrapBuckets),
      limitBody(limits.bodyLimitBytes),
      bootstrapHandler(deps.bootstrap, deps.audit, logger),
    );
  }

  // Hono's `/v1/self/*` matches `/v1/self` itself too; registering both would run the
  // middleware twice and charge the rate limit double.
  app.use(
    "/v1/self/*",
    bearerGuest(deps.tokens),
    rateLimit(buckets),
    limitBody(limits.bodyLimitBytes),
  );
  for (const r of GUEST_ROUTES) {
    const handler = HANDLERS[r.id];
    const run = (c: Parameters<typeof handler>[0]) => handler(c, handlerDeps);
    if ("op" in r)
      app.on(r.method, r.path, auditMutation({ id: r.id, op: r.op }, deps.audit, logger), run);
    else app.on(r.method, r.path, run);
  }
  return app;
}
