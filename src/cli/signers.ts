import { type SignerInForce, trustSummary } from "../hub/trust-summary.ts";
import { escapeUnsafeText } from "../store/audit-text.ts";
import { StoreError } from "../store/errors.ts";
import { loadOfflineConfigOrReport } from "./command-config.ts";
import {
  type CliContext,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  pickSubcommand,
  renderHelp,
} from "./context.ts";
import { parseFlags } from "./flags.ts";
import { readStoredSigners, type SignerStoreOpener } from "./stored-signers.ts";

const HELP = renderHelp({
  usage: ["felhom-agent [--config PATH] signers list [--json]"],
  body: `The operator keys whose signatures this host accepts for destructive operations: name, SHA256
fingerprint (as 'ssh-keygen -l' prints it), role, source and expiry.

  role     operational (signs destructive operations and planned rotation) or recovery
           (signs key rotation only)
  source   config (the signers key of the config: always in force, no rotation removes it),
           enrollment (accepted at 'felhom-agent enroll'), or rotation (set by a signed
           signers.rotate)

Options:
  --json      an array of {name, fingerprint, role, source, expires}; expires is an ISO time
              or null
  -h, --help  show this help


Works while the daemon runs; reads only.
`,
  examples: ["felhom-agent signers list --json"],
});

export interface SignersCliDeps {
  openStore?: SignerStoreOpener;
}

/** One signer as `signers list --json` prints it. */
export function signerRow(s: SignerInForce) {
  return {
    name: s.name,
    fingerprint: s.fingerprint,
    role: s.role,
    source: s.source,
    expires: s.expires_at ?? null,
  };
}

/** `felhom-agent signers`: see HELP. */
export async function runSigners(
  argv: string[],
  ctx: CliContext & { deps?: SignersCliDeps },
): Promise<number> {
  const { sub, rest } = pickSubcommand("signers", argv, ["list"]);
  if (sub === "help") {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  const { values } = parseFlags(rest, {
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  const cfg = await loadOfflineConfigOrReport(ctx, "signers");
  if (!cfg) return EXIT_USAGE;
  const { defaultStorePath } = await import("../store/open.ts");
  let stored: Awaited<ReturnType<typeof readStoredSigners>>;
  try {
    stored = await readStoredSigners(defaultStorePath(cfg.state_dir), ctx.deps?.openStore);
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    ctx.stderr(
      `felhom-agent: signers: the state database cannot be read: ${err.message}; fix it, then run the command again\n`,
    );
    return EXIT_FAILURE;
  }
  const trust = await trustSummary(cfg, stored);
  // Without a store the enrolled set would come from the identity file; if that cannot be
  // read the list below is incomplete, and saying so is the command's answer (exit 1).
  const incomplete = trust.enrollment.state === "unreadable" && stored === undefined;
  if (incomplete) {
    ctx.stderr(
      `felhom-agent: signers: ${trust.enrollment.error ?? "the identity file cannot be used"}; the enrolled signers are missing below until it can be read (see felhom-agent status)\n`,
    );
  }
  const rows = trust.signers.map(signerRow);
  const code = incomplete ? EXIT_FAILURE : EXIT_OK;
  if (values.json) {
    ctx.stdout(`${JSON.stringify(rows, null, 2)}\n`);
    return code;
  }
  if (rows.length === 0) {
    ctx.stdout("no signers: destructive operations wait as pending_signature and never run\n");
    return code;
  }
  for (const r of rows) {
    ctx.stdout(
      `${r.fingerprint}  ${r.role.padEnd(11)}  ${r.source.padEnd(10)}  ${escapeUnsafeText(r.name)}${r.expires ? `  expires ${r.expires}` : ""}\n`,
    );
  }
  return code;
}
