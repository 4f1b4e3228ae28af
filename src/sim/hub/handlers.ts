import { randomBytes } from "node:crypto";
import type { Ed25519 } from "../../authz/ed25519.ts";
import {
  enrollRequestSchema,
  HUB_PROTOCOL_VERSION,
  jobResultBatchSchema,
  reportBatchSchema,
} from "../../hub/protocol.ts";
import {
  checkRequestSignature,
  ENROLL_SIGNER,
  MAX_CLOCK_SKEW_S,
} from "../../hub/request-signing.ts";
import type { Clock } from "../../util/clock.ts";
import type { HubFaults } from "./faults.ts";
import { etagOf, type HubSimState } from "./state.ts";

export interface HandlerDeps {
  state: HubSimState;
  ed: Ed25519;
  clock: Clock;
  faults: () => HubFaults;
}

type ErrorCode =
  | "code_unknown"
  | "code_used"
  | "code_expired"
  | "bad_request"
  | "unauthorized"
  | "bad_signature"
  | "replay"
  | "clock_skew"
  | "not_found"
  | "audit_chain_broken"
  | "unavailable";

export function errorResponse(status: number, code: ErrorCode, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

const HOST_ROUTE =
  /^\/v1\/hosts\/([^/]+)\/(desired|jobs|reports|job-results|artifacts\/[^/]+\/[^/]+)$/;

/** Routes one request of protocol v1 (docs/hub-protocol.md). */
export async function handle(req: Request, deps: HandlerDeps): Promise<Response> {
  const url = new URL(req.url);
  const body = new Uint8Array(await req.arrayBuffer());
  const faults = deps.faults();
  if (faults.status !== undefined) {
    return errorResponse(faults.status, "unavailable", "the hub is having trouble (simulated)");
  }
  if (url.pathname === "/v1/enroll") {
    if (req.method !== "POST") return errorResponse(405, "bad_request", "use POST");
    return enroll(req, url, body, deps);
  }
  const m = HOST_ROUTE.exec(url.pathname);
  if (!m) return errorResponse(404, "not_found", `no route ${url.pathname}`);
  const hostId = decodeURIComponent(m[1] as string);
  const route = m[2] as string;
  const denied = await authenticate(req, url, body, hostId, deps);
  if (denied) return denied;
  const { state } = deps;
  if (route === "desired" && req.method === "GET") {
    if (faults.malformedDesired) return malformed(faults.malformedDesired, "desired");
    const d = state.desiredFor(hostId);
    if (!d) return errorResponse(404, "not_found", "no desired state assigned to this host yet");
    return tagged(req, d.text, d.etag);
  }
  if (route === "jobs" && req.method === "GET") {
    if (faults.malformedJobs) return malformed(faults.malformedJobs, "jobs");
    const text = JSON.stringify({ jobs: state.openJobsFor(hostId) });
    return tagged(req, text, etagOf(text));
  }
  if (route === "reports" && req.method === "POST") {
    const parsed = reportBatchSchema.safeParse(parseJson(body));
    if (!parsed.success) return errorResponse(400, "bad_request", issues(parsed.error.issues));
    // The chain first: a batch that breaks it is refused whole, reports included, so the agent
    // keeps it and nothing here half-records it.
    const verdict = state.acceptAudit(hostId, parsed.data.audit);
    if (!verdict.ok) return errorResponse(409, "audit_chain_broken", verdict.reason);
    for (const r of parsed.data.reports) {
      state.checkAuditHead(hostId, r);
      state.recordReport(hostId, r);
    }
    return Response.json({ ok: true });
  }
  if (route.startsWith("artifacts/") && req.method === "GET") {
    const key = route.slice("artifacts/".length).split("/").map(decodeURIComponent).join("/");
    const bytes = state.artifacts.get(key);
    if (!bytes) return errorResponse(404, "not_found", `no artifact ${key}`);
    return new Response(bytes, { headers: { "content-type": "application/octet-stream" } });
  }
  if (route === "job-results" && req.method === "POST") {
    const parsed = jobResultBatchSchema.safeParse(parseJson(body));
    if (!parsed.success) return errorResponse(400, "bad_request", issues(parsed.error.issues));
    for (const r of parsed.data.results) state.recordResult(hostId, r);
    return Response.json({ ok: true });
  }
  return errorResponse(405, "bad_request", `${req.method} not allowed on ${url.pathname}`);
}

async function enroll(
  req: Request,
  url: URL,
  body: Uint8Array,
  deps: HandlerDeps,
): Promise<Response> {
  const { state, clock } = deps;
  const parsed = enrollRequestSchema.safeParse(parseJson(body));
  if (!parsed.success) return errorResponse(400, "bad_request", issues(parsed.error.issues));
  const publicKey = new Uint8Array(Buffer.from(parsed.data.host_public_key, "base64"));
  // Proof of possession: the request is signed with the key it enrolls.
  const sig = await checkRequestSignature(
    deps.ed,
    publicKey,
    { method: req.method, pathAndQuery: url.pathname + url.search, headers: req.headers, body },
    ENROLL_SIGNER,
    clock.now(),
  );
  if (!sig.ok)
    return errorResponse(
      401,
      sig.reason === "clock_skew" ? "clock_skew" : "bad_signature",
      `request signature: ${sig.reason}`,
    );
  const code = state.codes.get(parsed.data.code);
  if (!code) return errorResponse(404, "code_unknown", "no such retrieval code");
  if (code.usedBy !== undefined)
    return errorResponse(410, "code_used", "the retrieval code has already been used");
  if (clock.now() > code.expiresAt)
    return errorResponse(410, "code_expired", "the retrieval code has expired");
  const hostId = `host-${randomBytes(6).toString("hex")}`;
  const credential = randomBytes(32).toString("base64url");
  code.usedBy = hostId;
  state.hosts.set(hostId, {
    hostId,
    publicKey,
    credential,
    agentVersion: parsed.data.agent_version,
    enrolledAt: clock.now(),
    ...(parsed.data.hostname !== undefined ? { hostname: parsed.data.hostname } : {}),
  });
  state.byCredential.set(credential, hostId);
  const faults = deps.faults();
  if (faults.loseEnrollAnswer)
    return errorResponse(503, "unavailable", "the answer was lost (simulated)");
  if (faults.malformedEnroll) {
    return Response.json({ protocol: HUB_PROTOCOL_VERSION, host_id: hostId, signers: "none" });
  }
  return Response.json({
    protocol: HUB_PROTOCOL_VERSION,
    host_id: hostId,
    credential,
    signers: state.signers,
  });
}

async function authenticate(
  req: Request,
  url: URL,
  body: Uint8Array,
  hostId: string,
  deps: HandlerDeps,
): Promise<Response | undefined> {
  const auth = req.headers.get("authorization") ?? "";
  const bearer = /^Bearer (\S+)$/.exec(auth)?.[1];
  const owner = bearer === undefined ? undefined : deps.state.byCredential.get(bearer);
  const host = owner === undefined ? undefined : deps.state.hosts.get(owner);
  if (!host || host.hostId !== hostId)
    return errorResponse(401, "unauthorized", "unknown credential for this host");
  const now = deps.clock.now();
  const sig = await checkRequestSignature(
    deps.ed,
    host.publicKey,
    { method: req.method, pathAndQuery: url.pathname + url.search, headers: req.headers, body },
    hostId,
    now,
  );
  if (!sig.ok) {
    return errorResponse(
      401,
      sig.reason === "clock_skew" ? "clock_skew" : "bad_signature",
      `request signature: ${sig.reason}`,
    );
  }
  for (const [n, exp] of deps.state.nonces) if (exp < now) deps.state.nonces.delete(n);
  const key = `${hostId}:${sig.nonce}`;
  if (deps.state.nonces.has(key)) return errorResponse(401, "replay", "nonce already seen");
  deps.state.nonces.set(key, now + 2 * MAX_CLOCK_SKEW_S * 1000);
  return undefined;
}

function tagged(req: Request, text: string, etag: string): Response {
  if (req.headers.get("if-none-match") === etag)
    return new Response(null, { status: 304, headers: { etag } });
  return new Response(text, { status: 200, headers: { etag, "content-type": "application/json" } });
}

function malformed(kind: "json" | "schema", what: "desired" | "jobs"): Response {
  const text =
    kind === "json"
      ? '{"version": 1, "guests": {'
      : what === "desired"
        ? JSON.stringify({ version: 1, guests: { "101": { run: "sideways", cores: "many" } } })
        : JSON.stringify({ jobs: "not a list" });
  return new Response(text, {
    status: 200,
    headers: { etag: etagOf(`${kind}:${what}:${text}`), "content-type": "application/json" },
  });
}

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
}

function issues(list: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return list
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join(".") || "(body)"}: ${i.message}`)
    .join("; ");
}
