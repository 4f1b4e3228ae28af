/**
 * An error the simulated API answers with. `message` is the text PVE puts in the body
 * (without the trailing newline, which the envelope adds) and whose first line becomes the
 * HTTP reason phrase (docs/proxmox-behaviour.md#api-envelope-and-errors).
 */
export class PveHttpError extends Error {
  override readonly name = "PveHttpError";
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }
}

/** A handler `die`: HTTP 500 with the die text (docs/proxmox-behaviour.md#api-envelope-and-errors). */
export function fail(message: string): PveHttpError {
  return new PveHttpError(500, message);
}

/** JSONSchema/raise_param_exc: HTTP 400 with one message per parameter (docs/proxmox-behaviour.md#api-envelope-and-errors). */
export function paramError(errors: Record<string, string>): PveHttpError {
  return new PveHttpError(400, "Parameter verification failed.", errors);
}

/** raise_perm_exc: HTTP 403 `Permission check failed (<what>)` (docs/proxmox-behaviour.md#api-envelope-and-errors). */
export function permError(what?: string): PveHttpError {
  return new PveHttpError(
    403,
    what === undefined ? "Permission check failed" : `Permission check failed (${what})`,
  );
}

/** Missing CT: PVE has no 404, load_config dies with this (docs/proxmox-behaviour.md#api-envelope-and-errors). */
export function missingCt(node: string, vmid: number): PveHttpError {
  return fail(`Configuration file 'nodes/${node}/lxc/${vmid}.conf' does not exist`);
}

/** A failure inside a worker; its text becomes the task exitstatus (docs/proxmox-behaviour.md#task-status). */
export class TaskFailure extends Error {
  override readonly name = "TaskFailure";
}
