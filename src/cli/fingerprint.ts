import { X509Certificate } from "node:crypto";
import { probeLeaf, TlsProbeError } from "../proxmox/tls-probe.ts";
import type { CliContext } from "./context.ts";
import { EXIT_OK, renderHelp, reportFailure, UsageError } from "./context.ts";
import { parseFlags } from "./flags.ts";

const DEFAULT_CONFIG = "/etc/felhom-agent/agent.json";
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_MS = 120_000;

const HELP = renderHelp({
  usage: ["felhom-agent fingerprint --endpoint https://HOST:PORT [--json] [--timeout-ms N]"],
  body: `Connects to the endpoint, completes the TLS handshake without verifying it, prints the
certificate the server presents (SHA-256 fingerprint, subject, issuer, validity, alt names)
and closes. No HTTP request is sent, so no token leaves this machine.

The fingerprint shown is only what this network path presents. Before pinning it, compare it
with \`pvenode cert info\` run on the Proxmox host itself (console or SSH).

Options:
  --endpoint URL     https://HOST:PORT of the Proxmox API (default: FELHOM_AGENT_PROXMOX_ENDPOINT)
  --json             one JSON object instead of the text report
  --timeout-ms N     give up after N ms (default ${DEFAULT_TIMEOUT_MS}, at most ${MAX_TIMEOUT_MS})
  -h, --help         this help`,
  examples: ["felhom-agent fingerprint --endpoint https://192.0.2.10:8006"],
});

/** What the server presented, as printed (text or `--json`). */
export interface PresentedCertificate {
  endpoint: string;
  fingerprint: string;
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  subjectAltNames: string[];
  /** The certificate is outside its validity period right now. */
  expired: boolean;
  notYetValid: boolean;
}

/** `felhom-agent fingerprint`: shows the leaf certificate an endpoint presents, for pinning. */
export async function runFingerprint(argv: string[], ctx: CliContext): Promise<number> {
  const { values } = parseFlags(argv, {
    endpoint: { type: "string" },
    json: { type: "boolean" },
    "timeout-ms": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  const raw = values.endpoint ?? ctx.env.FELHOM_AGENT_PROXMOX_ENDPOINT;
  if (raw === undefined || raw === "") {
    throw new UsageError("--endpoint is required, e.g. --endpoint https://127.0.0.1:8006");
  }
  const target = parseEndpoint(raw);
  const timeoutMs = parseTimeout(values["timeout-ms"]);

  let leaf: Awaited<ReturnType<typeof probeLeaf>>;
  try {
    leaf = await probeLeaf(target.host, target.port, timeoutMs);
  } catch (err) {
    const why =
      err instanceof TlsProbeError
        ? err.timedOut
          ? `no TLS handshake within ${timeoutMs} ms`
          : `${err.code ? `${err.code}: ` : ""}${err.message}`
        : (err as Error).message;
    return reportFailure(
      ctx,
      "fingerprint",
      `cannot read the certificate of ${target.origin}: ${why}`,
      "check the address and port (Proxmox listens on 8006)",
    );
  }

  const report = describe(target.origin, leaf.pem, leaf.fingerprint, new Date());
  const configPath = ctx.configPath ?? DEFAULT_CONFIG;
  if (values.json) {
    ctx.stdout(
      `${JSON.stringify({
        endpoint: report.endpoint,
        fingerprint: report.fingerprint,
        subject: report.subject,
        issuer: report.issuer,
        valid_from: report.validFrom,
        valid_to: report.validTo,
        subject_alt_names: report.subjectAltNames,
        expired: report.expired,
        not_yet_valid: report.notYetValid,
        verified: false,
        config: {
          file: configPath,
          key: "proxmox.tls.fingerprint",
          env: "FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT",
        },
      })}\n`,
    );
  } else {
    ctx.stdout(textReport(report, configPath));
  }
  return EXIT_OK;
}

export interface Endpoint {
  origin: string;
  host: string;
  port: number;
}

export function parseEndpoint(text: string): Endpoint {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--endpoint '${text}' is not a URL; expected https://HOST:PORT`);
  }
  // The same shape the config accepts for proxmox.endpoint, so the value can be copied over.
  if (url.protocol !== "https:") throw new UsageError("--endpoint must be an https:// URL");
  if (url.username || url.password) {
    throw new UsageError("--endpoint must not contain credentials");
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) {
    throw new UsageError("--endpoint must be only https://HOST:PORT, without a path");
  }
  // URL keeps the brackets of an IPv6 literal; a socket wants the bare address.
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = url.port === "" ? 443 : Number(url.port);
  return { origin: url.origin, host, port };
}

function parseTimeout(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TIMEOUT_MS;
  if (!/^\d+$/.test(text)) throw new UsageError("--timeout-ms must be a whole number of ms");
  const n = Number(text);
  if (n < 1 || n > MAX_TIMEOUT_MS) {
    throw new UsageError(`--timeout-ms must be between 1 and ${MAX_TIMEOUT_MS}`);
  }
  return n;
}

function describe(
  endpoint: string,
  pem: string,
  fingerprint: string,
  now: Date,
): PresentedCertificate {
  const cert = new X509Certificate(pem);
  const validFrom = new Date(cert.validFrom);
  const validTo = new Date(cert.validTo);
  return {
    endpoint,
    fingerprint,
    subject: oneLineName(cert.subject),
    issuer: oneLineName(cert.issuer),
    validFrom: validFrom.toISOString(),
    validTo: validTo.toISOString(),
    subjectAltNames: splitAltNames(cert.subjectAltName),
    expired: now > validTo,
    notYetValid: now < validFrom,
  };
}

// node:crypto gives the distinguished name one attribute per line.
function oneLineName(name: string): string {
  return name
    .split("\n")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .join(", ");
}

function splitAltNames(text: string | undefined): string[] {
  if (!text) return [];
  return text
    .split(/,\s*/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function textReport(r: PresentedCertificate, configPath: string): string {
  const rows: [string, string][] = [
    ["SHA-256 fingerprint", r.fingerprint],
    ["subject", r.subject || "(empty)"],
    ["issuer", r.issuer || "(empty)"],
    ["valid from", r.validFrom],
    ["valid until", r.validTo],
    ["alt names", r.subjectAltNames.length > 0 ? r.subjectAltNames.join(", ") : "(none)"],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    `Certificate presented by ${r.endpoint} (NOT verified: anyone on the network path could have answered)`,
    "",
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    "",
  ];
  if (r.expired) {
    lines.push(
      "WARNING: this certificate has expired; the agent refuses an expired leaf even when pinned.",
      "         Renew it on the host (pvenode cert set / pvecm updatecerts --force), then pin the new one.",
      "",
    );
  }
  if (r.notYetValid) {
    lines.push(
      "WARNING: this certificate is not valid yet; check the clocks of both machines.",
      "",
    );
  }
  lines.push(
    "Before pinning it, compare it on the Proxmox host itself (its console or SSH, not this path):",
    "",
    "  pvenode cert info",
    "",
    "The fingerprint of pveproxy-ssl.pem (a custom certificate) or else of pve-ssl.pem must be",
    "exactly the one above. If it differs, do not pin it: something else answered.",
    "",
    `When it matches, set it in ${configPath}:`,
    "",
    `  "proxmox": { "tls": { "fingerprint": "${r.fingerprint}" } }`,
    "",
    "or in the service environment:",
    "",
    `  FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT=${r.fingerprint}`,
    "",
    "then check the connection with: felhom-agent --selftest",
    "",
  );
  return lines.join("\n");
}
