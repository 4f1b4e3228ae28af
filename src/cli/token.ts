import { parseArgs } from "node:util";
import { type AgentConfig, secretsOf } from "../daemon/agent-config.ts";
import { createLogger } from "../log/logger.ts";
import { ProxmoxApiError } from "../proxmox/api-error.ts";
import type { AuditSink } from "../store/audit.ts";
import { StoreError } from "../store/errors.ts";
import type { GuestTokenInfo, MintedToken } from "../store/guest-tokens.ts";
import { loadConfigOrReport } from "./command-config.ts";
import {
  type CliContext,
  EXIT_OK,
  EXIT_USAGE,
  inSubcommand,
  pickSubcommand,
  renderHelp,
  reportFailure,
  UsageError,
} from "./context.ts";
import { proxmoxClientFromConfig } from "./proxmox-from-config.ts";

const HELP = renderHelp({
  usage: [
    "felhom-agent [--config PATH] token mint --vmid N",
    "felhom-agent [--config PATH] token list [--json]",
    "felhom-agent [--config PATH] token revoke (ID | --vmid N)",
  ],
  body: `Local-API tokens for the controllers inside guests. Each token acts only on its own guest.

  mint --vmid N   make a new token for the guest now at vmid N and print it once, alone on
                  stdout; only its SHA-256 is stored, so it cannot be shown again. The token
                  belongs to that guest's identity (made now if it has none, after asking
                  Proxmox that the guest exists): when the guest is destroyed or restored
                  over, the token stops working, and a new guest that gets the vmid does not
                  inherit it
  list            every token's id, guest, creation, last use and revocation (never the token)
  revoke ID       revoke one token by its id (gt-…)
  revoke --vmid N revoke every token of guest N

Works while the daemon runs (the state database is shared in WAL mode).`,
  examples: [
    "TOKEN=$(felhom-agent token mint --vmid 101)",
    "felhom-agent token list --json",
    "felhom-agent token revoke --vmid 101",
  ],
});

export const TOKEN_SUBCOMMANDS = ["mint", "list", "revoke"] as const;

/** The parts of the store the command uses; tests inject one. */
export interface TokenStoreHandle {
  guestTokens: {
    mint(vmid: number): MintedToken;
    list(): GuestTokenInfo[];
    revoke(target: string | number): number;
  };
  guestIdentities: { current(vmid: number): { uid: string } | undefined };
  audit: AuditSink;
  close(): void;
}

export interface TokenCliDeps {
  openStore?: (stateDir: string) => Promise<TokenStoreHandle> | TokenStoreHandle;
  /** Whether guest `vmid` exists on the node; asks Proxmox unless a test injects it. */
  guestExists?: (cfg: AgentConfig, vmid: number) => Promise<boolean>;
}

/**
 * Asks Proxmox for the guest's status: a missing config file is "no such guest"
 * (`Configuration file '…' does not exist`); any other failure is thrown.
 */
async function proxmoxGuestExists(cfg: AgentConfig, vmid: number, ctx: CliContext) {
  const client = proxmoxClientFromConfig(cfg.proxmox, {
    logger: createLogger({
      level: cfg.log.level,
      sink: (line) => ctx.stderr(`${line}\n`),
      secrets: () => secretsOf(cfg),
    }),
  });
  try {
    await client.guestStatus(vmid);
    return true;
  } catch (err) {
    if (err instanceof ProxmoxApiError && err.reason.kind === "missing_guest") return false;
    throw err;
  } finally {
    client.close?.();
  }
}

const VMID = /^[1-9][0-9]{2,8}$/;

function parseVmid(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!VMID.test(text))
    throw new UsageError(`--vmid must be a guest id (100–999999999), got '${text}'`);
  return Number(text);
}

async function defaultOpen(stateDir: string): Promise<TokenStoreHandle> {
  const { openStore, defaultStorePath } = await import("../store/open.ts");
  // Not exclusive: the daemon holds the store's lock while it runs, and minting must still work.
  return openStore({ path: defaultStorePath(stateDir), exclusive: false });
}

const iso = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());

export async function runToken(
  argv: string[],
  ctx: CliContext & { deps?: TokenCliDeps },
): Promise<number> {
  const { sub, rest } = pickSubcommand("token", argv, TOKEN_SUBCOMMANDS);
  if (sub === "help" || rest.includes("--help") || rest.includes("-h")) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  return inSubcommand(`token ${sub}`, () => runTokenSub(sub, rest, ctx));
}

