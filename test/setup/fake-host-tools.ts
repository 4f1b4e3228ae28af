/**
 * Stand-ins for the host tools `felhom-agent setup` runs: `pveum`, `pvenode`, `systemctl` and
 * `runuser`. Each call is appended to $FAKE_CALLS (one JSON line: tool and argv); state lives in
 * $FAKE_STATE (JSON). The answers follow docs/proxmox-behaviour.md#pveum-output-formats,
 * #which-certificate-pveproxy-serves and #systemctl-answers: JSON only where the real tool
 * prints it, nothing on success otherwise, a message on stderr and a non-zero exit on failure.
 *
 * Run as `bun fake-host-tools.ts TOOL ARGS…` from a small shell script named after the tool.
 */
import { createHash, X509Certificate } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";

export interface FakeState {
  roles: Record<string, string[]>;
  users: Record<string, { tokens: Record<string, { privsep: number; comment?: string }> }>;
  acl: {
    path: string;
    type: "user" | "group" | "token";
    ugid: string;
    roleid: string;
    propagate: number;
  }[];
  /** Secrets handed out, by full token id: what a test compares the token file with. */
  secrets: Record<string, string>;
  service: { enabled: boolean; active: boolean };
  /** Exit status of the selftest run through runuser. */
  selftestExit: number;
  enrollExit: number;
}

export function initialState(): FakeState {
  return {
    roles: { Administrator: ["Sys.Audit", "VM.Allocate"], PVEAuditor: ["Sys.Audit", "VM.Audit"] },
    users: { "root@pam": { tokens: {} } },
    acl: [],
    secrets: {},
    service: { enabled: false, active: false },
    selftestExit: 0,
    enrollExit: 0,
  };
}

class Fail extends Error {}

function opts(args: string[]): { pos: string[]; o: Record<string, string> } {
  const pos: string[] = [];
  const o: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a.startsWith("--")) {
      o[a.slice(2)] = args[i + 1] ?? "";
      i++;
    } else pos.push(a);
  }
  return { pos, o };
}

function json(o: Record<string, string>, data: unknown): string {
  if (o["output-format"] !== "json") throw new Fail("fake supports only --output-format json");
  return `${JSON.stringify(data)}\n`;
}

function pveum(s: FakeState, args: string[]): string {
  const [a, b, c, ...rest] = args;
  if (a === "role" && b === "list")
    return json(
      opts(args.slice(2)).o,
      Object.entries(s.roles).map(([roleid, p]) => ({
        roleid,
        privs: [...p].sort().join(","),
        special: roleid === "Administrator" ? 1 : 0,
      })),
    );
  if (a === "role" && (b === "add" || b === "modify")) {
    const { o } = opts(args.slice(3));
    if (c === undefined) throw new Fail("400 not enough arguments");
    if (b === "add" && s.roles[c]) throw new Fail(`create role failed: role '${c}' already exists`);
    if (b === "modify" && !s.roles[c])
      throw new Fail(`update role failed: role '${c}' does not exist`);
    s.roles[c] = (o.privs ?? "").split(/[,; ]/).filter((p) => p !== "");
    return "";
  }
  if (a === "user" && b === "list")
    return json(
      opts(args.slice(2)).o,
      Object.keys(s.users).map((userid) => ({ userid, enable: 1, expire: 0 })),
    );
  if (a === "user" && b === "add") {
    if (c === undefined) throw new Fail("400 not enough arguments");
    if (s.users[c]) throw new Fail(`create user failed: user '${c}' already exists`);
    s.users[c] = { tokens: {} };
    return "";
  }
  if (a === "user" && b === "token") {
    const [user, tokenid] = [rest[0], rest[1]];
    const u = user === undefined ? undefined : s.users[user];
    if (!u) throw new Fail(`no such user ('${user}')`);
    if (c === "list")
      return json(
        opts(rest.slice(1)).o,
        Object.entries(u.tokens).map(([id, t]) => ({ tokenid: id, ...t, expire: 0 })),
      );
    if (tokenid === undefined) throw new Fail("400 not enough arguments");
    if (c === "add") {
      const { o } = opts(rest.slice(2));
      if (u.tokens[tokenid])
        throw new Fail("400 Parameter verification failed.\ntokenid: Token already exists.");
      const value = crypto.randomUUID();
      const info = {
        privsep: Number(o.privsep ?? 1),
        ...(o.comment ? { comment: o.comment } : {}),
      };
      u.tokens[tokenid] = info;
      s.secrets[`${user}!${tokenid}`] = value;
      return json(o, { "full-tokenid": `${user}!${tokenid}`, info, value });
    }
    if (c === "remove" || c === "delete") {
      if (!u.tokens[tokenid]) throw new Fail(`no such token '${tokenid}' for user '${user}'`);
      delete u.tokens[tokenid];
      return "";
    }
  }
  if (a === "acl" && b === "list") return json(opts(args.slice(2)).o, s.acl);
  if (a === "acl" && (b === "modify" || b === "delete")) {
    const { o } = opts(args.slice(3));
    const path = c ?? "";
    const role = o.roles ?? "";
    if (!s.roles[role]) throw new Fail(`role '${role}' does not exist`);
    const type = o.users !== undefined ? "user" : "token";
    const ugid = o.users ?? o.tokens ?? "";
    if (type === "user" && !s.users[ugid]) throw new Fail(`user '${ugid}' does not exist`);
    if (type === "token") {
      const [user, id] = ugid.split("!");
      if (!s.users[user ?? ""]?.tokens[id ?? ""]) throw new Fail(`token '${ugid}' does not exist`);
    }
    s.acl = s.acl.filter(
      (e) => !(e.path === path && e.type === type && e.ugid === ugid && e.roleid === role),
    );
    if (b === "modify") s.acl.push({ path, type, ugid, roleid: role, propagate: 1 });
    return "";
  }
  throw new Fail(`fake pveum: unsupported ${args.join(" ")}`);
}

