import { z } from "zod";
import { describeFsError } from "./fs.ts";
import { defineSection, REDACTED, type ResolveContext } from "./section.ts";
import { requireAbsolutePath, resolveCaFileField, resolveFingerprintField } from "./tls-fields.ts";
import { type ProxmoxToken, parseTokenText, TOKEN_SHAPE_HINT } from "./token.ts";

/**
 * How the Proxmox certificate is trusted (docs/architecture.md#tls-is-never-disabled). Shaped like the API client's trust
 * setting so it can be passed on as is.
 */
export type ProxmoxTlsTrust =
  | { kind: "fingerprint"; sha256: string }
  | { kind: "ca"; caFile: string; caPem: string }
  | { kind: "insecure" };

export interface ProxmoxConfig {
  /** `https://host:port`, no path (the client adds `/api2/json`). */
  endpoint: string;
  node: string;
  token: ProxmoxToken;
  /** The token file, when the token came from one (kept for printing). */
  token_file?: string;
  tls: ProxmoxTlsTrust;
  timeout_ms: number;
}

const tlsSchema = z
  .strictObject({
    fingerprint: z.string().optional(),
    ca_file: z.string().optional(),
    insecure_skip_verify: z.boolean().default(false),
  })
  .prefault({});

const schema = z.strictObject({
  endpoint: z.string(),
  node: z.string(),
  token: z.string().optional(),
  token_file: z.string().optional(),
  tls: tlsSchema,
  timeout_ms: z.number().int().min(1000).max(600_000).default(30_000),
});

type RawProxmox = z.output<typeof schema>;

const P = ["proxmox"] as const;
const TLS = ["proxmox", "tls"] as const;

// PVE node names are host names (single DNS label).
const NODE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

const NO_TRUST_HELP =
  "no TLS trust configured; set exactly one of: " +
  "fingerprint (SHA-256 of the host certificate, AA:BB:… or 64 hex digits; read it on the host " +
  "with `pvenode cert info` (pveproxy-ssl.pem when present, else pve-ssl.pem), or with " +
  "`openssl x509 -noout -fingerprint -sha256 -in /etc/pve/local/pve-ssl.pem`, or as " +
  "ssl_fingerprint in GET /nodes), " +
  "ca_file (a PEM CA certificate that signed the host certificate), " +
  "or insecure_skip_verify: true (no verification at all; testing only)";

export const proxmoxSection = defineSection({
  key: "proxmox",
  schema,
  env: [
    { path: [...P, "endpoint"], kind: "string" },
    { path: [...P, "node"], kind: "string" },
    { path: [...P, "token"], kind: "string", group: "token" },
    { path: [...P, "token_file"], kind: "string", group: "token" },
    { path: [...TLS, "fingerprint"], kind: "string", group: "tls" },
    // The name docs/architecture.md#configuration fixes; the derived one would be ..._PROXMOX_TLS_CA_FILE.
    {
      path: [...TLS, "ca_file"],
      kind: "string",
      group: "tls",
      name: "FELHOM_AGENT_PROXMOX_CA_FILE",
    },
    { path: [...TLS, "insecure_skip_verify"], kind: "bool", group: "tls" },
    { path: [...P, "timeout_ms"], kind: "int" },
  ],
  async resolve(raw: RawProxmox, ctx: ResolveContext): Promise<ProxmoxConfig> {
    const endpoint = resolveEndpoint(raw.endpoint, ctx);
    if (!NODE_NAME.test(raw.node)) {
      ctx.fail([...P, "node"], "is not a node name (letters, digits and '-', e.g. pve1)");
    }
    const token = await resolveToken(raw, ctx);
    const tls = await resolveTrust(raw.tls, ctx);
    const out: ProxmoxConfig = { endpoint, node: raw.node, token, tls, timeout_ms: raw.timeout_ms };
    if (raw.token_file !== undefined) out.token_file = raw.token_file;
    return out;
  },
  redact(c: ProxmoxConfig) {
    const tls =
      c.tls.kind === "fingerprint"
        ? { fingerprint: c.tls.sha256 }
        : c.tls.kind === "ca"
          ? { ca_file: c.tls.caFile }
          : { insecure_skip_verify: true };
    return {
      endpoint: c.endpoint,
      node: c.node,
      token: `${c.token.id}=${REDACTED}`,
      ...(c.token_file !== undefined ? { token_file: c.token_file } : {}),
      tls,
      timeout_ms: c.timeout_ms,
    };
  },
  secrets: (c: ProxmoxConfig) => [c.token.secret],
});

