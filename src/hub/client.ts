import type { z } from "zod";
import type { Ed25519 } from "../authz/ed25519.ts";
import type { Clock } from "../util/clock.ts";
import { parseJsonOrUndefined } from "../util/parse-json-or-undefined.ts";
import { HubHttpError, HubPayloadError, HubUnreachableError } from "./errors.ts";
import {
  ackSchema,
  type EnrollRequest,
  type EnrollResponse,
  enrollResponseSchema,
  HUB_PATHS,
  hostPath,
  hubDesiredSchema,
  hubErrorSchema,
  hubJobListSchema,
  type JobResult,
  type ReportBatch,
} from "./protocol.ts";
import { ENROLL_SIGNER, newNonce, signRequest } from "./request-signing.ts";
import type { HubTransport } from "./transport.ts";

/** The host's durable credentials, from the identity file. */
export interface HubCredentials {
  hostId: string;
  /** Bearer credential. Secret. */
  credential: string;
  /** ed25519 seed of the host key. Secret. */
  seed: Uint8Array;
}

export interface HubClientDeps {
  /** Hub base URL without a trailing slash. */
  baseUrl: string;
  transport: HubTransport;
  ed: Ed25519;
  clock: Clock;
  requestTimeoutMs: number;
  /** Random nonces by default; injectable for tests that need a repeat. */
  nonce?: () => string;
}

export type Fetched<T> =
  | { changed: false }
  | {
      changed: true;
      value: T;
      /** The entity tag to send as If-None-Match next time, when the hub gave one. */
      etag?: string;
      /** The body as received (what the desired-state cache keeps). */
      text: string;
    };

// Generous for a job list or desired state, small enough that a broken hub cannot exhaust memory.
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Every call the agent makes to the hub (protocol v1, docs/hub-protocol.md). */
export interface HubClient {
  enroll(req: EnrollRequest, seed: Uint8Array): Promise<EnrollResponse>;
  desired(
    creds: HubCredentials,
    etag?: string,
  ): Promise<Fetched<z.output<typeof hubDesiredSchema>>>;
  jobs(creds: HubCredentials, etag?: string): Promise<Fetched<z.output<typeof hubJobListSchema>>>;
  postReports(creds: HubCredentials, batch: ReportBatch): Promise<void>;
  postJobResults(creds: HubCredentials, results: JobResult[]): Promise<void>;
  /**
   * The body of an update artifact, as a stream the caller bounds and hashes itself
   * (docs/hub-protocol.md#update-artifacts); `timeoutMs` covers the whole download.
   */
  artifact(
    creds: HubCredentials,
    version: string,
    target: string,
    timeoutMs: number,
  ): Promise<ReadableStream<Uint8Array>>;
}

