import { join } from "node:path";
import { z } from "zod";
import { defineSection, type ResolveContext } from "../config/section.ts";
import { resolveCaFileField, resolveFingerprintField } from "../config/tls-fields.ts";

/**
 * How the hub's certificate is trusted. Unlike Proxmox (self-signed per host) the hub normally
 * has a publicly trusted certificate, so the default is the system CAs; a pin or a private CA
 * take the same form as the Proxmox options (docs/architecture.md#tls-is-never-disabled). No insecure mode exists here.
 */
export type HubTlsTrust =
  | { kind: "system" }
  | { kind: "fingerprint"; sha256: string }
  | { kind: "ca"; caFile: string; caPem: string };

export interface HubConfig {
  /** Overrides the URL recorded at enrollment; `https://host[:port][/base]`. */
  url?: string;
  /** Undefined: the trust recorded at enrollment, else the system CAs. */
  tls?: HubTlsTrust;
  poll_interval_s: number;
  /** Random spread of each wait, in percent of the interval, so hosts do not poll in step. */
  jitter_pct: number;
  /** Longest wait between attempts while the hub is unreachable. */
  backoff_max_s: number;
  report_interval_s: number;
  request_timeout_s: number;
  /**
   * Audit rows the hub has acknowledged are kept this long, then pruned down to an anchor the
   * chain verifies from (src/store/README.md#audit-chain). Rows the hub lacks are never pruned.
   */
  audit_retention_days: number;
  /** Undefined: `<state_dir>/hub-identity.json` (see hubIdentityPath). */
  identity_file?: string;
}

const schema = z
  .strictObject({
    url: z.string().optional(),
    tls: z
      .strictObject({ fingerprint: z.string().optional(), ca_file: z.string().optional() })
      .optional(),
    poll_interval_s: z.number().int().min(1).max(3600).default(30),
    jitter_pct: z.number().int().min(0).max(100).default(20),
    backoff_max_s: z.number().int().min(1).max(86_400).default(300),
    report_interval_s: z.number().int().min(1).max(86_400).default(60),
    request_timeout_s: z.number().int().min(1).max(600).default(30),
    // A year: long enough for the customer to look back over, short enough to bound the file.
    audit_retention_days: z.number().int().min(1).max(36_500).default(365),
    identity_file: z.string().optional(),
  })
  .prefault({});

type RawHub = z.output<typeof schema>;

const H = ["hub"] as const;

export const hubSection = defineSection({
  key: "hub",
  schema,
  env: [
    { path: [...H, "url"], kind: "string" },
    { path: [...H, "tls", "fingerprint"], kind: "string", group: "hub_tls" },
    { path: [...H, "tls", "ca_file"], kind: "string", group: "hub_tls" },
    { path: [...H, "poll_interval_s"], kind: "int" },
    { path: [...H, "jitter_pct"], kind: "int" },
    { path: [...H, "backoff_max_s"], kind: "int" },
    { path: [...H, "report_interval_s"], kind: "int" },
    { path: [...H, "request_timeout_s"], kind: "int" },
    { path: [...H, "audit_retention_days"], kind: "int" },
    { path: [...H, "identity_file"], kind: "string" },
  ],
  async resolve(raw: RawHub, ctx: ResolveContext): Promise<HubConfig> {
    const out: HubConfig = {
      poll_interval_s: raw.poll_interval_s,
      jitter_pct: raw.jitter_pct,
      backoff_max_s: raw.backoff_max_s,
      report_interval_s: raw.report_interval_s,
      request_timeout_s: raw.request_timeout_s,
      audit_retention_days: raw.audit_retention_days,
    };
    if (raw.url !== undefined) out.url = checkHubUrl(raw.url, (m) => ctx.fail([...H, "url"], m));
    if (raw.tls !== undefined) out.tls = await resolveHubTrust(raw.tls, ctx);
    if (raw.identity_file !== undefined) {
      if (!raw.identity_file.startsWith("/") || raw.identity_file.includes("\0")) {
        ctx.fail([...H, "identity_file"], "must be an absolute path");
      }
      out.identity_file = raw.identity_file;
    }
    if (raw.backoff_max_s < raw.poll_interval_s) {
      ctx.fail([...H, "backoff_max_s"], "must not be shorter than poll_interval_s");
    }
    return out;
  },
  redact(c: HubConfig) {
    const { tls, ...rest } = c;
    if (tls === undefined) return rest;
    const shown =
      tls.kind === "fingerprint"
        ? { fingerprint: tls.sha256 }
        : tls.kind === "ca"
          ? { ca_file: tls.caFile }
          : { system: true };
    return { ...rest, tls: shown };
  },
  // The hub credential and host key live in the identity file, not in the config.
  secrets: () => [],
});

/** Validates a hub base URL; returns it without a trailing slash. */
export function checkHubUrl(text: string, fail: (message: string) => never): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail("is not a URL; expected https://HUB[:PORT]");
  }
  if (url.protocol !== "https:") fail("must be an https:// URL (the hub link is TLS only)");
  if (url.username || url.password) fail("must not contain credentials");
  if (url.search || url.hash) fail("must not have a query or fragment");
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

async function resolveHubTrust(
  raw: { fingerprint?: string; ca_file?: string },
  ctx: ResolveContext,
): Promise<HubTlsTrust | undefined> {
  const fpPath = [...H, "tls", "fingerprint"];
  const caPath = [...H, "tls", "ca_file"];
  if (raw.fingerprint !== undefined && raw.ca_file !== undefined) {
    ctx.fail(
      [...H, "tls"],
      `both ${ctx.label(fpPath)} and ${ctx.label(caPath)} are set; set at most one (neither = system CAs)`,
    );
  }
  if (raw.fingerprint !== undefined) return resolveFingerprintField(ctx, fpPath, raw.fingerprint);
  if (raw.ca_file !== undefined) return resolveCaFileField(ctx, caPath, raw.ca_file);
  return undefined;
}

export const HUB_IDENTITY_FILE = "hub-identity.json";

export function hubIdentityPath(hub: Pick<HubConfig, "identity_file">, stateDir: string): string {
  return hub.identity_file ?? join(stateDir, HUB_IDENTITY_FILE);
}
