import { z } from "zod";
import {
  describePermission,
  type FailureReason,
  type PermissionFailure,
  parseFailureReason,
} from "./failure-reason.ts";

/**
 * What went wrong, in terms of what the caller should do next:
 * - `unauthorized` (401): the token is unknown, expired, disabled or has a wrong secret; PVE
 *   never says which and delays the answer by 3 s (docs/proxmox-behaviour.md#api-envelope-and-errors).
 * - `forbidden` (403): a privilege is missing; see `permission`.
 * - `bad_request` (400): parameter verification; see `errors`.
 * - `not_found_ct` (500): PVE has no 404 for guests, a missing CT is a 500 naming its config file.
 * - `locked` (500): the guest's config lock or the config flock was busy (docs/proxmox-behaviour.md#locks).
 * - `not_implemented` (501): unknown path/method (or an older server's handler exception).
 * - `proxy` (595–599): the pveproxy→pvedaemon/node hop failed; a mutating call may or may not
 *   have run.
 * - `server` (other 5xx), `http` (any other status).
 */
export type ApiErrorKind =
  | "unauthorized"
  | "forbidden"
  | "bad_request"
  | "not_found_ct"
  | "locked"
  | "not_implemented"
  | "proxy"
  | "server"
  | "http";

/** AnyEvent::HTTP pseudo-statuses forwarded by pveproxy unchanged (docs/proxmox-behaviour.md#api-envelope-and-errors). */
export const PROXY_STATUS_MEANING: Readonly<Record<number, string>> = {
  595: "connection establishment failed",
  596: "TLS negotiation, request sending or header processing failed",
  597: "body transfer failed",
  598: "request aborted",
  599: "other transport error",
};

const errorBody = z
  .object({
    message: z.string().optional(),
    errors: z.record(z.string(), z.unknown()).nullish(),
  })
  .loose();

export interface ApiErrorInit {
  status: number;
  statusText: string;
  method: string;
  /** API path below `/api2/json`, without the query. */
  path: string;
  /** Parsed JSON body, if there was one. */
  body: unknown;
  /** `user@realm!tokenid` of the caller; never the secret. */
  callerTokenId?: string;
}

export class ProxmoxApiError extends Error {
  override readonly name = "ProxmoxApiError";
  readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly kind: ApiErrorKind;
  /** Proxmox's own text: body `message` (PVE ≥ 8.3), else the HTTP reason phrase. */
  readonly pveMessage: string;
  /** Per-parameter messages of a 400 (`errors` in the body). */
  readonly errors: Readonly<Record<string, string>> | undefined;
  readonly reason: FailureReason;
  /** For 403: the ACL path and the missing privilege(s). */
  readonly permission: PermissionFailure | undefined;
  readonly callerTokenId: string | undefined;
  /** For 595–599: what the AnyEvent::HTTP status means. */
  readonly proxyMeaning: string | undefined;

  constructor(init: ApiErrorInit) {
    const parsed = errorBody.safeParse(init.body);
    const bodyMessage = parsed.success ? parsed.data.message?.trim() : undefined;
    // PVE < 8.3 sends only {"data":null}: the text is in the reason phrase (docs/proxmox-behaviour.md#api-envelope-and-errors).
    const pveMessage = bodyMessage || init.statusText.trim();
    const errors =
      parsed.success && parsed.data.errors ? stringifyErrors(parsed.data.errors) : undefined;
    const reason = parseFailureReason(pveMessage);
    const kind = classify(init.status, reason);
    const permission = reason.kind === "permission" ? reason : undefined;
    const proxyMeaning = kind === "proxy" ? PROXY_STATUS_MEANING[init.status] : undefined;
    super(composeMessage(init, kind, pveMessage, errors, reason, permission, proxyMeaning));
    this.status = init.status;
    this.method = init.method;
    this.path = init.path;
    this.kind = kind;
    this.pveMessage = pveMessage;
    this.errors = errors;
    this.reason = reason;
    this.permission = permission;
    this.callerTokenId = init.callerTokenId;
    this.proxyMeaning = proxyMeaning;
  }

  /** 400 `no such task` / unparsable upid right after a task was created (docs/proxmox-behaviour.md#upid-format, docs/proxmox-behaviour.md#task-not-yet-visible). */
  get isNoSuchTask(): boolean {
    return (
      this.status === 400 && /no such task/i.test(`${this.errors?.upid ?? ""} ${this.pveMessage}`)
    );
  }
}

function classify(status: number, reason: FailureReason): ApiErrorKind {
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 400) return "bad_request";
  if (status >= 595 && status <= 599) return "proxy";
  if (status === 501) return "not_implemented";
  if (status >= 500) {
    if (reason.kind === "missing_guest") return "not_found_ct";
    if (reason.kind === "locked" || reason.kind === "lock_timeout") return "locked";
    return "server";
  }
  return "http";
}

function stringifyErrors(errors: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(errors)) {
    out[k] = (typeof v === "string" ? v : JSON.stringify(v)).trim();
  }
  return out;
}

function composeMessage(
  init: ApiErrorInit,
  kind: ApiErrorKind,
  pveMessage: string,
  errors: Record<string, string> | undefined,
  reason: FailureReason,
  permission: PermissionFailure | undefined,
  proxyMeaning: string | undefined,
): string {
  const head = `${init.method} ${init.path}: HTTP ${init.status}`;
  switch (kind) {
    case "unauthorized":
      return `${head} authentication failed: the API token${init.callerTokenId ? ` ${init.callerTokenId}` : ""} was not accepted (unknown, disabled, expired or wrong secret)`;
    case "forbidden": {
      const what = permission ? describePermission(permission) : pveMessage || "permission denied";
      return `${head} forbidden: ${what}${privsepNote(init.callerTokenId)}`;
    }
    case "bad_request": {
      const detail = errors
        ? Object.entries(errors)
            .map(([k, v]) => `${k}: ${v}`)
            .join("; ")
        : "";
      return `${head} ${pveMessage || "bad request"}${detail ? ` (${detail})` : ""}`;
    }
    case "not_found_ct": {
      const vmid = reason.kind === "missing_guest" ? reason.vmid : undefined;
      return `${head} guest${vmid === undefined ? "" : ` ${vmid}`} does not exist: ${pveMessage}`;
    }
    case "proxy":
      return `${head} Proxmox proxy error (${proxyMeaning}): ${pveMessage || "no detail"}; a mutating request may or may not have run`;
    default:
      return `${head} ${pveMessage || "no message"}`;
  }
}

/**
 * Every caller of this client is an API token. A privilege-separated token (privsep=1, the
 * default) holds only what is granted to both its user and itself (docs/proxmox-behaviour.md#api-tokens), so a 403 often
 * means the ACL was given to only one of them.
 */
export function privsepNote(tokenId: string | undefined): string {
  if (!tokenId) return "";
  return ` (caller is API token ${tokenId}; if it is privilege-separated, the privilege must be granted to both the user and the token)`;
}
