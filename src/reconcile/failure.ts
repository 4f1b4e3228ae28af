import { ProxmoxApiError } from "../proxmox/api-error.ts";
import { TaskError, TaskTimeoutError } from "../proxmox/task-error.ts";
import { classifyTransient } from "../proxmox/transient.ts";
import {
  ProxmoxDecodeError,
  ProxmoxNetworkError,
  ProxmoxTlsError,
} from "../proxmox/transport-errors.ts";
import { EnvUnsupportedError } from "./env-support.ts";
import { SecretNotHeldError } from "./executors.ts";

/**
 * What to do about a failed operation:
 * - `retry`: transient (a lock held by a backup, a busy flock, a hiccup); try again later with
 *   backoff, and give up after a bounded number of attempts.
 * - `operator`: retrying cannot help (missing privilege, guest gone, bad parameter, pinned
 *   certificate refused); stop and report until desired state changes.
 * - `unknown_outcome`: the request may or may not have run (59x, dropped connection); never
 *   re-POST blindly: look for the task, or re-read actual state and re-plan.
 */
export type FailureClass = "retry" | "operator" | "unknown_outcome";

export interface ClassifiedFailure {
  class: FailureClass;
  /** Short, stable cause: `locked`, `forbidden`, `task_failed`, … */
  cause: string;
  message: string;
  /** Plain JSON for the journal's error column; never a secret. */
  detail: Record<string, unknown>;
}

export function classifyFailure(err: unknown): ClassifiedFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ProxmoxApiError) {
    const detail = { status: err.status, kind: err.kind, message: err.pveMessage };
    switch (err.kind) {
      case "locked":
      case "server":
        return { class: "retry", cause: err.kind, message, detail };
      case "proxy":
        // 595: pveproxy could not connect to pvedaemon, so nothing ran; 596–599: the hop
        // failed midway and the POST may have run (docs/proxmox-behaviour.md#proxy-statuses).
        if (classifyTransient(err).reach === "no") {
          return { class: "retry", cause: "proxy_connect", message, detail };
        }
        return { class: "unknown_outcome", cause: "proxy", message, detail };
      default:
        return { class: "operator", cause: err.kind, message, detail };
    }
  }
  if (err instanceof TaskError) {
    const detail = { upid: err.upid, exitstatus: err.exitstatus, reason: err.reason.kind };
    if (err.reason.kind === "locked" || err.reason.kind === "lock_timeout") {
      return { class: "retry", cause: "locked", message, detail };
    }
    if (err.reason.kind === "permission" || err.reason.kind === "missing_guest") {
      return { class: "operator", cause: err.reason.kind, message, detail };
    }
    return { class: "retry", cause: "task_failed", message, detail };
  }
  if (err instanceof TaskTimeoutError) {
    return {
      class: "retry",
      cause: "task_timeout",
      message,
      detail: { upid: err.upid, waitedMs: err.waitedMs },
    };
  }
  if (err instanceof ProxmoxTlsError) {
    return { class: "operator", cause: "tls", message, detail: { failure: err.failure } };
  }
  if (err instanceof ProxmoxNetworkError) {
    // Nothing reached Proxmox when the connection was never made (refused, no route, the pin
    // probe failed): safe to send again later (docs/proxmox-behaviour.md#transient-failures).
    const reached = classifyTransient(err).reach !== "no";
    return {
      class: reached ? "unknown_outcome" : "retry",
      cause: "network",
      message,
      detail: { code: err.code ?? null, timedOut: err.timedOut },
    };
  }
  if (err instanceof ProxmoxDecodeError) {
    // The request was answered, but not in a form we understand: whether it ran is unknown.
    return { class: "unknown_outcome", cause: "decode", message, detail: { path: err.path } };
  }
  if (err instanceof EnvUnsupportedError) {
    // Nothing was sent: the host must be upgraded before it can provision.
    return { class: "operator", cause: "pve_without_env", message, detail: { message } };
  }
  if (err instanceof SecretNotHeldError) {
    // Nothing was sent; the owner of the secret (the provisioning) issues a new one.
    return { class: "operator", cause: "secret_not_held", message, detail: { message } };
  }
  return { class: "operator", cause: "internal", message, detail: { message } };
}
