import type { Logger } from "../log/types.ts";
import { createTransport } from "../proxmox/transport.ts";
import { ProxmoxNetworkError, ProxmoxTlsError } from "../proxmox/transport-errors.ts";
import type { HubTlsTrust } from "./config-section.ts";
import { HubUnreachableError } from "./errors.ts";

/** Sends one request to the hub under the configured trust; errors are HubUnreachableError. */
export interface HubTransport {
  fetch(url: string, init: RequestInit): Promise<Response>;
  close(): void;
}

/**
 * A pin or a private CA reuse the Proxmox transport: the pin is checked by a probe before any
 * HTTP byte (and so before the credential) leaves (docs/bun-runtime.md#tls-pinning). The default trusts the
 * system CAs with Bun's own verification.
 */
export function createHubTransport(opts: {
  baseUrl: string;
  trust: HubTlsTrust;
  logger: Logger;
  connectTimeoutMs: number;
}): HubTransport {
  const endpoint = new URL(opts.baseUrl);
  const origin = endpoint.origin;
  const inner =
    opts.trust.kind === "system"
      ? { fetch: (url: string, init: RequestInit) => fetch(url, init), close: () => {} }
      : createTransport({
          endpoint,
          trust:
            opts.trust.kind === "fingerprint"
              ? { kind: "fingerprint", sha256: opts.trust.sha256 }
              : { kind: "ca", caPem: opts.trust.caPem },
          logger: opts.logger,
          connectTimeoutMs: opts.connectTimeoutMs,
        });
  return {
    async fetch(url, init) {
      try {
        return await inner.fetch(url, init);
      } catch (err) {
        throw toUnreachable(origin, err, init.signal ?? undefined);
      }
    },
    close: () => inner.close(),
  };
}

function toUnreachable(origin: string, err: unknown, signal: AbortSignal | undefined): Error {
  if (err instanceof ProxmoxTlsError) {
    const detail =
      err.failure === "mismatch"
        ? `certificate fingerprint does not match the pin (expected ${err.expected}, server presented ${err.presented ?? "unknown"}); if the hub certificate was renewed, pin the new value`
        : `TLS refused (${err.failure}${err.code ? `, ${err.code}` : ""})`;
    return new HubUnreachableError(origin, "tls", detail);
  }
  if (err instanceof ProxmoxNetworkError) {
    return new HubUnreachableError(
      origin,
      err.timedOut ? "timeout" : "network",
      err.timedOut
        ? "connection timed out"
        : `connection failed${err.code ? ` (${err.code})` : ""}`,
    );
  }
  const code = (err as { code?: unknown })?.code;
  const name = (err as { name?: unknown })?.name;
  if (signal?.aborted || name === "TimeoutError" || name === "AbortError") {
    return new HubUnreachableError(origin, "timeout", "request timed out");
  }
  if (typeof code === "string" && /CERT|TLS|SSL/.test(code)) {
    return new HubUnreachableError(origin, "tls", `TLS refused (${code})`);
  }
  return new HubUnreachableError(
    origin,
    "network",
    `connection failed${typeof code === "string" ? ` (${code})` : ""}`,
  );
}
