import { ProxmoxApiError } from "./api-error.ts";
import {
  ProxmoxConfigError,
  ProxmoxDecodeError,
  ProxmoxNetworkError,
  ProxmoxParamError,
  ProxmoxTlsError,
} from "./transport-errors.ts";

/** Every error the client raises for a request Proxmox refused, could not answer, or garbled. */
export type ProxmoxError =
  | ProxmoxApiError
  | ProxmoxTlsError
  | ProxmoxNetworkError
  | ProxmoxDecodeError
  | ProxmoxConfigError
  | ProxmoxParamError;

/** True for the client's own errors, by class: a foreign error that merely carries the name is not one. */
export function isProxmoxError(err: unknown): err is ProxmoxError {
  return (
    err instanceof ProxmoxApiError ||
    err instanceof ProxmoxTlsError ||
    err instanceof ProxmoxNetworkError ||
    err instanceof ProxmoxDecodeError ||
    err instanceof ProxmoxConfigError ||
    err instanceof ProxmoxParamError
  );
}
