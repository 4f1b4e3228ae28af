/**
 * Proxmox task ids (UPIDs). Format and parse rules from docs/proxmox-behaviour.md#upid-format:
 * `UPID:node:PID:PSTART:STARTTIME:type:id:user:` with uppercase hex, a trailing colon,
 * pstart of 8 or 9 hex digits (it passes 32 bits after ~497 days of uptime), an id that may be
 * empty, and a user that carries `!tokenid` when a token started the task.
 */
export interface Upid {
  node: string;
  pid: number;
  pstart: number;
  /** Epoch seconds. */
  starttime: number;
  type: string;
  id: string;
  /** As written in the UPID, `user@realm` or `user@realm!tokenid`. */
  user: string;
}

const UPID_RE =
  /^UPID:([a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/;

export class UpidParseError extends Error {
  override readonly name = "UpidParseError";
  constructor(readonly upid: string) {
    super(`unable to parse worker upid '${upid.length > 200 ? `${upid.slice(0, 200)}…` : upid}'`);
  }
}

export function parseUpid(text: string): Upid {
  const m = UPID_RE.exec(text);
  if (!m) throw new UpidParseError(text);
  const [, node, pid, pstart, starttime, type, id, user] = m as unknown as string[];
  return {
    node: node as string,
    pid: Number.parseInt(pid as string, 16),
    pstart: Number.parseInt(pstart as string, 16),
    starttime: Number.parseInt(starttime as string, 16),
    type: type as string,
    id: id as string,
    user: user as string,
  };
}

export function isUpid(text: unknown): text is string {
  return typeof text === "string" && UPID_RE.test(text);
}

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, "0");

export function formatUpid(u: Upid): string {
  return `UPID:${u.node}:${hex8(u.pid)}:${hex8(u.pstart)}:${hex8(u.starttime)}:${u.type}:${u.id}:${u.user}:`;
}

/** Splits `user@realm!tokenid` the way the task status endpoint does (docs/proxmox-behaviour.md#task-status). */
export function splitTaskUser(user: string): { user: string; tokenid?: string } {
  const bang = user.indexOf("!");
  if (bang < 0) return { user };
  return { user: user.slice(0, bang), tokenid: user.slice(bang + 1) };
}
