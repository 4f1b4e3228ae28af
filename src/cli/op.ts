import { constants } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { z } from "zod";
import { decodeBase64Strict, encodeBase64 } from "../authz/base64.ts";
import { createEd25519, type Ed25519 } from "../authz/ed25519.ts";
import type { GuestRef } from "../authz/envelope.ts";
import { HOST_OP_NAMES, isGuestOp, isOpName, OP_NAMES, type OpName } from "../authz/operations.ts";
import { buildPayload } from "../authz/sign.ts";
import { parseSigners, SignersConfigError } from "../authz/signers.ts";
import { formatArmoredSshsig, OP_NAMESPACE } from "../authz/sshsig.ts";
import { DEFAULT_MAX_TTL_SECONDS, inspectEnvelope } from "../authz/verify.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import type { CliContext } from "./context.ts";
import {
  CommandFailure,
  EXIT_FAILURE,
  EXIT_OK,
  inSubcommand,
  pickSubcommand,
  renderHelp,
  UsageError,
} from "./context.ts";
import { SshKeygenSignError, sshKeygenSign } from "./ssh-keygen-sign.ts";

/** What `op` uses from the outside world besides the context; injectable for tests. */
export interface OpDeps {
  clock: Clock;
  ed25519: Ed25519;
  /** The ssh-keygen binary; default: found on PATH. */
  sshKeygen?: string;
}

const HELP = renderHelp({
  usage: ["felhom-agent op <sign|check> [options]"],
  body: `Signed operations (OpenSSH SSHSIG, namespace ${OP_NAMESPACE}, ssh-ed25519 keys).

  sign    write a signed envelope for one operation to stdout (through ssh-keygen -Y sign)
  check   verify an envelope and print its payload and the verdict

Run 'felhom-agent op sign --help' or 'felhom-agent op check --help' for options.`,
  examples: [
    "felhom-agent op sign --key ~/.ssh/id_ed25519.pub --op guest.destroy --vmid 101 --host h-7f3a",
    "felhom-agent op check destroy.json",
  ],
});

export const OP_SUBCOMMANDS = ["sign", "check"] as const;

const SIGN_HELP = renderHelp({
  usage: [
    "felhom-agent op sign --key FILE --op guest.* --vmid N --host ID [options]",
    "felhom-agent op sign --key FILE --op OP --host ID [options]    (host-level OP)",
  ],
  body: `Writes {"payload": "<base64 JSON>", "signature": "<SSHSIG>"} to stdout. The signature is made
by 'ssh-keygen -Y sign -n ${OP_NAMESPACE}' (openssh-client), so an encrypted key asks for its
passphrase on the terminal, and a key held by ssh-agent (a hardware token's too) signs when
--key names its .pub. Agents accept ssh-ed25519 keys only.

Options:
  --key FILE              OpenSSH ed25519 private key, or its .pub with the key in ssh-agent
  --passphrase-file FILE  passphrase of the key, for scripts (one trailing newline is ignored)
  --op OP                 operation, one of:
                          ${OP_NAMES.join(", ")}
  --vmid N                guest id (100..999999999); required for guest.* operations and
                          refused for host-level ones (${HOST_OP_NAMES.join(", ")})
  --uid UID               agent-assigned guest uid, binds the signature to that guest
  --host ID               host id of the agent that will run the operation
  --params JSON           parameters as a JSON object (default {}); the agent runs exactly these
  --ttl DURATION          validity, e.g. 90s, 10m (default 10m, at most ${DEFAULT_MAX_TTL_SECONDS / 60}m)
  --job ID                hub job id the signature approves
  -h, --help              show this help`,
  examples: [
    "felhom-agent op sign --key ~/.ssh/id_ed25519 --op guest.destroy --vmid 101 --host h-7f3a > destroy.json",
    'felhom-agent op sign --key ~/.ssh/id_ed25519.pub --op storage.remove --params \'{"id":"usb1"}\' --host h-7f3a',
  ],
});

const CHECK_HELP = renderHelp({
  usage: ["felhom-agent [--config PATH] op check FILE [--host ID] [--signers FILE] [--json]"],
  body: `Verifies the envelope in FILE exactly as the agent's gate would, except that it cannot know the
action being gated (no binding check) and does not consult or consume the nonce store. Prints
JSON: {"verdict": "valid"|"rejected", "reason", "detail", "signer", "payload", ...}, with or
without --json. Needs no proxmox section in the configuration.

Options:
  --host ID          this agent's host id (default: the config's host_id)
  --signers FILE     JSON array of signers (default: the config's signers):
                     [{"name": "alice", "key": "ssh-ed25519 AAAA…", "role": "operational",
                       "expires": "2027-06-01T00:00:00Z"}]
  -h, --help         show this help`,
  examples: [
    "felhom-agent op check destroy.json",
    "felhom-agent op check destroy.json --host h-7f3a --signers signers.json",
  ],
  exitCodes: "0 valid, 1 rejected, 2 usage or configuration error",
});

