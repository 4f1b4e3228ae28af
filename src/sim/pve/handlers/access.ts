import type { Principal } from "../acl.ts";
import type { RequestContext } from "../context.ts";
import { strParam } from "../context.ts";
import { permError } from "../errors.ts";

/**
 * GET /access/permissions: the effective privileges per path as `{path: {priv: 1}}`; for a
 * privilege-separated token that is the intersection with its owner (docs/proxmox-behaviour.md#api-tokens). Anyone may
 * dump their own (or their tokens'); others need Sys.Audit on /access.
 */
export function permissions(ctx: RequestContext): unknown {
  const { access } = ctx.core;
  const userid = strParam(ctx, "userid");
  let target: Principal = ctx.who;
  if (userid !== undefined && userid !== ctx.who.fullid) {
    const bang = userid.indexOf("!");
    const owner = bang < 0 ? userid : userid.slice(0, bang);
    const ownToken = ctx.who.tokenid === undefined && owner === ctx.who.userid;
    if (!ownToken) access.check(ctx.who, "/access", ["Sys.Audit"]);
    if (bang >= 0 && !access.tokens.has(userid)) throw permError();
    target =
      bang < 0
        ? { userid, fullid: userid }
        : { userid: owner, tokenid: userid.slice(bang + 1), fullid: userid };
  }
  const path = strParam(ctx, "path");
  const paths = path === undefined ? access.knownPaths(target) : [path];
  const out: Record<string, Record<string, number>> = {};
  for (const p of paths) {
    const privs = access.privileges(target, p);
    if (privs.size === 0 && path === undefined) continue;
    const entry: Record<string, number> = {};
    for (const priv of [...privs].sort()) entry[priv] = 1;
    out[p] = entry;
  }
  return out;
}