async function runTokenSub(
  sub: (typeof TOKEN_SUBCOMMANDS)[number],
  rest: string[],
  ctx: CliContext & { deps?: TokenCliDeps },
): Promise<number> {
  let values: { vmid?: string; json?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: { vmid: { type: "string" }, json: { type: "boolean" } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const vmid = parseVmid(values.vmid);
  if (sub === "mint" && (vmid === undefined || positionals.length > 0)) {
    throw new UsageError("token mint takes --vmid N and nothing else");
  }
  if (sub === "list" && (vmid !== undefined || positionals.length > 0)) {
    throw new UsageError("token list takes only --json");
  }
  if (sub === "revoke") {
    const targets = positionals.length + (vmid === undefined ? 0 : 1);
    if (targets !== 1) throw new UsageError("token revoke takes one token id or --vmid N");
    if (positionals[0] !== undefined && !/^gt-[0-9a-f]{16}$/.test(positionals[0])) {
      throw new UsageError(`'${positionals[0]}' is not a token id (gt-…; see 'token list')`);
    }
  }

  const cfg = await loadConfigOrReport(ctx, `token ${sub}`);
  if (!cfg) return EXIT_USAGE;
  let store: TokenStoreHandle;
  try {
    store = await (ctx.deps?.openStore ?? defaultOpen)(cfg.state_dir);
  } catch (err) {
    if (err instanceof StoreError) return reportFailure(ctx, `token ${sub}`, err.message);
    throw err;
  }
  try {
    if (sub === "mint") {
      // A token belongs to the guest identity. One made for a vmid no guest has would belong
      // to whichever guest gets that vmid next, so a guest without an identity must exist.
      if (store.guestIdentities.current(vmid as number) === undefined) {
        let exists: boolean;
        try {
          exists = await (ctx.deps?.guestExists ?? ((c, v) => proxmoxGuestExists(c, v, ctx)))(
            cfg,
            vmid as number,
          );
        } catch (err) {
          return reportFailure(
            ctx,
            "token mint",
            `could not check that guest ${vmid} exists: ${(err as Error).message}`,
            "check that Proxmox is reachable with 'felhom-agent --selftest'",
          );
        }
        if (!exists) {
          return reportFailure(
            ctx,
            "token mint",
            `guest ${vmid} does not exist on this node; no token minted`,
            "check the vmid (pct list)",
          );
        }
      }
      const minted = store.guestTokens.mint(vmid as number);
      store.audit.append({
        actor: "operator",
        action: "token.mint",
        target: `guest:${minted.vmid}`,
        outcome: "ok",
        details: { token_id: minted.id, guest_uid: minted.guestUid },
      });
      // stdout carries the token alone, so `TOKEN=$(felhom-agent token mint --vmid N)` works.
      ctx.stdout(`${minted.token}\n`);
      ctx.stderr(
        `minted ${minted.id} for guest ${minted.vmid} (${minted.guestUid}); the token is shown once and only its hash is kept\n`,
      );
      return EXIT_OK;
    }
    if (sub === "list") {
      const rows = store.guestTokens.list();
      if (values.json) {
        ctx.stdout(
          `${JSON.stringify(
            rows.map((r) => ({
              id: r.id,
              vmid: r.vmid,
              guest_uid: r.guestUid,
              created_at: iso(r.createdAt),
              last_used_at: r.lastUsedAt === null ? null : iso(r.lastUsedAt),
              revoked_at: r.revokedAt === null ? null : iso(r.revokedAt),
            })),
            null,
            2,
          )}\n`,
        );
      } else if (rows.length === 0) {
        ctx.stdout("no tokens\n");
      } else {
        const lines = rows.map(
          (r) =>
            `${r.id}  ${String(r.vmid).padEnd(9)}  ${iso(r.createdAt)}  ${iso(r.lastUsedAt).padEnd(24)}  ${r.revokedAt === null ? "active" : `revoked ${iso(r.revokedAt)}`}`,
        );
        ctx.stdout(
          `${["ID                   VMID       CREATED                   LAST USED                 STATE", ...lines].join("\n")}\n`,
        );
      }
      return EXIT_OK;
    }
    const target: string | number = vmid ?? (positionals[0] as string);
    const n = store.guestTokens.revoke(target);
    store.audit.append({
      actor: "operator",
      action: "token.revoke",
      target: typeof target === "number" ? `guest:${target}` : null,
      outcome: n > 0 ? "ok" : "none",
      details:
        typeof target === "number"
          ? { vmid: target, revoked: n }
          : { token_id: target, revoked: n },
    });
    if (n === 0) {
      return reportFailure(
        ctx,
        "token revoke",
        typeof target === "number"
          ? `guest ${target} has no active token`
          : `no active token ${target}`,
        "see 'felhom-agent token list'",
      );
    }
    ctx.stdout(`revoked ${n} token${n === 1 ? "" : "s"}\n`);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof StoreError) return reportFailure(ctx, `token ${sub}`, err.message);
    throw err;
  } finally {
    store.close();
  }
}
