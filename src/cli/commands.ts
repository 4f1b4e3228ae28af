import type { CliContext } from "./context.ts";
import { UsageError } from "./context.ts";
import type { Command } from "./dispatch.ts";

async function runConfig(argv: string[], ctx: CliContext): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "show") return (await import("./config-show.ts")).runConfigShow(rest, ctx);
  if (sub === undefined || sub === "--help" || sub === "-h") {
    ctx.stdout(
      "Usage: felhom-agent [--config PATH] config show\n\n  show   print the effective configuration (file + FELHOM_AGENT_* env), secrets redacted,\n         and signers_in_force: every operator signer with its fingerprint and source\n",
    );
    return sub === undefined ? 2 : 0;
  }
  throw new UsageError(`unknown config subcommand '${sub}' (try 'config show')`);
}

/**
 * Every command of the binary; the CLI entry only dispatches into this table. Each command's
 * module is imported when it runs, so `version` or `--help` do not pay for loading the
 * simulator, zod schemas and the TLS stack (start-up time is benchmarked).
 */
export const COMMANDS: Command[] = [
  {
    name: "run",
    summary: "the daemon: recover the journal, then converge guests to the desired state",
    run: async (argv, ctx) => (await import("./run.ts")).runDaemon(argv, ctx),
  },
  {
    name: "selftest",
    summary: "read-only health report (also --selftest, --selftest=task)",
    run: async (argv, ctx) => (await import("./selftest.ts")).runSelftest(argv, ctx),
  },
  {
    name: "audit",
    summary: "the audit log: list (text or --json export) and verify its hash chain",
    run: async (argv, ctx) => (await import("./audit.ts")).runAudit(argv, ctx),
  },
  {
    name: "storage",
    summary: "storage list: backup targets, present or not, and what to do about a missing one",
    run: async (argv, ctx) => (await import("./storage.ts")).runStorage(argv, ctx),
  },
  {
    name: "status",
    summary: "enrolled or not, hub, state database, audit head, operator signers in force",
    run: async (argv, ctx) => (await import("./status.ts")).runStatus(argv, ctx),
  },
  {
    name: "config",
    summary: "config show: the effective configuration, secrets redacted",
    run: runConfig,
  },
  {
    name: "demo",
    summary: "walk through the agent against the embedded Proxmox simulator",
    run: async (argv, ctx) => (await import("./demo.ts")).runDemo(argv, ctx),
  },
  {
    name: "enroll",
    summary: "trade a one-time hub code for this host's identity (--hub URL --code CODE)",
    run: async (argv, ctx) => (await import("./enroll.ts")).runEnroll(argv, ctx),
  },
  {
    name: "fingerprint",
    summary: "show the TLS certificate an endpoint presents, and its SHA-256 to pin",
    run: async (argv, ctx) => (await import("./fingerprint.ts")).runFingerprint(argv, ctx),
  },
  {
    name: "localapi",
    summary: "localapi pins [--json]: the local API certificate's pins for a guest's config",
    run: async (argv, ctx) => (await import("./localapi.ts")).runLocalApi(argv, ctx),
  },
  {
    name: "op",
    summary: "op sign | op check: make or inspect a signed operation envelope",
    run: async (argv, ctx) => (await import("./op.ts")).runOp(argv, ctx),
  },
  {
    name: "sim",
    summary: "run the Proxmox VE API simulator on loopback (sim hub: the hub simulator)",
    run: async (argv, ctx) => (await import("./sim.ts")).runSimCommand(argv, ctx),
  },
  {
    name: "state",
    summary:
      "state backup FILE | state restore FILE: the state database, safely copied and put back",
    run: async (argv, ctx) => (await import("./state.ts")).runState(argv, ctx),
  },
  {
    name: "token",
    summary: "local-API tokens for guests: token mint --vmid N, token list, token revoke",
    run: async (argv, ctx) => (await import("./token.ts")).runToken(argv, ctx),
  },
  {
    name: "version",
    summary: "print the agent's version",
    run: async (argv, ctx) => (await import("./version.ts")).runVersion(argv, ctx),
  },
];
