/**
 * What the operator is told wherever a changed Proxmox certificate meets the pin: in errors,
 * hence the hub's status report, in `status` and in `setup` itself. Root on the host reads the
 * new certificate and re-pins (docs/architecture.md#one-command-setup); the agent never follows
 * a change by itself.
 */
export const REPIN_ADVICE = "Proxmox certificate changed; run `felhom-agent setup --repin` as root";

/** Why a TLS connection to Proxmox was refused. */
export type TlsFailure =
  | "mismatch"
  | "expired"
  | "not_yet_valid"
  | "untrusted"
  | "hostname"
  | "handshake";

export interface ProxmoxTlsErrorInit {
  endpoint: string;
  failure: TlsFailure;
  /** The pinned SHA-256 fingerprint (colon form), in fingerprint mode. */
  expected?: string;
  /** The SHA-256 fingerprint of the leaf the server presented, when it was seen. */
  presented?: string;
  /** The TLS library's error code, e.g. CERT_HAS_EXPIRED. */
  code?: string;
  detail?: string;
}

/**
 * The server's certificate was refused. Raised before any HTTP byte, and so before the token,
 * has been sent (docs/architecture.md#tls-is-never-disabled).
 */
export class ProxmoxTlsError extends Error {
  override readonly name = "ProxmoxTlsError";
  readonly endpoint: string;
  readonly failure: TlsFailure;
  readonly expected: string | undefined;
  readonly presented: string | undefined;
  readonly code: string | undefined;

  constructor(init: ProxmoxTlsErrorInit) {
    super(composeTlsMessage(init));
    this.endpoint = init.endpoint;
    this.failure = init.failure;
    this.expected = init.expected;
    this.presented = init.presented;
    this.code = init.code;
  }
}

function composeTlsMessage(i: ProxmoxTlsErrorInit): string {
  const head = `TLS to ${i.endpoint} refused`;
  const fps = `${i.expected ? ` expected ${i.expected}` : ""}${i.presented ? `, server presented ${i.presented}` : ""}`;
  switch (i.failure) {
    case "mismatch":
      return `${REPIN_ADVICE} (${head}: certificate fingerprint does not match the pin:${fps})`;
    case "expired":
      return `${head}: the server certificate has expired${i.expected ? " (the pinned certificate's expiry is still enforced; renew the host certificate and pin the new fingerprint)" : ""}${fps ? `;${fps}` : ""}`;
    case "not_yet_valid":
      return `${head}: the server certificate is not yet valid (check the clock)${fps ? `;${fps}` : ""}`;
    case "hostname":
      return `${head}: the certificate does not name this host or IP address in its subjectAltName${i.detail ? ` (${i.detail})` : ""}`;
    case "untrusted":
      return `${head}: the certificate is not signed by the configured CA${i.code ? ` (${i.code})` : ""}`;
    default:
      return `${head}: handshake failed${i.code ? ` (${i.code})` : ""}${i.detail ? `: ${i.detail}` : ""}${fps ? `;${fps}` : ""}`;
  }
}

/** The server could not be reached, or the connection broke, or the request timed out. */
export class ProxmoxNetworkError extends Error {
  override readonly name = "ProxmoxNetworkError";
  constructor(
    readonly endpoint: string,
    readonly method: string | undefined,
    readonly path: string | undefined,
    readonly code: string | undefined,
    readonly timedOut: boolean,
    detail: string,
    override readonly cause?: unknown,
  ) {
    super(
      `${method && path ? `${method} ${path}: ` : ""}cannot reach Proxmox at ${endpoint}: ${timedOut ? "request timed out" : detail}${code && !timedOut ? ` (${code})` : ""}`,
    );
  }
}

/** A 2xx response whose body does not have the shape this client expects. */
export class ProxmoxDecodeError extends Error {
  override readonly name = "ProxmoxDecodeError";
  constructor(
    readonly method: string,
    readonly path: string,
    readonly issues: readonly string[],
  ) {
    super(`${method} ${path}: unexpected response from Proxmox: ${issues.slice(0, 5).join("; ")}`);
  }
}

/** Client options that cannot work (bad endpoint, trust, token shape). */
export class ProxmoxConfigError extends Error {
  override readonly name = "ProxmoxConfigError";
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`invalid Proxmox client option ${field}: ${problem}`);
  }
}

/** A call parameter that Proxmox would reject (or that would build a wrong path); nothing was sent. */
export class ProxmoxParamError extends Error {
  override readonly name = "ProxmoxParamError";
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`invalid Proxmox parameter ${field}: ${problem}`);
  }
}
