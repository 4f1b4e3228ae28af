import type { Command } from "./dispatch.ts";

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
    subcommands: ["list", "verify"],
    summary: "the audit log: list (text or --json export) and verify its hash chain",
    run: async (argv, ctx) => (await import("./audit.ts")).runAudit(argv, ctx),
  },
  {
    name: "storage",
    subcommands: ["list"],
    summary: "storage list: backup targets, present or not, and what to do about a missing one",
    run: async (argv, ctx) => (await import("./storage.ts")).runStorage(argv, ctx),
  },
  {
    name: "backup",
    subcommands: ["list", "run"],
    summary:
      "backup list | backup run --vmid N: the backups the agent knows of; back a guest up now",
    run: async (argv, ctx) => (await import("./backup.ts")).runBackup(argv, ctx),
  },
  {
    name: "status",
    summary: "enrolled or not, hub, state database, audit head, operator signers in force",
    run: async (argv, ctx) => (await import("./status.ts")).runStatus(argv, ctx),
  },
  {
    name: "config",
    summary: "config show | config check: the effective configuration (redacted), or validate it",
    subcommands: ["show", "check"],
    run: async (argv, ctx) => (await import("./config-show.ts")).runConfig(argv, ctx),
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
    subcommands: ["pins"],
    summary: "localapi pins [--json]: the local API certificate's pins for a guest's config",
    run: async (argv, ctx) => (await import("./localapi.ts")).runLocalApi(argv, ctx),
  },
  {
    name: "op",
    subcommands: ["sign", "check"],
    summary: "op sign | op check: make or inspect a signed operation envelope",
    run: async (argv, ctx) => (await import("./op.ts")).runOp(argv, ctx),
  },
  {
    name: "pending",
    subcommands: ["list", "show", "approve", "decline"],
    summary: "held operations: pending list | show ID | approve ID --envelope FILE | decline ID",
    run: async (argv, ctx) => (await import("./pending.ts")).runPending(argv, ctx),
  },
  {
    name: "setup",
    summary:
      "as root: role, user, token, ACLs, pin, config, service (--enroll, --repin, --rotate-token)",
    run: async (argv, ctx) => (await import("./setup.ts")).runSetup(argv, ctx),
  },
  {
    name: "signers",
    subcommands: ["list"],
    summary: "signers list [--json]: the operator keys in force, their role, source and expiry",
    run: async (argv, ctx) => (await import("./signers.ts")).runSigners(argv, ctx),
  },
  {
    name: "sim",
    subcommands: ["hub"],
    summary: "run the Proxmox VE API simulator on loopback (sim hub: the hub simulator)",
    run: async (argv, ctx) => (await import("./sim.ts")).runSimCommand(argv, ctx),
  },
  {
    name: "state",
    subcommands: ["backup", "restore"],
    summary:
      "state backup FILE | state restore FILE: the state database, safely copied and put back",
    run: async (argv, ctx) => (await import("./state.ts")).runState(argv, ctx),
  },
  {
    name: "golden",
    subcommands: ["list"],
    summary: "golden list [--json]: the archives new guests may be provisioned from unsigned",
    run: async (argv, ctx) => (await import("./golden.ts")).runGolden(argv, ctx),
  },
  {
    name: "guest",
    subcommands: ["provisioning"],
    summary: "guest provisioning [--json]: provisionings that stopped half way, and their step",
    run: async (argv, ctx) => (await import("./guest.ts")).runGuest(argv, ctx),
  },
  {
    name: "token",
    subcommands: ["mint", "list", "revoke"],
    summary: "local-API tokens for guests: token mint --vmid N, token list, token revoke",
    run: async (argv, ctx) => (await import("./token.ts")).runToken(argv, ctx),
  },
  {
    name: "update",
    subcommands: ["status"],
    summary: "update status [--json]: current and previous version, the last self-update",
    run: async (argv, ctx) => (await import("./update.ts")).runUpdate(argv, ctx),
  },
  {
    name: "completion",
    summary: "completion bash: the bash completion script, generated from this command table",
    subcommands: ["bash"],
    run: async (argv, ctx) => (await import("./completion.ts")).runCompletion(argv, ctx, COMMANDS),
  },
  {
    name: "version",
    summary: "print the agent's version",
    run: async (argv, ctx) => (await import("./version.ts")).runVersion(argv, ctx),
  },
];
