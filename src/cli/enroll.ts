import { readFile, stat } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { ConfigError } from "../config/errors.ts";
import { DEFAULT_CONFIG_PATH, loadSections } from "../config/load.ts";
import { agentSections } from "../daemon/agent-config.ts";
import {
  checkHubUrl,
  type HubConfig,
  type HubTlsTrust,
  hubIdentityPath,
  hubSection,
} from "../hub/config-section.ts";
import { EnrollError, enrollHost } from "../hub/enroll.ts";
import type { HubTlsPin } from "../hub/identity.ts";
import {
  acceptExactly,
  describeSigners,
  FINGERPRINT_PATTERN,
  offeredSigners,
  type SignerAcceptance,
} from "../hub/signer-acceptance.ts";
import { createLogger } from "../log/logger.ts";
import { normalizeFingerprint } from "../tls/fingerprint.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { AGENT_VERSION } from "../version.ts";
import {
  type CliContext,
  CONFIG_HINT,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  renderHelp,
  reportFailure,
  UsageError,
} from "./context.ts";
import { parseFlags } from "./flags.ts";

const HELP = renderHelp({
  usage: [
    "felhom-agent [--config PATH] enroll --hub URL --code CODE",
    "               [--accept-signers SHA256:…,SHA256:…] [options]",
  ],
  body: `Trades a one-time retrieval code from the hub for this host's durable identity: host id, hub
credential and the operator signer keys. The host key is generated here; only its public half
is sent. The identity is saved (mode 0600) before success is reported.

The operator signers can approve destructive operations (destroy, restore, rollback) on this
host, so they are trusted only once you accept them: each is shown with its SHA256 fingerprint
and role. Compare them with what the hub shows, then either pass exactly that set with
--accept-signers, or answer yes when asked on a terminal. Not accepted: nothing is written,
exit 2, and the message lists the fingerprints and the flag to pass (the code is then used;
regenerate it).

Options:
  --hub URL             the hub's base URL (https://…)
  --code CODE           the retrieval code the hub showed (single use, expires soon)
  --accept-signers FPS  the operator signers to trust: their fingerprints, comma-separated
                        (SHA256:… as ssh-keygen -l prints them); must be exactly the set the
                        hub offers
  --fingerprint FP      pin the hub's certificate (SHA-256, AA:BB:… or 64 hex digits)
  --ca-file PATH        trust the hub's certificate through this PEM CA
                        (default for both: the system's CA certificates, or hub.tls)
  --identity-file PATH  where to save the identity (default hub.identity_file, else
                        <state_dir>/hub-identity.json)
  --force               replace an existing identity (the host is enrolled anew)
  --json                print the result as JSON
  -h, --help            show this help`,
  examples: [
    "felhom-agent enroll --hub https://hub.example.com --code K7Q-4MZ-P2W",
    "felhom-agent enroll --hub https://hub.example.com --code K7Q-4MZ-P2W --accept-signers SHA256:…",
  ],
  exitCodes:
    "0 enrolled, 1 enrollment failed (nothing was written), 2 usage or configuration error, or the signers were not accepted (nothing was written)",
});

const DEFAULT_STATE_DIR = "/var/lib/felhom-agent";

/** Asks the operator a yes/no question on the terminal; undefined = no terminal to ask on. */
export type Confirm = (question: string) => Promise<boolean>;

export interface EnrollCliContext extends CliContext {
  clock?: Clock;
  /** Default: a prompt on stdin when it is a terminal, else none. */
  confirm?: Confirm | undefined;
}