export function createHubClient(deps: HubClientDeps): HubClient {
  const base = deps.baseUrl.replace(/\/+$/, "");
  const basePath = new URL(base).pathname.replace(/\/+$/, "");
  const nonce = deps.nonce ?? newNonce;

  async function open(
    method: "GET" | "POST",
    path: string,
    signer: { hostId: string; seed: Uint8Array; credential?: string },
    body: unknown,
    etag: string | undefined,
    signal: AbortSignal,
  ): Promise<Response> {
    const bytes =
      body === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(body));
    const headers: Record<string, string> = {
      accept: "application/json",
      ...(await signRequest(deps.ed, signer.seed, {
        method,
        pathAndQuery: basePath + path,
        hostId: signer.hostId,
        timestamp: Math.floor(deps.clock.now() / 1000),
        nonce: nonce(),
        body: bytes,
      })),
    };
    if (signer.credential !== undefined) headers.authorization = `Bearer ${signer.credential}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    if (etag !== undefined) headers["if-none-match"] = etag;
    return deps.transport.fetch(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : bytes,
      signal,
      redirect: "manual",
    });
  }

  async function send(
    method: "GET" | "POST",
    path: string,
    signer: { hostId: string; seed: Uint8Array; credential?: string },
    body?: unknown,
    etag?: string,
  ): Promise<{ status: number; text: string; etag?: string }> {
    const signal = AbortSignal.timeout(deps.requestTimeoutMs);
    const res = await open(method, path, signer, body, etag, signal);
    let text: string;
    try {
      text = await readCapped(res);
    } catch (err) {
      if (err instanceof HubPayloadError) throw new HubPayloadError(method, path, err.issues);
      throw new HubUnreachableError(
        base,
        signal.aborted ? "timeout" : "network",
        "connection broke while reading the answer",
      );
    }
    if (res.status === 304) return { status: 304, text: "" };
    if (res.status < 200 || res.status >= 300) {
      const err = hubErrorSchema.safeParse(parseJsonOrUndefined(text));
      throw new HubHttpError(
        method,
        path,
        res.status,
        err.success ? err.data.error.code : undefined,
        err.success ? err.data.error.message : undefined,
      );
    }
    const tag = res.headers.get("etag") ?? undefined;
    return tag === undefined
      ? { status: res.status, text }
      : { status: res.status, text, etag: tag };
  }

  function decode<T>(method: string, path: string, text: string, schema: z.ZodType<T>): T {
    const json = parseJsonOrUndefined(text);
    if (json === undefined) throw new HubPayloadError(method, path, ["body is not JSON"]);
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new HubPayloadError(
        method,
        path,
        parsed.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`),
      );
    }
    return parsed.data;
  }

  async function fetchTagged<T>(
    creds: HubCredentials,
    template: string,
    schema: z.ZodType<T>,
    etag: string | undefined,
  ): Promise<Fetched<T>> {
    const path = hostPath(template, creds.hostId);
    const r = await send("GET", path, creds, undefined, etag);
    if (r.status === 304) return { changed: false };
    const value = decode("GET", path, r.text, schema);
    return r.etag === undefined
      ? { changed: true, value, text: r.text }
      : { changed: true, value, text: r.text, etag: r.etag };
  }

  return {
    async enroll(req, seed) {
      const r = await send("POST", HUB_PATHS.enroll, { hostId: ENROLL_SIGNER, seed }, req);
      return decode("POST", HUB_PATHS.enroll, r.text, enrollResponseSchema);
    },
    desired: (creds, etag) => fetchTagged(creds, HUB_PATHS.desired, hubDesiredSchema, etag),
    jobs: (creds, etag) => fetchTagged(creds, HUB_PATHS.jobs, hubJobListSchema, etag),
    async postReports(creds, batch) {
      const path = hostPath(HUB_PATHS.reports, creds.hostId);
      const r = await send("POST", path, creds, batch);
      decode("POST", path, r.text, ackSchema);
    },
    async postJobResults(creds, results) {
      const path = hostPath(HUB_PATHS.jobResults, creds.hostId);
      const r = await send("POST", path, creds, { results });
      decode("POST", path, r.text, ackSchema);
    },
    async artifact(creds, version, target, timeoutMs) {
      const path = hostPath(HUB_PATHS.artifact, creds.hostId)
        .replace("{version}", encodeURIComponent(version))
        .replace("{target}", encodeURIComponent(target));
      const res = await open(
        "GET",
        path,
        creds,
        undefined,
        undefined,
        AbortSignal.timeout(timeoutMs),
      );
      if (res.status !== 200 || res.body === null) {
        const text = await readCapped(res, 64 * 1024).catch(() => "");
        const err = hubErrorSchema.safeParse(parseJsonOrUndefined(text));
        throw new HubHttpError(
          "GET",
          path,
          res.status,
          err.success ? err.data.error.code : undefined,
          err.success ? err.data.error.message : undefined,
        );
      }
      return res.body;
    },
  };
}

/**
 * Reads the body as it streams and stops at the cap: a hub (or anything posing as one) that
 * sends an endless body, chunked or under a Content-Length that does not match what follows,
 * costs at most the cap plus one chunk of memory, never the host's.
 */
export async function readCapped(res: Response, maxBytes = MAX_BODY_BYTES): Promise<string> {
  const tooLarge = () => new HubPayloadError("", "", [`body larger than ${maxBytes} bytes`]);
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      // Cancelling the stream closes the connection, so the rest is never read.
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks, total));
}
