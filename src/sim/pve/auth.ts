import { timingSafeEqual } from "node:crypto";
import type { AccessModel, Principal } from "./acl.ts";

export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: string };

const TOKEN_HEADER = /(?:^|\s)PVEAPIToken(?:=| )([^;]*)/;

/**
 * Token authentication as pveproxy does it (docs/proxmox-behaviour.md#api-envelope-and-errors, docs/proxmox-behaviour.md#api-tokens): no credentials →
 * `No ticket`; anything wrong with them → `Authentication failed!` (the cause only goes to
 * syslog). The value is URI-unescaped and split at the last `=`.
 */
export function authenticate(
  authorization: string | undefined,
  cookie: string | undefined,
  access: AccessModel,
): AuthResult {
  const m = authorization === undefined ? null : TOKEN_HEADER.exec(authorization);
  if (m === null) {
    // A ticket cookie would take precedence, but the simulator issues no tickets.
    if (cookie?.includes("PVEAuthCookie=")) return { ok: false, reason: "Authentication failed!" };
    return { ok: false, reason: "No ticket" };
  }
  let value: string;
  try {
    value = decodeURIComponent(m[1] ?? "");
  } catch {
    return { ok: false, reason: "Authentication failed!" };
  }
  const eq = value.lastIndexOf("=");
  if (eq < 0) return { ok: false, reason: "Authentication failed!" };
  const fullid = value.slice(0, eq);
  const secret = value.slice(eq + 1);
  const token = access.tokens.get(fullid);
  if (token === undefined || !sameSecret(token.secret, secret)) {
    return { ok: false, reason: "Authentication failed!" };
  }
  if (access.users.get(token.userid)?.enable !== true) {
    return { ok: false, reason: "Authentication failed!" };
  }
  return { ok: true, principal: { userid: token.userid, tokenid: token.tokenid, fullid } };
}

function sameSecret(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
