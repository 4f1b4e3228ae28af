/**
 * Why a hub request did not succeed, typed by what the caller does next: retry later
 * (unreachable, 5xx), stop and tell the operator (4xx), or log and skip (malformed payload).
 * No message or field ever holds the credential, the host key, or a payload value.
 */
export class HubUnreachableError extends Error {
  override readonly name = "HubUnreachableError";
  constructor(
    readonly url: string,
    readonly reason: "network" | "timeout" | "tls",
    detail: string,
  ) {
    super(`cannot reach the hub at ${url}: ${detail}`);
  }
}

export class HubHttpError extends Error {
  override readonly name = "HubHttpError";
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    /** The hub's machine-readable error code, when its body had one. */
    readonly code: string | undefined,
    hubMessage: string | undefined,
  ) {
    super(
      `hub answered ${method} ${path} with HTTP ${status}${code ? ` (${code})` : ""}${hubMessage ? `: ${hubMessage}` : ""}`,
    );
  }

  /** 5xx, 429 and 408 are the hub's trouble; anything else will not change on retry. */
  get retryable(): boolean {
    return this.status >= 500 || this.status === 429 || this.status === 408;
  }
}

export class HubPayloadError extends Error {
  override readonly name = "HubPayloadError";
  constructor(
    readonly method: string,
    readonly path: string,
    /** Where the payload was wrong: field paths and rule texts, never the values. */
    readonly issues: readonly string[],
  ) {
    super(`malformed hub payload for ${method} ${path}: ${issues.slice(0, 5).join("; ")}`);
  }
}

export function isRetryableHubError(err: unknown): boolean {
  if (err instanceof HubUnreachableError) return true;
  if (err instanceof HubHttpError) return err.retryable;
  return false;
}
