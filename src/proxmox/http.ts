import { z } from "zod";
import type { Logger } from "../log/types.ts";
import type { RetryPolicy } from "../util/backoff.ts";
import type { Clock } from "../util/clock.ts";
import { parseJsonOrUndefined } from "../util/parse-json-or-undefined.ts";
import { ProxmoxApiError } from "./api-error.ts";
import type { ApiToken } from "./api-token.ts";
import { type ClockOffsetEstimate, createClockOffsetTracker } from "./clock-offset.ts";
import { lenientInt } from "./lenient.ts";
import { withRetry } from "./retry.ts";
import { classifyTransient } from "./transient.ts";
import type { Transport } from "./transport.ts";
import { ProxmoxDecodeError, ProxmoxNetworkError, ProxmoxTlsError } from "./transport-errors.ts";

/** The HTTP methods the Proxmox API uses; the simulator serves the same set, so it names this one. */
export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export type ParamValue = string | number | boolean | readonly string[] | null | undefined;
export type Params = Record<string, ParamValue>;

export interface ApiCall<T> {
  method: HttpMethod;
  /** Path below `/api2/json`, segments already encoded. */
  path: string;
  params?: Params;
  schema: z.ZodType<T, unknown>;
  signal?: AbortSignal;
}

export interface ApiResult<T> {
  data: T;
  /** Top-level `total` beside `data`, e.g. on task logs (docs/proxmox-behaviour.md#task-log). */
  total?: number;
}

export interface HttpDeps {
  endpoint: URL;
  token: ApiToken;
  transport: Transport;
  clock: Clock;
  logger: Logger;
  requestTimeoutMs: number;
  retry: RetryPolicy;
  random?: () => number;
}

export interface Http {
  call<T>(c: ApiCall<T>): Promise<ApiResult<T>>;
  /** Proxmox's clock against ours, from the answers so far; undefined before the first. */
  clockOffset(): ClockOffsetEstimate | undefined;
}

const envelope = z.object({ data: z.unknown(), total: lenientInt.optional() }).loose();

/**
 * The one place that talks HTTP to Proxmox: envelope, errors, timeouts and retries. Only GET
 * is retried: a network error or 59x on a POST/PUT/DELETE does not say whether the task
 * started, so the caller must re-read state instead (docs/proxmox-behaviour.md#transient-failures).
 * Mutations go out on a fresh connection, never a pooled one: Bun re-sends a PUT or DELETE by
 * itself when a reused connection closes before the answer (docs/bun-runtime.md#fetch-resends-idempotent-methods).
 */
export function createHttp(deps: HttpDeps): Http {
  const base = `${deps.endpoint.origin}${deps.endpoint.pathname.replace(/\/+$/, "")}/api2/json`;
  const origin = deps.endpoint.origin;
  const offsets = createClockOffsetTracker();

  async function once<T>(c: ApiCall<T>): Promise<ApiResult<T>> {
    const { method, path } = c;
    const params = encodeParams(c.params ?? {});
    const inQuery = method === "GET" || method === "DELETE";
    const url = inQuery && params.size > 0 ? `${base}${path}?${params}` : `${base}${path}`;
    const headers: Record<string, string> = {
      Authorization: deps.token.authorizationHeader(),
      Accept: "application/json",
    };
    let body: string | undefined;
    if (!inQuery && params.size > 0) {
      // Form encoding: booleans as 1/0 are accepted by every PVE version (docs/proxmox-behaviour.md#api-envelope-and-errors).
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = params.toString();
    }
    const timeout = AbortSignal.timeout(deps.requestTimeoutMs);
    const signal = c.signal ? AbortSignal.any([c.signal, timeout]) : timeout;
    let res: Response;
    let text: string;
    const sentAt = deps.clock.now();
    try {
      res = await deps.transport.fetch(url, {
        method,
        headers,
        body,
        signal,
        redirect: "manual",
        // A fresh connection for every mutation, so the runtime has no stale connection to
        // retry on: a mutation is sent exactly once (docs/bun-runtime.md#fetch-resends-idempotent-methods).
        ...(method === "GET" ? {} : { keepalive: false }),
      });
      // Every pveproxy answer carries a Date header (docs/proxmox-behaviour.md#date-header-clock-offset).
      offsets.record(res.headers.get("date"), sentAt, deps.clock.now());
      text = await res.text();
    } catch (err) {
      if (c.signal?.aborted) throw c.signal.reason ?? err;
      if (err instanceof ProxmoxTlsError || err instanceof ProxmoxNetworkError) throw err;
      const code = (err as { code?: unknown })?.code;
      throw new ProxmoxNetworkError(
        origin,
        method,
        path,
        typeof code === "string" ? code : undefined,
        timeout.aborted,
        err instanceof Error ? err.message : String(err),
        err,
      );
    }
    const json = parseJsonOrUndefined(text);
    if (res.status < 200 || res.status >= 300) {
      throw new ProxmoxApiError({
        status: res.status,
        statusText: res.statusText,
        method,
        path,
        body: json,
        callerTokenId: deps.token.tokenId,
      });
    }
    const env = envelope.safeParse(json);
    if (!env.success)
      throw new ProxmoxDecodeError(method, path, ["body is not a {data: …} JSON envelope"]);
    const data = c.schema.safeParse(env.data.data);
    if (!data.success) {
      throw new ProxmoxDecodeError(
        method,
        path,
        data.error.issues.map((i) => `${i.path.join(".") || "data"}: ${i.message}`),
      );
    }
    return { data: data.data, total: env.data.total };
  }

  return {
    clockOffset: () => offsets.estimate(),
    call<T>(c: ApiCall<T>): Promise<ApiResult<T>> {
      if (c.method !== "GET") return once(c);
      return withRetry(() => once(c), deps.retry, {
        clock: deps.clock,
        signal: c.signal,
        random: deps.random,
        shouldRetry: isRetryableRead,
        onRetry: (err, attempt, delayMs) =>
          deps.logger.debug("retrying Proxmox read", {
            path: c.path,
            attempt,
            delayMs,
            error: err instanceof Error ? err.message : String(err),
          }),
      });
    },
  };
}

/**
 * Transient for an idempotent read: network failures, proxy hops (59x) and generic 5xx. Not
 * TLS refusals, a missing guest, or a held lock (the caller decides about those).
 */
export function isRetryableRead(err: unknown): boolean {
  return classifyTransient(err, "GET").transient;
}

export function encodeParams(params: Params): URLSearchParams {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    if (typeof v === "boolean") out.append(k, v ? "1" : "0");
    else if (typeof v === "string" || typeof v === "number") out.append(k, String(v));
    else for (const item of v) out.append(k, item);
  }
  return out;
}