function pvenode(args: string[], env: FakeEnv): string {
  if (args[0] !== "cert" || args[1] !== "info")
    throw new Fail(`fake pvenode: unsupported ${args.join(" ")}`);
  const dir = `${env.FAKE_ROOT}/etc/pve/nodes/${env.FAKE_NODE}`;
  const out = [];
  for (const name of ["pve-ssl.pem", "pveproxy-ssl.pem"]) {
    const file = `${dir}/${name}`;
    if (!existsSync(file)) continue;
    const cert = new X509Certificate(readFileSync(file, "utf8"));
    const fp = createHash("sha256")
      .update(cert.raw)
      .digest("hex")
      .toUpperCase()
      .match(/../g)
      ?.join(":");
    out.push({ filename: name, fingerprint: fp, subject: cert.subject, issuer: cert.issuer });
  }
  return json(opts(args.slice(2)).o, out);
}

function systemctl(s: FakeState, args: string[]): { out: string; code: number } {
  const [verb] = args;
  if (verb === "is-enabled")
    return { out: s.service.enabled ? "enabled\n" : "disabled\n", code: s.service.enabled ? 0 : 1 };
  if (verb === "is-active")
    return { out: s.service.active ? "active\n" : "inactive\n", code: s.service.active ? 0 : 3 };
  if (verb === "enable") s.service.enabled = true;
  else if (verb === "start" || verb === "restart") s.service.active = true;
  else throw new Fail(`fake systemctl: unsupported ${args.join(" ")}`);
  return { out: "", code: 0 };
}

export type FakeEnv = Record<string, string | undefined>;

/** One call of a fake tool: what the process would print and its exit status. */
export function handle(
  tool: string,
  args: string[],
  env: FakeEnv,
): { out: string; err: string; code: number } {
  const statePath = env.FAKE_STATE as string;
  appendFileSync(env.FAKE_CALLS as string, `${JSON.stringify({ tool, args })}\n`);
  const s = JSON.parse(readFileSync(statePath, "utf8")) as FakeState;
  try {
    let out = "";
    let code = 0;
    if (tool === "pveum") out = pveum(s, args);
    else if (tool === "pvenode") out = pvenode(args, env);
    else if (tool === "systemctl") ({ out, code } = systemctl(s, args));
    else if (tool === "runuser") {
      const isEnroll = args.includes("enroll");
      out = isEnroll ? "enrolled (fake)\n" : "selftest (fake): all checks passed\n";
      code = isEnroll ? s.enrollExit : s.selftestExit;
    } else throw new Fail(`no fake for ${tool}`);
    writeFileSync(statePath, JSON.stringify(s));
    return { out, err: "", code };
  } catch (err) {
    if (!(err instanceof Fail)) throw err;
    return { out: "", err: `${err.message}\n`, code: 255 };
  }
}

if (import.meta.main) {
  const [tool, ...args] = process.argv.slice(2);
  const r = handle(tool as string, args, process.env);
  process.stdout.write(r.out);
  process.stderr.write(r.err);
  process.exit(r.code);
}
