import { existsSync } from "node:fs";
import {
  type HealthStatusStore,
  type HealthStatusView,
  healthStatus,
  healthText,
} from "../health/status-view.ts";
import {
  type SignerInForce,
  type StoredSigners,
  signersText,
  trustSummary,
} from "../hub/trust-summary.ts";
import type { AuditHead } from "../store/audit.ts";
import type { EnrolledSigner } from "../store/enrolled-signers.ts";
import { StoreError } from "../store/errors.ts";
import { loadProxmoxOptionalConfigOrReport } from "./command-config.ts";
import { type CliContext, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, renderHelp } from "./context.ts";
import { parseFlags } from "./flags.ts";
import {
  checkProxmoxPin,
  type PinCheck,
  type PresentedProbe,
  probePresented,
} from "./status-pin.ts";

const HELP = renderHelp({
  usage: ["felhom-agent [--config PATH] status [--json]"],
  body: `What this host is and trusts, read without changing anything (works while the daemon runs):
whether it is enrolled with a hub (host id, hub URL, identity file), the state database's
path, the audit log's head (seq and hash, what the hub compares with its copy) and how far the
hub has acknowledged it, and every operator signer in force with its SHA256 fingerprint, role
and source (config, enrollment, or rotation). When the Proxmox certificate is pinned, it also
checks that the endpoint still presents that certificate (a TLS handshake, nothing sent): a
changed one is a problem, "Proxmox certificate changed; run \`felhom-agent setup --repin\` as
root", and the daemon refuses to talk to Proxmox until then. A configuration without a
\`proxmox\` section is fine here: status then says Proxmox is not configured and checks no pin.

Host health, as the running daemon last collected it (docs/health.md): whether the daemon is
collecting, Proxmox reachability, the hub outbox, guests in the desired state, held
operations, backup targets, backups, disks (SMART), temperatures, the tunnel and the open
alerts. \`--json\` prints one object with the keys daemon, proxmox, hub, guests, pending,
storage, backups, disks, sensors, tunnel and alerts (an array), beside enrollment, store,
proxmox_certificate, signers and problems.

Options:
  --json      machine-readable output
  -h, --help  show this help`,
  examples: ["felhom-agent status --json"],
  exitCodes:
    "0 ok, 1 a problem was found (unreadable identity, unusable state database, the hub acknowledged audit rows the log no longer has, or the Proxmox certificate changed), 2 usage or configuration error",
});

/** The parts of the store `status` reads; tests inject one. */
export interface StatusStoreHandle extends HealthStatusStore {
  audit: { head(): AuditHead };
  /** The enrolled signer set (src/store/README.md#enrolled-signers); absent in older stubs. */
  enrolledSigners?: StoredSignersSource;
  /** Provisionings that stopped half way (src/store/README.md#bootstrap-codes); absent in older stubs. */
  bootstrapCodes?: { unfinished(): { vmid: number; step: string }[] };
  close(): void;
}

interface StoredSignersSource {
  list(): EnrolledSigner[];
  importedFrom(): string | undefined;
}

export interface StatusDeps {
  openStore?: (path: string) => Promise<StatusStoreHandle> | StatusStoreHandle;
  /** Reads the certificate the Proxmox endpoint presents; a TLS handshake by default. */
  presented?: PresentedProbe;
  now?: () => number;
}

interface StoreSummary {
  path: string;
  state: "ok" | "missing" | "error";
  error?: string;
  audit_head?: { seq: number; hash: string; delivered_seq: number; anchor_seq: number };
  /** Guests whose provisioning has not finished, with the step it reached. */
  unfinished_provisioning?: { vmid: number; step: string }[];
}

async function defaultOpen(path: string): Promise<StatusStoreHandle> {
  const { openStore } = await import("../store/open.ts");
  return openStore({ path, exclusive: false, mustExist: true });
}

