/** A field-level complaint about a request body, in the shape a client can map to its inputs. */
export interface FieldError {
  /** Dotted path into the body, `""` for the body as a whole. */
  path: string;
  message: string;
}

export interface LocalApiErrorInit {
  /** Machine-readable reason, e.g. `quota_exceeded`, `pending_signature`. */
  code: string;
  fields?: FieldError[];
  /** Extra response headers (WWW-Authenticate, Retry-After, Allow). */
  headers?: Record<string, string>;
  /** Extra JSON members of the error body, e.g. the held operation's id. */
  details?: Record<string, unknown>;
}

/**
 * Every refusal of the local API: carries its HTTP status and a stable code, and knows its JSON
 * body. The message reads well alone and never contains the presented token.
 */
export class LocalApiError extends Error {
  override readonly name = "LocalApiError";
  readonly status: number;
  readonly code: string;
  readonly fields: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  readonly details: Record<string, unknown>;

  constructor(status: number, message: string, init: LocalApiErrorInit) {
    super(message);
    this.status = status;
    this.code = init.code;
    this.fields = init.fields;
    this.headers = init.headers ?? {};
    this.details = init.details ?? {};
  }

  body(): Record<string, unknown> {
    const out: Record<string, unknown> = { error: this.code, message: this.message };
    if (this.fields) out.fields = this.fields;
    return { ...out, ...this.details };
  }

  toResponse(): Response {
    return new Response(JSON.stringify(this.body()), {
      status: this.status,
      headers: { "content-type": "application/json; charset=UTF-8", ...this.headers },
    });
  }
}

/** RFC 6750 §3: a 401 names the scheme so the client knows what to send. */
export function unauthorized(message: string, oauthError?: "invalid_token") {
  const challenge = oauthError
    ? `Bearer realm="felhom-agent", error="${oauthError}"`
    : 'Bearer realm="felhom-agent"';
  return new LocalApiError(401, message, {
    code: "unauthorized",
    headers: { "www-authenticate": challenge },
  });
}

/** RFC 6750 §3.1: a malformed Authorization header is 400 `invalid_request`, still with the challenge. */
export function badRequestAuth(message: string) {
  return new LocalApiError(400, message, {
    code: "invalid_request",
    headers: { "www-authenticate": 'Bearer realm="felhom-agent", error="invalid_request"' },
  });
}

export function forbidden(code: string, message: string, details?: Record<string, unknown>) {
  return new LocalApiError(403, message, { code, ...(details ? { details } : {}) });
}

export function notFound(message: string) {
  return new LocalApiError(404, message, { code: "not_found" });
}
