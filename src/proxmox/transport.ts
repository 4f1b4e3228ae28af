import type { Logger } from "../log/types.ts";
import { normalizeFingerprint } from "../tls/fingerprint.ts";
import { type PresentedLeaf, probeLeaf, TlsProbeError } from "./tls-probe.ts";
import { classifyTlsCode, type TlsTrust } from "./tls-trust.ts";
import { ProxmoxNetworkError, ProxmoxTlsError } from "./transport-errors.ts";

export interface TransportOptions {
  endpoint: URL;
  /** Already normalised (normalizeTrust). */
  trust: TlsTrust;
  logger: Logger;
  /** Bounds the fingerprint probe. */
  connectTimeoutMs: number;
}

/** Sends requests over a pooled, trust-checked TLS session. */
export interface Transport {
  fetch(url: string, init: RequestInit): Promise<Response>;
  /** Drops the pooled connections; the next request opens a new session (and probes again). */
  close(): void;
}

interface Session {
  fetch(url: string, init: RequestInit): Promise<Response>;
  close(): void;
}

/**
 * One Bun.FetchSession per client so connections are reused (docs/bun-runtime.md#tls-pinning). With a
 * fingerprint pin the session is opened only after a probe has seen the expected leaf, trusts
 * only that leaf, and pins again per connection: a pin mismatch never lets an HTTP byte out.
 * Mutations ask this same session for a fresh connection (`keepalive: false`, see http.ts), so
 * they are pinned exactly like pooled ones (docs/bun-runtime.md#fetch-resends-idempotent-methods).
 */
export function createTransport(opts: TransportOptions): Transport {
  const { endpoint, trust, logger } = opts;
  const origin = endpoint.origin;
  const host = endpoint.hostname.replace(/^\[|\]$/g, "");
  const port = endpoint.port ? Number(endpoint.port) : 443;
  let current: Promise<Session> | undefined;

  if (trust.kind === "insecure") {
    logger.warn(
      "Proxmox TLS verification is DISABLED (insecure): any server, or anyone in between, can read the API token. Use a fingerprint pin or a CA instead",
      { endpoint: origin },
    );
  }

  const probe = async (): Promise<PresentedLeaf> => {
    try {
      return await probeLeaf(host, port, opts.connectTimeoutMs);
    } catch (e) {
      if (e instanceof TlsProbeError) {
        throw new ProxmoxNetworkError(
          origin,
          undefined,
          undefined,
          e.code,
          e.timedOut,
          e.message,
          e,
        );
      }
      throw e;
    }
  };

  const open = async (): Promise<Session> => {
    switch (trust.kind) {
      case "insecure":
        return newSession({ rejectUnauthorized: false });
      case "ca":
        return newSession({ ca: trust.caPem });
      case "fingerprint": {
        const expected = trust.sha256;
        const leaf = await probe();
        if (leaf.fingerprint !== expected) {
          throw new ProxmoxTlsError({
            endpoint: origin,
            failure: "mismatch",
            expected,
            presented: leaf.fingerprint,
          });
        }
        return newSession({
          ca: leaf.pem,
          // Proxmox's pve-ssl.pem is signed by the cluster CA; trusting the leaf alone needs
          // partial chains (docs/bun-runtime.md#tls-pinning). Missing from bun-types, hence the wide type.
          allowPartialTrustChain: true,
          // Must be synchronous; runs once per connection (docs/bun-runtime.md#tls-pinning).
          checkServerIdentity: (_host: string, cert: { fingerprint256?: string }) => {
            const seen = normalizeFingerprint(cert.fingerprint256 ?? "") ?? "unknown";
            if (seen !== expected) {
              throw new ProxmoxTlsError({
                endpoint: origin,
                failure: "mismatch",
                expected,
                presented: seen,
              });
            }
            return undefined;
          },
        });
      }
    }
  };

  const drop = () => {
    const s = current;
    current = undefined;
    s?.then(
      (x) => x.close(),
      () => {},
    );
  };

  const toTlsError = async (err: unknown): Promise<ProxmoxTlsError | undefined> => {
    if (err instanceof ProxmoxTlsError) return err;
    const code = (err as { code?: unknown })?.code;
    const failure = classifyTlsCode(typeof code === "string" ? code : undefined);
    if (!failure) return undefined;
    if (trust.kind !== "fingerprint") {
      return new ProxmoxTlsError({
        endpoint: origin,
        failure,
        code: code as string,
        detail: (err as Error).message,
      });
    }
    // The pooled session trusts only the old leaf; a rotated certificate fails the chain
    // check first. Probe again so the error names what the server presents now.
    let presented: string | undefined;
    try {
      presented = (await probe()).fingerprint;
    } catch {
      presented = undefined;
    }
    return new ProxmoxTlsError({
      endpoint: origin,
      failure: presented && presented !== trust.sha256 ? "mismatch" : failure,
      expected: trust.sha256,
      presented,
      code: code as string,
      detail: (err as Error).message,
    });
  };

  return {
    async fetch(url, init) {
      if (!current) {
        const opening = open();
        current = opening;
        opening.catch(() => {
          if (current === opening) current = undefined;
        });
      }
      const session = await current;
      try {
        return await session.fetch(url, init);
      } catch (err) {
        const tlsError = await toTlsError(err);
        if (tlsError) {
          drop();
          throw tlsError;
        }
        throw err;
      }
    },
    close: drop,
  };
}

function newSession(tls: Record<string, unknown>): Session {
  const session = new Bun.FetchSession({
    tls: tls as Bun.FetchSessionInit["tls"],
    // Proxmox is on the operator's network; an HTTPS_PROXY in the environment would bypass
    // the probe, which connects directly.
    proxy: false,
  } as Bun.FetchSessionInit);
  return {
    fetch: (url, init) => session.fetch(url, init as Parameters<typeof session.fetch>[1]),
    close: () => session.close(),
  };
}