export async function runOp(
  argv: string[],
  ctx: CliContext,
  deps: OpDeps = { clock: systemClock, ed25519: createEd25519() },
): Promise<number> {
  const { sub, rest } = pickSubcommand("op", argv, OP_SUBCOMMANDS);
  if (sub === "sign") return inSubcommand("op sign", () => runSign(rest, ctx, deps));
  if (sub === "check") return inSubcommand("op check", () => runCheck(rest, ctx, deps));
  ctx.stdout(HELP);
  return EXIT_OK;
}

/** node:util parseArgs errors are usage errors. */
function flags<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw new UsageError(`cannot read ${what} '${file}' (${code})`);
  }
}

/** The file is there and readable; its contents are left to ssh-keygen. */
async function mustRead(file: string, what: string): Promise<void> {
  try {
    await access(file, constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw new UsageError(`cannot read ${what} '${file}' (${code})`);
  }
}

/** `90s`, `10m`, `1h`, or bare seconds. */
export function parseTtl(text: string): number {
  const m = /^(\d{1,6})([smh]?)$/.exec(text);
  if (!m) throw new UsageError(`--ttl must be a duration like 90s or 10m, got '${text}'`);
  const unit = { "": 1, s: 1, m: 60, h: 3600 }[m[2] as "" | "s" | "m" | "h"];
  const seconds = Number(m[1]) * unit;
  if (seconds < 1 || seconds > DEFAULT_MAX_TTL_SECONDS) {
    throw new UsageError(
      `--ttl must be between 1s and ${DEFAULT_MAX_TTL_SECONDS}s (agents refuse longer-lived envelopes), got ${seconds}s`,
    );
  }
  return seconds;
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") throw new UsageError(`${flag} is required`);
  return value;
}

async function runSign(argv: string[], ctx: CliContext, deps: OpDeps): Promise<number> {
  const { values } = flags(() =>
    parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        key: { type: "string" },
        "passphrase-file": { type: "string" },
        op: { type: "string" },
        vmid: { type: "string" },
        uid: { type: "string" },
        host: { type: "string" },
        params: { type: "string" },
        ttl: { type: "string" },
        job: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help) {
    ctx.stdout(SIGN_HELP);
    return EXIT_OK;
  }
  const keyFile = required(values.key, "--key");
  const op = required(values.op, "--op");
  if (!isOpName(op)) throw new UsageError(`--op '${op}' is not one of: ${OP_NAMES.join(", ")}`);
  const guest = guestFlags(op, values.vmid, values.uid);
  const host = required(values.host, "--host");
  let params: Record<string, unknown> = {};
  if (values.params !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(values.params);
    } catch (e) {
      throw new UsageError(`--params is not JSON: ${(e as Error).message}`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new UsageError("--params must be a JSON object");
    }
    params = parsed as Record<string, unknown>;
  }
  const ttlSeconds = parseTtl(values.ttl ?? "10m");

  const passphraseFile = values["passphrase-file"];
  if (passphraseFile !== undefined) await mustRead(passphraseFile, "passphrase file");
  await mustRead(keyFile, "key file");
  const keygen = deps.sshKeygen ?? Bun.which("ssh-keygen", { PATH: ctx.env.PATH ?? "" });
  if (!keygen) {
    throw new CommandFailure(
      "ssh-keygen not found on PATH",
      "install openssh-client (apt install openssh-client)",
    );
  }

  let payload: ReturnType<typeof buildPayload>;
  try {
    payload = buildPayload({
      op,
      host,
      ...(guest === undefined ? {} : { guest }),
      params,
      ...(values.job === undefined ? {} : { job: values.job }),
      now: Math.floor(deps.clock.now() / 1000),
      ttlSeconds,
    });
  } catch (e) {
    const issue = e instanceof z.ZodError ? e.issues[0] : undefined;
    if (issue) throw new UsageError(`invalid payload at ${issue.path.join(".")}: ${issue.message}`);
    throw e;
  }
  // The bytes signed are the bytes sent: the payload is serialised once.
  const bytes = new TextEncoder().encode(JSON.stringify(payload));
  let sig: Awaited<ReturnType<typeof sshKeygenSign>>;
  try {
    sig = await sshKeygenSign({
      keygen,
      keyFile,
      namespace: OP_NAMESPACE,
      message: bytes,
      ...(passphraseFile === undefined ? {} : { passphraseFile }),
      env: ctx.env,
      stderr: ctx.stderr,
      ed25519: deps.ed25519,
    });
  } catch (e) {
    if (e instanceof SshKeygenSignError) throw new CommandFailure(e.message, e.hint);
    throw e;
  }
  const envelope = { payload: encodeBase64(bytes), signature: formatArmoredSshsig(sig) };
  ctx.stdout(`${JSON.stringify(envelope)}\n`);
  ctx.stderr(
    `signed ${op}${guest === undefined ? "" : ` on guest ${guest.vmid}`} for host ${host} with ${sig.publicKey.fingerprint}, valid until ${new Date(payload.exp * 1000).toISOString()}\n`,
  );
  return EXIT_OK;
}

/**
 * `--vmid` (and `--uid`) name the guest of a `guest.*` operation; a host-level operation acts
 * on no guest and its payload must name none (docs/architecture.md#signed-operations), so they are refused there.
 */
function guestFlags(
  op: OpName,
  vmidText: string | undefined,
  uid: string | undefined,
): GuestRef | undefined {
  if (!isGuestOp(op)) {
    const flag = vmidText !== undefined ? "--vmid" : uid !== undefined ? "--uid" : undefined;
    if (flag) {
      throw new UsageError(
        `${flag} applies to guest.* operations only; ${op} acts on the host and names no guest`,
      );
    }
    return undefined;
  }
  if (vmidText === undefined || vmidText === "") {
    throw new UsageError(`--vmid is required for ${op}`);
  }
  const vmid = /^\d{1,9}$/.test(vmidText) ? Number(vmidText) : Number.NaN;
  if (!(vmid >= 100)) {
    throw new UsageError(`--vmid must be an integer 100..999999999, got '${vmidText}'`);
  }
  if (uid === "") throw new UsageError("--uid must not be empty");
  return uid === undefined ? { vmid } : { vmid, uid };
}

/**
 * The config's host id and signers; a config that cannot be read names the missing flag. The
 * check never talks to Proxmox, so a config without a `proxmox` section is fine.
 */
async function configForCheck(
  ctx: CliContext,
  missing: string,
): Promise<{ host_id: string | undefined; signers: ReturnType<typeof parseSigners> }> {
  const { loadOfflineConfig } = await import("../daemon/agent-config.ts");
  const { ConfigError } = await import("../config/errors.ts");
  try {
    // Without a file the signers would be none and every envelope "unknown signer"; asking
    // for the flag says more.
    return await loadOfflineConfig({
      fileOptional: false,
      ...(ctx.configPath !== undefined ? { path: ctx.configPath, pathExplicit: true } : {}),
      env: ctx.env,
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      throw new UsageError(`${missing} is required when the config cannot be read: ${e.message}`);
    }
    throw e;
  }
}

async function runCheck(argv: string[], ctx: CliContext, deps: OpDeps): Promise<number> {
  const { values, positionals } = flags(() =>
    parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        host: { type: "string" },
        signers: { type: "string" },
        // The report is always JSON; the flag is accepted like everywhere else.
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help) {
    ctx.stdout(CHECK_HELP);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError("op check takes exactly one envelope FILE");
  const file = positionals[0] as string;
  // Flags win; what they leave out comes from the config (`host_id`, `signers`).
  let hostId = values.host === "" ? undefined : values.host;
  let signers: ReturnType<typeof parseSigners> | undefined;
  if (values.signers !== undefined) {
    const signersFile = required(values.signers, "--signers");
    try {
      signers = parseSigners(JSON.parse(await readText(signersFile, "signers file")));
    } catch (e) {
      if (e instanceof SignersConfigError || e instanceof SyntaxError) {
        throw new UsageError(`signers file '${signersFile}': ${e.message}`);
      }
      throw e;
    }
  }
  if (hostId === undefined || signers === undefined) {
    const missing = hostId === undefined ? "--host" : "--signers";
    const cfg = await configForCheck(ctx, missing);
    hostId ??= cfg.host_id;
    signers ??= cfg.signers;
    if (hostId === undefined) {
      throw new UsageError("--host is required: the config has no host_id (set it, or enroll)");
    }
    if (signers.length === 0) ctx.stderr("note: the config lists no signers\n");
  }

  const text = await readText(file, "envelope file");
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch {
    // Not JSON is a malformed envelope: the verifier names it like any other shape problem.
    input = text;
  }
  const result = await inspectEnvelope(input, {
    hostId,
    signers,
    clock: deps.clock,
    ed25519: deps.ed25519,
    // op check never consults or consumes the nonce store.
    isNonceUsed: () => false,
  });
  const signer = result.signer;
  const report = {
    verdict: result.ok ? "valid" : "rejected",
    ...(result.ok ? {} : { reason: result.rejection.reason, detail: result.rejection.detail }),
    signer: signer ? { name: signer.name, key_id: signer.keyId, role: signer.role } : null,
    payload: result.payload ?? null,
    ...(result.payload ? {} : { unverified_payload: unverifiedPayload(input) }),
    binding_checked: false,
    nonce_checked: false,
  };
  ctx.stdout(`${JSON.stringify(report, null, 2)}\n`);
  return result.ok ? EXIT_OK : EXIT_FAILURE;
}

/** Best-effort decode for the operator's eyes only; nothing acts on it. */
function unverifiedPayload(input: unknown): unknown {
  if (input === null || typeof input !== "object") return null;
  const payload = (input as { payload?: unknown }).payload;
  if (typeof payload !== "string") return null;
  const bytes = decodeBase64Strict(payload);
  if (!bytes) return null;
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return null;
  }
}
