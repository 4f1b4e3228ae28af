import { ProxmoxApiError } from "./api-error.ts";
import { ProxmoxDecodeError, ProxmoxNetworkError, ProxmoxTlsError } from "./transport-errors.ts";

/**
 * Whether a failed request can have reached the Proxmox code that acts on it:
 * - `no`: provably not (nothing was sent, or pveproxy could not hand it on);
 * - `maybe`: it may have run, or may still be running;
 * - `yes`: Proxmox handled it and answered; the answer says what happened.
 */
export type ProxmoxReach = "no" | "maybe" | "yes";

export interface TransientVerdict {
  /** A failure expected to pass by itself within seconds: worth a short, jittered retry. */
  transient: boolean;
  reach: ProxmoxReach;
  /**
   * Sending the very same request again cannot make a change happen twice: it is a read, or
   * it did not reach Proxmox, or Proxmox refused it before acting. False means: find out what
   * happened (task list, state re-read) before anything is sent again.
   */
  resendSafe: boolean;
  /** Stable short cause for logs and journal rows, e.g. `proxy_596`, `connect`, `timeout`. */
  cause: string;
}

/**
 * Error codes of a connection that was never established: no HTTP byte left the process
 * (docs/proxmox-behaviour.md#transient-failures).
 */
const NOT_CONNECTED = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ConnectionRefused",
]);

/**
 * The one classifier of transient Proxmox failures (docs/proxmox-behaviour.md#transient-failures).
 * `method` defaults to the one recorded on the error; a read is always safe to resend.
 * Anything else is `transient: false`: a decode error (`reach: "yes"`, the call was answered
 * 2xx and so ran), a TLS refusal (`no`: refused before any byte), and any other error (`maybe`:
 * not a failure of a Proxmox call, so nothing can be said).
 */
export function classifyTransient(err: unknown, method?: string): TransientVerdict {
  const m = (method ?? methodOf(err))?.toUpperCase();
  const read = m === "GET";
  // Not reached, or answered with a refusal: resending cannot run the change twice. A 2xx
  // that could not be decoded did run, so a decode error is never safe for a mutation.
  const verdict = (
    transient: boolean,
    reach: ProxmoxReach,
    cause: string,
    refused = reach === "yes",
  ): TransientVerdict => ({
    transient,
    reach,
    resendSafe: read || reach === "no" || (reach === "yes" && refused),
    cause,
  });

  if (err instanceof ProxmoxNetworkError) {
    // No method: the fingerprint probe failed, which runs before any HTTP byte is sent.
    if (err.method === undefined) return verdict(true, "no", "connect");
    if (err.code !== undefined && NOT_CONNECTED.has(err.code) && !err.timedOut) {
      return verdict(true, "no", "connect");
    }
    // A reset, or the request timeout (which does not say whether the connection was up by
    // then): the request may have been read and run, and a POST's worker may still be running.
    return verdict(true, "maybe", err.timedOut ? "timeout" : "connection_lost");
  }

  if (err instanceof ProxmoxApiError) {
    const s = err.status;
    switch (s) {
      case 595:
        // pveproxy could not connect to pvedaemon or the target node: nothing ran.
        return verdict(true, "no", "proxy_595");
      case 596:
      // Sending the request or waiting for the response header failed; "Connection timed
      // out" is pveproxy's 30 s inactivity timeout while the handler still runs.
      case 598:
      case 599:
        return verdict(true, "maybe", `proxy_${s}`);
      case 597:
        // The handler answered (the header arrived), its body was lost on the hop.
        return verdict(true, "maybe", "proxy_597");
    }
    if (err.kind === "locked" || err.kind === "not_found_ct") {
      // Proxmox's own refusal, decided by the caller (a lock can be held for hours).
      return verdict(false, "yes", err.kind);
    }
    if (s === 500) {
      // A handler's die (or pveproxy's own refusal) before it forked a task or wrote the
      // config: answered, nothing ran. Transient only in the sense that a repeat may pass.
      return verdict(true, "yes", "server_500");
    }
    if (s === 502 || s === 503 || s === 504) {
      // pveproxy never sends these itself; a proxy in front of it does, with no way to tell
      // whether it passed the request on.
      return verdict(true, "maybe", `gateway_${s}`);
    }
    return verdict(false, "yes", `http_${s}`);
  }

  const answered = err instanceof ProxmoxDecodeError;
  if (answered) return verdict(false, "yes", "decode", false);
  if (err instanceof ProxmoxTlsError) return verdict(false, "no", "tls");
  // Not a failure of a Proxmox call: this classifier cannot tell, so it assumes the worst.
  return verdict(false, "maybe", "not_transient");
}

function methodOf(err: unknown): string | undefined {
  if (err instanceof ProxmoxNetworkError || err instanceof ProxmoxApiError) return err.method;
  return undefined;
}
