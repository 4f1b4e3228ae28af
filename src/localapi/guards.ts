import type { MiddlewareHandler } from "hono";
import type { GuestTokenResolver } from "./deps.ts";
import type { LocalApiEnv } from "./env.ts";
import { badRequestAuth, LocalApiError, unauthorized } from "./errors.ts";
import type { TokenBuckets } from "./rate-limit.ts";

/**
 * Refuses a foreign `Origin`: a browser on the LAN that holds nothing but a page could
 * otherwise make a guest's own browser send requests here (Tailscale LocalAPI refuses them the
 * same way). Controllers are not browsers and send no Origin at all.
 */
export function originGuard(allowed: readonly string[]): MiddlewareHandler<LocalApiEnv> {
  const ok = new Set(allowed.map((o) => o.toLowerCase()));
  return async (c, next) => {
    const origin = c.req.header("origin");
    if (origin !== undefined && !ok.has(origin.toLowerCase())) {
      throw new LocalApiError(403, "requests from a browser origin are refused", {
        code: "foreign_origin",
      });
    }
    const site = c.req.header("sec-fetch-site");
    if (site !== undefined && site !== "same-origin" && site !== "none") {
      throw new LocalApiError(403, "cross-site browser requests are refused", {
        code: "foreign_origin",
      });
    }
    await next();
  };
}

/** Query parameters that look like a credential; such a URL has already leaked the secret. */
const TOKEN_PARAMS = /^(access_token|token|bearer|auth|authorization|api_key|apikey|key)$/i;

/**
 * A token in the URL ends up in proxy logs and shell history; refusing it (not merely ignoring
 * it) makes a misconfigured controller fail loudly at once instead of working by accident.
 */
export function refuseQueryToken(): MiddlewareHandler<LocalApiEnv> {
  return async (c, next) => {
    // Most requests carry no query: skip parsing the URL for them
    // (docs/architecture.md#local-api-request-path).
    if (!c.req.url.includes("?")) return next();
    const url = new URL(c.req.url);
    for (const name of url.searchParams.keys()) {
      if (TOKEN_PARAMS.test(name)) {
        throw new LocalApiError(
          400,
          "a token is accepted only in the Authorization header (Bearer), never in the URL; the token in this URL should be considered leaked and revoked",
          { code: "token_in_query" },
        );
      }
    }
    await next();
  };
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)[ ]*$/i;
/** The scheme word alone, so a `Basic …` header is told apart from a broken `Bearer …` one. */
const BEARER_SCHEME = /^Bearer(?:[ ]|$)/i;

/**
 * Answers a request whose URL cannot be parsed (Bun builds `req.url` from the Host header, and a
 * Host such as `a b` or `[::1` yields a string `new URL` refuses) with 400 before any other
 * middleware tries to parse it and throws (docs/bun-runtime.md#a-malformed-host-header).
 */
export function hostGuard(): MiddlewareHandler<LocalApiEnv> {
  return async (c, next) => {
    if (!URL.canParse(c.req.url)) {
      throw new LocalApiError(400, "the Host header is not a valid host name or address", {
        code: "bad_host",
      });
    }
    await next();
  };
}

/**
 * Headers on every answer, refusals included: the API serves JSON to programs, so a browser that
 * is pointed at it anyway must neither sniff a body into HTML, cache a guest's data, nor frame or
 * run anything from it.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
  "referrer-policy": "no-referrer",
};

export function securityHeaders(): MiddlewareHandler<LocalApiEnv> {
  return async (c, next) => {
    await next();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(k, v);
  };
}

/**
 * Resolves the bearer token to its guest once per request and attaches it; no route reads a
 * guest id from anywhere else (docs/architecture.md#a-guest-acts-only-on-itself).
 */
export function bearerGuest(tokens: GuestTokenResolver): MiddlewareHandler<LocalApiEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (header === undefined || header.trim() === "") {
      throw unauthorized("an Authorization: Bearer <token> header is required");
    }
    // RFC 6750 §3.1: another scheme is a request without our credentials (401); a Bearer
    // header that does not parse is a malformed request (400, invalid_request).
    if (!BEARER_SCHEME.test(header)) {
      throw unauthorized("an Authorization: Bearer <token> header is required");
    }
    const m = BEARER.exec(header);
    if (!m?.[1]) throw badRequestAuth("the Authorization header must be 'Bearer <token>'");
    const resolved = tokens.resolve(m[1]);
    if (!resolved) throw unauthorized("the token is unknown or revoked", "invalid_token");
    c.set("guest", {
      vmid: resolved.vmid,
      tokenId: resolved.id,
      ...(resolved.guestUid === undefined ? {} : { guestUid: resolved.guestUid }),
    });
    await next();
  };
}

/** Per-token request budget; keyed by the token id, so it follows the token, not the address. */
export function rateLimit(buckets: TokenBuckets): MiddlewareHandler<LocalApiEnv> {
  return async (c, next) => {
    const d = buckets.take(c.get("guest").tokenId);
    if (!d.allowed) {
      throw new LocalApiError(429, "too many requests for this token; retry later", {
        code: "rate_limited",
        headers: { "retry-after": String(d.retryAfterSec) },
      });
    }
    await next();
  };
}
