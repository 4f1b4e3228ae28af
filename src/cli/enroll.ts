import { readFile, stat } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { ConfigError } from "../config/errors.ts";
import { loadSections } from "../config/load.ts";
import { agentSections, DEFAULT_CONFIG_PATH } from "../config/sections.ts";
import {
  checkHubUrl,
  type HubConfig,
  type HubTlsTrust,
  hubIdentityPath,
  hubSection,
} from "../hub/config-section.ts";
import { EnrollError, enrollHost } from "../hub/enroll.ts";
import type { HubTlsPin } from "../hub/identity.ts";
import { createLogger } from "../log/logger.ts";
import { normalizeFingerprint } from "../tls/fingerprint.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { AGENT_VERSION } from "../version.ts";
import { type CliContext, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from "./context.ts";
import { parseFlags } from "./flags.ts";

const HELP = `Usage: felhom-agent [--config PATH] enroll --hub URL --code CODE [options]

Trades a one-time retrieval code from the hub for this host's durable identity: host id, hub
credential and the operator signer keys. The host key is generated here; only its public half
is sent. The identity is saved (mode 0600) before success is reported.

Options:
  --hub URL             the hub's base URL (https://…)
  --code CODE           the retrieval code the hub showed (single use, expires soon)
  --fingerprint FP      pin the hub's certificate (SHA-256, AA:BB:… or 64 hex digits)
  --ca-file PATH        trust the hub's certificate through this PEM CA
                        (default for both: the system's CA certificates, or hub.tls)
  --identity-file PATH  where to save the identity (default hub.identity_file, else
                        <state_dir>/hub-identity.json)
  --force               replace an existing identity (the host is enrolled anew)
  --json                print the result as JSON
  -h, --help            show this help

Exit codes: 0 enrolled, 1 enrollment failed (nothing was written), 2 usage or config error.
`;

const DEFAULT_STATE_DIR = "/var/lib/felhom-agent";

/** `felhom-agent enroll`: see HELP. */
export async function runEnroll(
  argv: string[],
  ctx: CliContext & { clock?: Clock },
): Promise<number> {
  const { values } = parseFlags(argv, {
    hub: { type: "string" },
    code: { type: "string" },
    fingerprint: { type: "string" },
    "ca-file": { type: "string" },
    "identity-file": { type: "string" },
    force: { type: "boolean" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  if (values.hub === undefined) throw new UsageError("--hub URL is required");
  if (values.code === undefined) throw new UsageError("--code CODE is required");
  const hubUrl = checkHubUrl(values.hub, (m) => {
    throw new UsageError(`--hub ${m}`);
  });
  const code = values.code.trim();
  if (!/^[A-Za-z0-9_-]{6,128}$/.test(code)) {
    throw new UsageError("--code must be the code the hub showed (letters, digits, '-' or '_')");
  }
  if (values.fingerprint !== undefined && values["ca-file"] !== undefined) {
    throw new UsageError("give at most one of --fingerprint and --ca-file");
  }
  const identityFlag = values["identity-file"];
  if (identityFlag !== undefined && !identityFlag.startsWith("/")) {
    throw new UsageError("--identity-file must be an absolute path");
  }

  let config: { hub: HubConfig; state_dir: string } | undefined;
  try {
    config = await loadOptionalConfig(ctx);
  } catch (err) {
    if (err instanceof ConfigError) {
      ctx.stderr(`config error: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  const stateDir = config?.state_dir ?? ctx.env.FELHOM_AGENT_STATE_DIR ?? DEFAULT_STATE_DIR;
  const identityPath = identityFlag ?? hubIdentityPath(config?.hub ?? {}, stateDir);
  const { trust, pin } = await chooseTrust(values.fingerprint, values["ca-file"], config?.hub.tls);

  const logger = createLogger({ level: "warn", sink: (line) => ctx.stderr(`${line}\n`) });
  try {
    const identity = await enrollHost({
      hubUrl,
      code,
      force: values.force === true,
      identityPath,
      trust,
      ...(pin !== undefined ? { pin } : {}),
      agentVersion: AGENT_VERSION,
      hostname: osHostname(),
      clock: ctx.clock ?? systemClock,
      logger,
      requestTimeoutMs: (config?.hub.request_timeout_s ?? 30) * 1000,
    });
    if (values.json) {
      ctx.stdout(
        `${JSON.stringify({
          enrolled: true,
          host_id: identity.host_id,
          hub_url: identity.hub_url,
          identity_file: identityPath,
          signers: identity.signers.map((s) => ({ name: s.name, role: s.role })),
        })}\n`,
      );
    } else {
      const signers =
        identity.signers.length === 0
          ? "no operator signers yet (destructive jobs will wait as pending_signature)"
          : `operator signers: ${identity.signers.map((s) => `${s.name} (${s.role})`).join(", ")}`;
      ctx.stdout(
        `Enrolled with ${identity.hub_url} as host ${identity.host_id}.\n${signers}\nIdentity saved to ${identityPath} (mode 0600).\n`,
      );
    }
    return EXIT_OK;
  } catch (err) {
    if (err instanceof EnrollError) {
      if (values.json)
        ctx.stdout(
          `${JSON.stringify({ enrolled: false, error: err.kind, message: err.message })}\n`,
        );
      ctx.stderr(`felhom-agent enroll: ${err.message}\n`);
      return EXIT_FAILURE;
    }
    throw err;
  }
}

/** The config is optional here: a host is usually enrolled before the agent is configured. */
async function loadOptionalConfig(
  ctx: CliContext,
): Promise<{ hub: HubConfig; state_dir: string } | undefined> {
  const explicit = ctx.configPath !== undefined;
  const path = ctx.configPath ?? DEFAULT_CONFIG_PATH;
  if (!explicit) {
    try {
      await stat(path);
    } catch {
      return undefined;
    }
  }
  const sections = agentSections.some((s) => (s.key as string) === "hub")
    ? agentSections
    : [...agentSections, hubSection];
  const cfg = (await loadSections(sections, {
    path,
    pathExplicit: explicit,
    env: ctx.env,
  })) as unknown as {
    hub: HubConfig;
    state_dir: string;
  };
  return cfg;
}

async function chooseTrust(
  fingerprint: string | undefined,
  caFile: string | undefined,
  configured: HubTlsTrust | undefined,
): Promise<{ trust: HubTlsTrust; pin?: HubTlsPin }> {
  if (fingerprint !== undefined) {
    const sha256 = normalizeFingerprint(fingerprint);
    if (!sha256) {
      throw new UsageError(
        "--fingerprint is not a SHA-256 fingerprint (32 hex pairs AA:BB:… or 64 hex digits)",
      );
    }
    return { trust: { kind: "fingerprint", sha256 }, pin: { fingerprint: sha256 } };
  }
  if (caFile !== undefined) {
    if (!caFile.startsWith("/")) throw new UsageError("--ca-file must be an absolute path");
    let caPem: string;
    try {
      caPem = await readFile(caFile, "utf8");
    } catch (err) {
      throw new UsageError(
        `--ca-file ${caFile} cannot be read (${(err as { code?: string }).code ?? "I/O error"})`,
      );
    }
    if (!caPem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new UsageError(`--ca-file ${caFile} holds no PEM certificate`);
    }
    return { trust: { kind: "ca", caFile, caPem }, pin: { ca_file: caFile } };
  }
  if (configured === undefined || configured.kind === "system")
    return { trust: { kind: "system" } };
  // Configured trust stays in the config; the identity need not repeat it.
  return { trust: configured };
}
