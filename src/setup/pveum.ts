import { z } from "zod";
import type { SetupRunner } from "./runner.ts";

/**
 * The `pveum` calls setup makes and the JSON they answer with `--output-format json`, as PVE's
 * `PVE/CLI/pveum.pm` maps them onto the access-control API methods
 * (docs/proxmox-behaviour.md#pveum-output-formats). Every answer is validated before use.
 */

const roleList = z.array(
  z.object({ roleid: z.string(), privs: z.string().optional().default("") }).passthrough(),
);
const userList = z.array(z.object({ userid: z.string() }).passthrough());
const tokenList = z.array(z.object({ tokenid: z.string() }).passthrough());
const aclList = z.array(
  z
    .object({
      path: z.string(),
      type: z.enum(["user", "group", "token"]),
      ugid: z.string(),
      roleid: z.string(),
    })
    .passthrough(),
);
const generatedToken = z.object({
  "full-tokenid": z.string().min(3),
  value: z.string().min(1),
});

export type AclEntry = z.infer<typeof aclList>[number];

export class PveumError extends Error {
  override readonly name = "PveumError";
}

/** A freshly generated token. `value` is the secret: write it to the token file, nothing else. */
export interface NewToken {
  fullTokenId: string;
  value: string;
}

export interface Pveum {
  roles(): Promise<Map<string, string[]>>;
  users(): Promise<string[]>;
  tokens(user: string): Promise<string[]>;
  acl(): Promise<AclEntry[]>;
  addRole(role: string, privs: readonly string[]): Promise<void>;
  setRolePrivs(role: string, privs: readonly string[]): Promise<void>;
  addUser(user: string, comment: string): Promise<void>;
  addToken(user: string, tokenId: string, comment: string): Promise<NewToken>;
  removeToken(user: string, tokenId: string): Promise<void>;
  grant(path: string, role: string, who: { users: string } | { tokens: string }): Promise<void>;
  revoke(path: string, role: string, who: { users: string } | { tokens: string }): Promise<void>;
}

const JSON_OUT = ["--output-format", "json"];

export function pveum(runner: SetupRunner): Pveum {
  const call = async (args: string[]): Promise<string> => {
    const r = await runner.run("pveum", args);
    if (r.code !== 0) {
      // The answer of a token add may hold the secret; only stderr is quoted.
      const why = r.stderr.trim().split("\n").slice(-1)[0] ?? "";
      throw new PveumError(`pveum ${args.slice(0, 3).join(" ")} failed (exit ${r.code}): ${why}`);
    }
    return r.stdout;
  };
  const parse = <T>(schema: z.ZodType<T>, text: string, what: string): T => {
    let data: unknown;
    try {
      data = JSON.parse(text === "" ? "null" : text);
    } catch {
      throw new PveumError(`pveum ${what}: the answer is not JSON`);
    }
    const r = schema.safeParse(data);
    if (!r.success)
      throw new PveumError(`pveum ${what}: unexpected answer (${r.error.issues[0]?.message})`);
    return r.data;
  };
  const who = (w: { users: string } | { tokens: string }) =>
    "users" in w ? ["--users", w.users] : ["--tokens", w.tokens];
  return {
    async roles() {
      const list = parse(roleList, await call(["role", "list", ...JSON_OUT]), "role list");
      return new Map(list.map((r) => [r.roleid, r.privs.split(",").filter((p) => p !== "")]));
    },
    async users() {
      return parse(userList, await call(["user", "list", ...JSON_OUT]), "user list").map(
        (u) => u.userid,
      );
    },
    async tokens(user) {
      const text = await call(["user", "token", "list", user, ...JSON_OUT]);
      return parse(tokenList, text, "user token list").map((t) => t.tokenid);
    },
    async acl() {
      return parse(aclList, await call(["acl", "list", ...JSON_OUT]), "acl list");
    },
    async addRole(role, privs) {
      await call(["role", "add", role, "--privs", privs.join(",")]);
    },
    async setRolePrivs(role, privs) {
      // Without --append the list replaces the role's privileges (PVE/API2/Role.pm update_role).
      await call(["role", "modify", role, "--privs", privs.join(",")]);
    },
    async addUser(user, comment) {
      await call(["user", "add", user, "--comment", comment]);
    },
    async addToken(user, tokenId, comment) {
      const text = await call([
        "user",
        "token",
        "add",
        user,
        tokenId,
        "--privsep",
        "1",
        "--comment",
        comment,
        ...JSON_OUT,
      ]);
      const t = parse(generatedToken, text, "user token add");
      return { fullTokenId: t["full-tokenid"], value: t.value };
    },
    async removeToken(user, tokenId) {
      await call(["user", "token", "remove", user, tokenId]);
    },
    async grant(path, role, w) {
      await call(["acl", "modify", path, "--roles", role, ...who(w)]);
    },
    async revoke(path, role, w) {
      await call(["acl", "delete", path, "--roles", role, ...who(w)]);
    },
  };
}