/** `felhom-agent status`: see HELP. */
export async function runStatus(
  argv: string[],
  ctx: CliContext & { deps?: StatusDeps },
): Promise<number> {
  const { values } = parseFlags(argv, {
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  // A host whose config has no `proxmox` section yet (enrolled first, Proxmox set up later)
  // still has a status; the pin check is then skipped and says why.
  const cfg = await loadProxmoxOptionalConfigOrReport(ctx, "status");
  if (!cfg) return EXIT_USAGE;
  const { defaultStorePath } = await import("../store/open.ts");
  const {
    summary: store,
    stored,
    health,
  } = await readStore(defaultStorePath(cfg.state_dir), ctx.deps);
  const trust = await trustSummary(cfg, stored);
  const problems: string[] = [];
  const pin = await checkProxmoxPin(cfg.proxmox, ctx.deps?.presented ?? probePresented);
  if (pin.state === "changed") problems.push(pin.detail);
  if (trust.enrollment.state === "unreadable") problems.push(trust.enrollment.error ?? "");
  if (store.state === "error") problems.push(`state database: ${store.error}`);
  const head = store.audit_head;
  if (head && head.delivered_seq > head.seq) {
    problems.push(
      `the hub acknowledged audit rows up to ${head.delivered_seq} but the log ends at ${head.seq}; run: felhom-agent audit verify`,
    );
  }
  if (values.json) {
    ctx.stdout(
      `${JSON.stringify(
        {
          ...health,
          hub: {
            enrolled: trust.enrollment.state === "enrolled",
            ...(trust.enrollment.state === "enrolled" ? { hub_url: trust.enrollment.hub_url } : {}),
            ...health.hub,
            ...(store.audit_head
              ? { audit_undelivered: store.audit_head.seq - store.audit_head.delivered_seq }
              : {}),
          },
          enrollment: trust.enrollment,
          store,
          proxmox_certificate: pin,
          signers: trust.signers,
          problems,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    ctx.stdout(
      statusText(trust.enrollment, store, pin, trust.signers, problems) + healthText(health),
    );
  }
  return problems.length > 0 ? EXIT_FAILURE : EXIT_OK;
}

/** Present only when some provisioning has not finished, so a quiet host's output is unchanged. */
function unfinishedOf(handle: StatusStoreHandle): Pick<StoreSummary, "unfinished_provisioning"> {
  const list = (handle.bootstrapCodes?.unfinished() ?? []).map((r) => ({
    vmid: r.vmid,
    step: r.step,
  }));
  return list.length > 0 ? { unfinished_provisioning: list } : {};
}

async function readStore(
  path: string,
  deps: StatusDeps | undefined,
): Promise<{ summary: StoreSummary; stored?: StoredSigners; health: HealthStatusView }> {
  const now = deps?.now?.() ?? Date.now();
  const none = healthStatus(undefined, now);
  // Opening would create the directory; a host without state simply has none yet.
  if (deps?.openStore === undefined && !existsSync(path)) {
    return { summary: { path, state: "missing" }, health: none };
  }
  let handle: StatusStoreHandle;
  try {
    handle = await (deps?.openStore ?? defaultOpen)(path);
  } catch (err) {
    if (err instanceof StoreError) {
      return {
        summary:
          err.kind === "missing"
            ? { path, state: "missing" }
            : { path, state: "error", error: err.message },
        health: none,
      };
    }
    throw err;
  }
  try {
    const h = handle.audit.head();
    const signers = handle.enrolledSigners;
    return {
      health: healthStatus(handle, now),
      summary: {
        path,
        state: "ok",
        audit_head: {
          seq: h.seq,
          hash: h.hash,
          delivered_seq: h.deliveredSeq,
          anchor_seq: h.anchorSeq,
        },
        ...unfinishedOf(handle),
      },
      ...(signers
        ? { stored: { importedFrom: signers.importedFrom(), list: signers.list() } }
        : {}),
    };
  } catch (err) {
    if (err instanceof StoreError) {
      return { summary: { path, state: "error", error: err.message }, health: none };
    }
    throw err;
  } finally {
    handle.close();
  }
}

function statusText(
  enrollment: Awaited<ReturnType<typeof trustSummary>>["enrollment"],
  store: StoreSummary,
  pin: PinCheck,
  signers: readonly SignerInForce[],
  problems: readonly string[],
): string {
  const lines: string[] = [];
  if (enrollment.state === "enrolled") {
    lines.push(`enrolled: yes, host ${enrollment.host_id}, hub ${enrollment.hub_url}`);
  } else if (enrollment.state === "not_enrolled") {
    lines.push("enrolled: no (desired state comes from desired_file, if any)");
  } else {
    lines.push("enrolled: identity file present but unusable");
  }
  lines.push(`identity file: ${enrollment.identity_file}`);
  lines.push(`state database: ${store.path}${store.state === "ok" ? "" : ` (${store.state})`}`);
  if (store.audit_head) {
    const h = store.audit_head;
    lines.push(
      `audit head: seq ${h.seq}, hash ${h.hash}; acknowledged by the hub up to seq ${h.delivered_seq}` +
        (h.anchor_seq > 0 ? `; rows up to ${h.anchor_seq} pruned (the anchor)` : ""),
    );
  }
  if (pin.state !== "changed") lines.push(`proxmox certificate: ${pin.state}, ${pin.detail}`);
  const unfinished = store.unfinished_provisioning ?? [];
  if (unfinished.length > 0) {
    lines.push(
      `unfinished provisioning: ${unfinished.map((u) => `${u.vmid} (${u.step})`).join(", ")}; see 'felhom-agent guest provisioning'`,
    );
  }
  lines.push("operator signers in force (fingerprint, role, source, name):");
  let text = `${lines.join("\n")}\n${signersText(signers)}`;
  for (const p of problems) text += `problem: ${p}\n`;
  return text;
}