function resolveEndpoint(text: string, ctx: ResolveContext): string {
  const path = [...P, "endpoint"];
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return ctx.fail(path, "is not a URL; expected https://HOST:8006");
  }
  if (url.protocol !== "https:") ctx.fail(path, "must be an https:// URL (the API is TLS only)");
  if (url.username || url.password) {
    ctx.fail(path, "must not contain credentials; put the API token in token or token_file");
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) {
    ctx.fail(path, "must be only https://HOST:PORT (the client adds /api2/json)");
  }
  return url.origin;
}

async function resolveToken(raw: RawProxmox, ctx: ResolveContext): Promise<ProxmoxToken> {
  const tokenPath = [...P, "token"];
  const filePath = [...P, "token_file"];
  if (raw.token !== undefined && raw.token_file !== undefined) {
    ctx.fail(
      P,
      `both ${ctx.label(tokenPath)} and ${ctx.label(filePath)} are set; give exactly one`,
    );
  }
  if (raw.token !== undefined) {
    const parsed = parseTokenText(raw.token, "token");
    if ("problem" in parsed) return ctx.fail(tokenPath, `${parsed.problem}; ${TOKEN_SHAPE_HINT}`);
    return parsed.token;
  }
  if (raw.token_file === undefined) {
    return ctx.fail(
      P,
      "no API token; set token_file (a 0600 file holding USER@REALM!TOKENID=SECRET), or " +
        "FELHOM_AGENT_PROXMOX_TOKEN in the environment (keeps the secret off disk), or token",
    );
  }
  const file = raw.token_file;
  requireAbsolutePath(ctx, filePath, file);
  let info: { mode: number; isFile(): boolean };
  try {
    info = await ctx.fs.stat(file);
  } catch (err) {
    return ctx.fail(filePath, `${file} ${describeFsError(err)}`);
  }
  if (!info.isFile()) ctx.fail(filePath, `${file} is not a regular file`);
  const perms = info.mode & 0o777;
  const octal = perms.toString(8).padStart(4, "0");
  // Any access by others exposes the secret to every local user.
  if (perms & 0o007) {
    ctx.fail(
      filePath,
      `${file} is accessible to other users (mode ${octal}); run: chmod 600 ${file}`,
    );
  }
  if (perms & 0o070) {
    ctx.warn(
      filePath,
      `${file} is accessible to its group (mode ${octal}); unless the group is dedicated to the agent, run: chmod 600 ${file}`,
    );
  }
  let text: string;
  try {
    text = await ctx.fs.readFile(file);
  } catch (err) {
    return ctx.fail(filePath, `${file} ${describeFsError(err)}`);
  }
  const parsed = parseTokenText(text, "token_file");
  if ("problem" in parsed) {
    return ctx.fail(filePath, `the content of ${file} ${parsed.problem}; ${TOKEN_SHAPE_HINT}`);
  }
  return parsed.token;
}

async function resolveTrust(raw: RawProxmox["tls"], ctx: ResolveContext): Promise<ProxmoxTlsTrust> {
  const fpPath = [...TLS, "fingerprint"];
  const caPath = [...TLS, "ca_file"];
  const insecurePath = [...TLS, "insecure_skip_verify"];
  const given = [
    raw.fingerprint !== undefined ? fpPath : undefined,
    raw.ca_file !== undefined ? caPath : undefined,
    raw.insecure_skip_verify ? insecurePath : undefined,
  ].filter((p): p is string[] => p !== undefined);
  if (given.length === 0) return ctx.fail(TLS, NO_TRUST_HELP);
  if (given.length > 1) {
    return ctx.fail(
      TLS,
      `more than one trust mode is set (${given.map((p) => ctx.label(p)).join(", ")}); set exactly one`,
    );
  }
  if (raw.fingerprint !== undefined) return resolveFingerprintField(ctx, fpPath, raw.fingerprint);
  if (raw.ca_file !== undefined) return resolveCaFileField(ctx, caPath, raw.ca_file);
  ctx.warn(
    insecurePath,
    "is true: the Proxmox certificate is NOT verified, so anyone on the network path can " +
      "impersonate the host and read the API token; pin the fingerprint instead",
  );
  return { kind: "insecure" };
}
