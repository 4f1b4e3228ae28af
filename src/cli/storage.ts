import { type AgentConfig, secretsOf } from "../daemon/agent-config.ts";
import { createLogger } from "../log/logger.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import { createMountProbe, type MountProbe } from "../proxmox/mount-probe.ts";
import { parseDesiredText } from "../reconcile/desired-state.ts";
import { checkTargets, heldStorageAdds, type TargetStatus } from "../reconcile/storage-presence.ts";
import type { PendingOps } from "../store/pending.ts";
import type { PresenceRow } from "../store/storage-presence.ts";
import { loadConfigOrReport } from "./command-config.ts";
import {
  type CliContext,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  pickSubcommand,
  renderHelp,
} from "./context.ts";
import { openExistingStore } from "./existing-store.ts";
import { parseFlags } from "./flags.ts";
import { proxmoxClientFromConfig } from "./proxmox-from-config.ts";

const HELP = renderHelp({
  usage: ["felhom-agent [--config PATH] storage list [--json]"],
  body: `The host's backup targets as the daemon reports them to the hub, read without changing
anything (works while the daemon runs): every target of the desired state's storage_targets,
and the network or backup storages it does not name (managed: false, left alone). For each:
present (defined in Proxmox and, for a USB disk, attached and mounted at /mnt/felhom/<id>),
active (Proxmox can use it now), free space, since when it has been so, and what to do when it
is not usable.

Options:
  --json      an array of {id, kind, managed, present, active, avail_pct, since, reason}
  -h, --help  show this help

What it prints:
  ID    KIND  MANAGED  PRESENT  ACTIVE  AVAIL  SINCE                 REASON
  nas1  nfs   yes      yes      yes     81.2%  2026-01-05T10:00:00Z  -
  usb1  usb   yes      no       no      -      2026-01-06T08:12:40Z  USB disk 2f0c… not attached`,
  examples: ["felhom-agent storage list", "felhom-agent storage list --json"],
  exitCodes:
    "0 every managed target usable, 1 one is not (or Proxmox could not be read), 2 usage or configuration error",
});

/** The parts of the store `storage list` reads; tests inject one. */
export interface StorageStoreHandle {
  desired: { get(): { document: string } | undefined };
  storagePresence: { get(storage: string): PresenceRow | undefined };
  /** Held operations: a network target waiting for its signature is shown as such. */
  pending: Pick<PendingOps, "list">;
  close(): void;
}

export interface StorageCliDeps {
  client?: (cfg: AgentConfig) => Pick<ProxmoxClient, "nodeStorage" | "listStorage"> & {
    close?(): void;
  };
  openStore?: (stateDir: string) => Promise<StorageStoreHandle | undefined>;
  mounts?: MountProbe;
}

async function defaultOpen(stateDir: string): Promise<StorageStoreHandle | undefined> {
  try {
    return await openExistingStore(stateDir);
  } catch {
    return undefined;
  }
}

function table(rows: TargetStatus[]): string {
  const head = ["ID", "KIND", "MANAGED", "PRESENT", "ACTIVE", "AVAIL", "SINCE", "REASON"];
  const yes = (b: boolean) => (b ? "yes" : "no");
  const lines = rows.map((t) => [
    t.id,
    t.kind,
    yes(t.managed),
    yes(t.present),
    yes(t.active),
    t.avail_pct === null ? "-" : `${t.avail_pct}%`,
    t.since === null ? "-" : t.since.replace(/\.\d{3}Z$/, "Z"),
    t.reason ?? "-",
  ]);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...lines.map((l) => (l[i] as string).length)),
  );
  const fmt = (l: string[]) =>
    l
      .map((c, i) => (i === l.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return `${[head, ...lines].map(fmt).join("\n")}\n`;
}

/** `felhom-agent storage list`: see HELP. */
export async function runStorage(
  argv: string[],
  ctx: CliContext & { deps?: StorageCliDeps },
): Promise<number> {
  const { sub, rest } = pickSubcommand("storage", argv, ["list"]);
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
  const cfg = await loadConfigOrReport(ctx, "storage list");
  if (!cfg) return EXIT_USAGE;
  const deps = ctx.deps ?? {};
  const store = await (deps.openStore ?? defaultOpen)(cfg.state_dir);
  const client =
    deps.client?.(cfg) ??
    proxmoxClientFromConfig(cfg.proxmox, {
      logger: createLogger({
        level: "warn",
        sink: (line) => ctx.stderr(`${line}\n`),
        secrets: () => secretsOf(cfg),
      }),
    });
  try {
    const cached = store?.desired.get();
    const targets = cached ? parseDesiredText(cached.document, "cache").storageTargets : undefined;
    const rows = await checkTargets({
      client,
      mounts: deps.mounts ?? createMountProbe(),
      targets,
      // Read only: `since` from what the daemon recorded; a look from here records nothing.
      ...(store
        ? {
            presence: { get: (id: string) => store.storagePresence.get(id) },
            held: heldStorageAdds(store.pending),
          }
        : {}),
    });
    ctx.stdout(values.json ? `${JSON.stringify(rows, null, 2)}\n` : table(rows));
    if (!cached) ctx.stderr("note: no desired state received yet; every storage is unmanaged\n");
    return rows.every((t) => !t.managed || (t.present && t.active)) ? EXIT_OK : EXIT_FAILURE;
  } catch (err) {
    ctx.stderr(
      `felhom-agent: storage list: ${(err as Error).message}; check the proxmox section of the config and that pveproxy answers\n`,
    );
    return EXIT_FAILURE;
  } finally {
    client.close?.();
    store?.close();
  }
}
