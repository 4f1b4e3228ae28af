import type { Context, MiddlewareHandler } from "hono";
import { z } from "zod";
import type { Logger } from "../log/types.ts";
import { readJson } from "./body.ts";
import type { AuditSink } from "./deps.ts";
import type { LocalApiEnv } from "./env.ts";
import { LocalApiError } from "./errors.ts";
import type { TokenBuckets } from "./rate-limit.ts";

export const BOOTSTRAP_PATH = "/v1/bootstrap";

/** The one field a controller sends: the code from its PID 1's `FELHOM_BOOTSTRAP`. */
export const bootstrapBody = z.strictObject({
  code: z.string().min(1).max(128),
});

/** What a traded code gives the controller, once. */
export interface BootstrapGrant {
  vmid: number;
  guestUid: string;
  token: string;
  tokenId: string;
  hostId: string | null;
  hubUrl: string | null;
  /** The local API's certificate pins, so every later request can check them. */
  pins: { leafSha256: string; spkiSha256: string };
  /** The controller's hub credential as the hub sealed it for the guest; null when none came. */
  hubCredential: string | null;
}

/** Why a redemption was refused: for the audit row only, never for the caller. */
export type BootstrapRefusal = "unknown_code" | "wrong_source" | "not_running" | "used_or_expired";

export type BootstrapOutcome =
  | { ok: true; grant: BootstrapGrant }
  | { ok: false; reason: BootstrapRefusal; vmid?: number };

/**
 * Trades a code for a grant (the daemon's implementation checks the source address against
 * the guest's interfaces as Proxmox reports them, then claims the code once).
 */
export interface BootstrapRedeemer {
  redeem(code: string, source: string): Promise<BootstrapOutcome>;
}

export const bootstrapGrantSchema = z.object({
  vmid: z.number().int(),
  guest_uid: z.string(),
  token: z.string(),
  token_id: z.string(),
  host_id: z.string().nullable(),
  hub_url: z.string().nullable(),
  pins: z.object({ leaf_sha256: z.string(), spki_sha256: z.string() }),
  hub_credential: z.string().nullable(),
});

/** `::ffff:10.0.0.5` is the IPv4 peer on a dual-stack socket; compare it as `10.0.0.5`. */
export function normalizeSource(address: string | undefined): string | undefined {
  if (address === undefined || address === "") return undefined;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return (mapped ? mapped[1] : address)?.toLowerCase();
}

/**
 * One 401 for every refusal, whatever the cause: an unknown code, a used or expired one, and
 * a right code from the wrong address read alike, so the answer tells a guesser nothing.
 */
function refused(): LocalApiError {
  return new LocalApiError(401, "the bootstrap code was not accepted", {
    code: "unauthorized",
    headers: { "www-authenticate": 'FelhomBootstrap realm="felhom-agent"' },
  });
}

/** Guessing budget per source address (the code is the credential; there is no token yet). */
export function bootstrapRateLimit(buckets: TokenBuckets): MiddlewareHandler<LocalApiEnv> {
  return async (c, next) => {
    const source = normalizeSource(c.env?.remoteAddress) ?? "unknown";
    const d = buckets.take(`bootstrap:${source}`);
    if (!d.allowed) {
      throw new LocalApiError(429, "too many bootstrap attempts; retry later", {
        code: "rate_limited",
        headers: { "retry-after": String(d.retryAfterSec) },
      });
    }
    await next();
  };
}

/**
 * `POST /v1/bootstrap`: no bearer token, the code is the credential, and it only counts from
 * the guest's own address (docs/architecture.md#provisioning-constraints). Every attempt is
 * audited, without the code.
 */
export function bootstrapHandler(
  redeemer: BootstrapRedeemer,
  audit: AuditSink | undefined,
  logger: Logger,
) {
  return async (c: Context<LocalApiEnv>): Promise<Response> => {
    const source = normalizeSource(c.env?.remoteAddress);
    const body = await readJson(c, bootstrapBody);
    const outcome: BootstrapOutcome =
      source === undefined
        ? { ok: false, reason: "wrong_source" }
        : await redeemer.redeem(body.code, source);
    const vmid = outcome.ok ? outcome.grant.vmid : outcome.vmid;
    try {
      audit?.append({
        actor: vmid === undefined ? "guest:unknown" : `guest:${vmid}`,
        action: "guest.bootstrap",
        target: vmid === undefined ? null : `guest:${vmid}`,
        outcome: outcome.ok ? "redeemed" : `refused:${outcome.reason}`,
        details: {
          source: source ?? "unknown",
          ...(outcome.ok ? { token_id: outcome.grant.tokenId } : {}),
        },
      });
    } catch (e) {
      logger.error("bootstrap audit write failed", { error: (e as Error).message });
    }
    if (!outcome.ok) throw refused();
    const g = outcome.grant;
    return c.json(
      {
        vmid: g.vmid,
        guest_uid: g.guestUid,
        token: g.token,
        token_id: g.tokenId,
        host_id: g.hostId,
        hub_url: g.hubUrl,
        pins: { leaf_sha256: g.pins.leafSha256, spki_sha256: g.pins.spkiSha256 },
        hub_credential: g.hubCredential,
      },
      200,
    );
  };
}