/** `felhom-agent enroll`: see HELP. */
export async function runEnroll(argv: string[], ctx: EnrollCliContext): Promise<number> {
  const { values } = parseFlags(argv, {
    hub: { type: "string" },
    code: { type: "string" },
    "accept-signers": { type: "string" },
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
  const accepted =
    values["accept-signers"] === undefined
      ? undefined
      : parseAcceptSigners(values["accept-signers"]);
  const identityFlag = values["identity-file"];
  if (identityFlag !== undefined && !identityFlag.startsWith("/")) {
    throw new UsageError("--identity-file must be an absolute path");
  }

  let config: { hub: HubConfig; state_dir: string } | undefined;
  try {
    config = await loadOptionalConfig(ctx);
  } catch (err) {
    if (err instanceof ConfigError) {
      return reportFailure(
        ctx,
        "enroll",
        `configuration error: ${err.message}`,
        CONFIG_HINT,
        EXIT_USAGE,
      );
    }
    throw err;
  }
  const stateDir = config?.state_dir ?? ctx.env.FELHOM_AGENT_STATE_DIR ?? DEFAULT_STATE_DIR;
  const identityPath = identityFlag ?? hubIdentityPath(config?.hub ?? {}, stateDir);
  const { trust, pin } = await chooseTrust(values.fingerprint, values["ca-file"], config?.hub.tls);

  const logger = createLogger({ level: "warn", sink: (line) => ctx.stderr(`${line}\n`) });
  const confirm = "confirm" in ctx ? ctx.confirm : terminalConfirm(ctx);
  const acceptSigners: SignerAcceptance = async (offered) => {
    if (accepted !== undefined) return acceptExactly(accepted)(offered);
    // Nothing to trust, nothing to accept.
    if (offered.length === 0) return true;
    if (confirm === undefined) return false;
    return confirm(
      `The hub offers these operator signers, who could approve destructive operations on this host:\n${describeSigners(offered)}Trust them? [y/N] `,
    );
  };
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
      acceptSigners,
    });
    const offered = offeredSigners(identity.signers);
    if (values.json) {
      ctx.stdout(
        `${JSON.stringify({
          enrolled: true,
          host_id: identity.host_id,
          hub_url: identity.hub_url,
          identity_file: identityPath,
          signers: offered,
        })}\n`,
      );
    } else {
      const signers =
        identity.signers.length === 0
          ? "no operator signers yet (destructive jobs will wait as pending_signature)"
          : `operator signers accepted:\n${describeSigners(offered).trimEnd()}`;
      ctx.stdout(
        `Enrolled with ${identity.hub_url} as host ${identity.host_id}.\n${signers}\nIdentity saved to ${identityPath} (mode 0600).\n`,
      );
    }
    return EXIT_OK;
  } catch (err) {
    if (err instanceof EnrollError) {
      if (values.json)
        ctx.stdout(
          `${JSON.stringify({
            enrolled: false,
            error: err.kind,
            message: err.message,
            ...(err.offered !== undefined ? { offered_signers: err.offered } : {}),
          })}\n`,
        );
      return reportFailure(
        ctx,
        "enroll",
        err.message,
        undefined,
        err.kind === "signers_not_accepted" ? EXIT_USAGE : EXIT_FAILURE,
      );
    }
    throw err;
  }
}

function parseAcceptSigners(text: string): string[] {
  const list = text
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f !== "");
  for (const f of list) {
    if (!FINGERPRINT_PATTERN.test(f)) {
      throw new UsageError(
        `--accept-signers: '${f.slice(0, 80)}' is not a key fingerprint (SHA256: and 43 base64 characters, as ssh-keygen -l prints)`,
      );
    }
  }
  if (new Set(list).size !== list.length) {
    throw new UsageError("--accept-signers names a fingerprint twice");
  }
  return list;
}

/** A yes/no prompt on the controlling terminal; none when stdin is not a terminal. */
function terminalConfirm(ctx: CliContext): Confirm | undefined {
  if (!process.stdin.isTTY) return undefined;
  return async (question) => {
    const { createInterface } = await import("node:readline/promises");
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = await rl.question(question);
      return /^(y|yes)$/i.test(answer.trim());
    } catch {
      ctx.stderr("\n");
      return false;
    } finally {
      rl.close();
    }
  };
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
