import { ProxmoxApiError } from "../proxmox/api-error.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { NodeEntry, NodeStatus, PveVersion } from "../proxmox/schema-cluster.ts";
import type { LxcStatus } from "../proxmox/schema-guest.ts";
import type { NodeStorage } from "../proxmox/schema-storage.ts";
import { ProxmoxNetworkError, ProxmoxTlsError } from "../proxmox/transport-errors.ts";
import {
  evaluateBackupStorage,
  evaluatePrivileges,
  type PrivilegeVerdict,
} from "./required-privileges.ts";

export type CheckStatus = "ok" | "warn" | "fail";

export interface CheckResult {
  name: "api" | "nodes" | "node_status" | "guests" | "storage" | "privileges" | "backup_storage";
  status: CheckStatus;
  summary: string;
  /** Extra lines for the operator: what to do about a warn or fail. */
  hints: string[];
}

export interface HealthReport {
  endpoint: string;
  node: string;
  tokenId: string;
  checks: CheckResult[];
  /** True when no check failed (warnings allowed). */
  ok: boolean;
  /** False when the API could not be reached at all (TLS, network, 401). */
  reachable: boolean;
  version?: PveVersion;
  nodes?: NodeEntry[];
  nodeStatus?: NodeStatus;
  guests?: LxcStatus[];
  storage?: NodeStorage[];
  privileges?: PrivilegeVerdict;
  /** One verdict per storage that holds backups, on `/storage/<id>`. */
  backupStorage?: PrivilegeVerdict[];
}

export interface HealthInput {
  client: ProxmoxClient;
  endpoint: string;
  /** The pinned fingerprint, when trust is by fingerprint: compared with GET /nodes. */
  pinnedFingerprint?: string;
  signal?: AbortSignal;
  /** Called as each check finishes, for progress output. */
  onCheck?: (c: CheckResult) => void;
}

/**
 * The read-only health report behind `--selftest`: every call is a GET, so it can run on a
 * production host at any time. Each check stands alone; one failing (say a 403 on storage)
 * does not hide the others. Only an unreachable API stops the report early.
 */
export async function runHealthChecks(input: HealthInput): Promise<HealthReport> {
  const { client, signal } = input;
  const o = signal ? { signal } : {};
  const report: HealthReport = {
    endpoint: input.endpoint,
    node: client.node,
    tokenId: client.tokenId,
    checks: [],
    ok: true,
    reachable: true,
  };
  const add = (c: CheckResult) => {
    report.checks.push(c);
    if (c.status === "fail") report.ok = false;
    input.onCheck?.(c);
  };

  try {
    const v = await client.version(o);
    report.version = v;
    add({
      name: "api",
      status: "ok",
      summary: `Proxmox VE ${v.version} (release ${v.release})`,
      hints: [],
    });
  } catch (err) {
    report.reachable = false;
    add({ name: "api", status: "fail", summary: errorText(err), hints: reachHints(err) });
    return report;
  }

  await check(add, "nodes", async () => {
    const nodes = await client.nodes(o);
    report.nodes = nodes;
    const mine = nodes.find((n) => n.node === client.node);
    if (!mine) {
      return {
        status: "fail",
        summary: `node '${client.node}' not in GET /nodes (${nodes.map((n) => n.node).join(", ") || "none visible"})`,
        hints: ["set proxmox.node to the host's node name (`hostname` on the Proxmox host)"],
      };
    }
    const fp = mine.sslFingerprint;
    const hints: string[] = [];
    let status: CheckStatus = mine.status === "online" ? "ok" : "fail";
    if (
      input.pinnedFingerprint &&
      fp &&
      fp.toUpperCase() !== input.pinnedFingerprint.toUpperCase()
    ) {
      // The TLS pin matched the certificate we talked to, but PVE reports another one for the
      // node: a proxy in between, or pveproxy-ssl.pem replaced (docs/proxmox-behaviour.md#ssl-fingerprint).
      status = "warn";
      hints.push(`the pinned fingerprint differs from the node's ssl_fingerprint ${fp}`);
    }
    return {
      status,
      summary: `${nodes.length} node(s); ${mine.node} is ${mine.status}${fp ? `, ssl_fingerprint ${fp}` : ""}`,
      hints,
    };
  });

  await check(add, "node_status", async () => {
    const s = await client.nodeStatus(o);
    report.nodeStatus = s;
    const mem = s.memory
      ? `, memory ${gib(s.memory.usedBytes)}/${gib(s.memory.totalBytes)} GiB`
      : "";
    const cpu = s.cpuFraction !== undefined ? `cpu ${(s.cpuFraction * 100).toFixed(0)}%` : "cpu ?";
    const up = s.uptimeSec !== undefined ? `, up ${formatDuration(s.uptimeSec)}` : "";
    return {
      status: "ok",
      summary: `${cpu}${mem}${up}${s.pveversion ? `, ${s.pveversion}` : ""}`,
      hints: [],
    };
  });

  await check(add, "guests", async () => {
    const listed = await client.listLXC(o);
    const guests = [...listed].sort((a, b) => a.vmid - b.vmid);
    report.guests = guests;
    const running = guests.filter((g) => g.status === "running").length;
    const hints =
      guests.length === 0
        ? [
            "no containers visible: either none exist or the token lacks VM.Audit (lists are filtered silently, docs/proxmox-behaviour.md#api-tokens)",
          ]
        : [];
    // Unreadable items are kept out of the list or read without the field (src/proxmox/decode-list.ts).
    for (const p of listed.problems ?? []) {
      hints.push(
        `container ${p.vmid ?? `#${p.index + 1}`} ${p.outcome === "dropped" ? "could not be read and is not listed" : "listed without some fields"}: ${p.issues.join("; ")}`,
      );
    }
    return {
      status: guests.length === 0 || (listed.problems?.length ?? 0) > 0 ? "warn" : "ok",
      summary: `${guests.length} container(s), ${running} running`,
      hints,
    };
  });

  await check(add, "storage", async () => {
    const storage = await client.nodeStorage(o);
    report.storage = storage;
    const inactive = storage.filter((s) => s.active === false && s.enabled !== false);
    return {
      status: storage.length === 0 || inactive.length > 0 ? "warn" : "ok",
      summary: `${storage.length} storage(s)${inactive.length ? `, inactive: ${inactive.map((s) => s.storage).join(", ")}` : ""}`,
      hints:
        storage.length === 0
          ? ["no storage visible: the token may lack Datastore.Audit (lists are filtered silently)"]
          : [],
    };
  });

  await check(add, "privileges", async () => {
    const perms = await client.permissions({ ...o, path: "/" });
    const verdict = evaluatePrivileges(perms, client.tokenId);
    report.privileges = verdict;
    if (verdict.missing.length === 0) {
      return {
        status: "ok",
        summary: `all ${verdict.granted.length} required privileges on /`,
        hints: [],
      };
    }
    return {
      status: "fail",
      summary: `missing on /: ${verdict.missing.join(", ")}`,
      hints: [
        "a privilege-separated token gets the intersection of its own and its user's ACLs; grant the role to both:",
        ...verdict.fix,
      ],
    };
  });

  await check(add, "backup_storage", async () => {
    const stores = (report.storage ?? (await client.nodeStorage(o))).filter(
      (s) => s.content.includes("backup") && s.enabled !== false,
    );
    if (stores.length === 0) {
      return {
        status: "warn",
        summary: "no storage for backups visible",
        hints: ["backups need a storage with content 'backup' (and Datastore.Audit to see it)"],
      };
    }
    const verdicts: PrivilegeVerdict[] = [];
    for (const s of stores) {
      const path = `/storage/${s.storage}`;
      const perms = await client.permissions({ ...o, path });
      verdicts.push(evaluateBackupStorage(perms, client.tokenId, s.storage));
    }
    report.backupStorage = verdicts;
    const bad = verdicts.filter((v) => v.missing.length > 0);
    if (bad.length === 0) {
      return {
        status: "ok",
        summary: `backups can be written without pruning on ${stores.map((s) => s.storage).join(", ")}`,
        hints: [],
      };
    }
    return {
      status: "fail",
      summary: bad.map((v) => `missing on ${v.path}: ${v.missing.join(", ")}`).join("; "),
      hints: [
        "every backup passes prune-backups=keep-all=1 so that it never deletes older ones; that needs Datastore.Allocate on the storage:",
        ...bad.flatMap((v) => v.fix),
      ],
    };
  });

  return report;
}

type Outcome = Omit<CheckResult, "name">;

async function check(
  add: (c: CheckResult) => void,
  name: CheckResult["name"],
  fn: () => Promise<Outcome>,
): Promise<void> {
  try {
    add({ name, ...(await fn()) });
  } catch (err) {
    add({ name, status: "fail", summary: errorText(err), hints: [] });
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function reachHints(err: unknown): string[] {
  if (err instanceof ProxmoxTlsError && err.failure === "mismatch") {
    return [
      "compare with `pvenode cert info` on the host; if the certificate was renewed on purpose, run `felhom-agent setup --repin` as root (or update proxmox.tls.fingerprint)",
    ];
  }
  if (err instanceof ProxmoxApiError && err.kind === "unauthorized") {
    return [
      "check proxmox.token (USER@REALM!TOKENID=SECRET): the id, the secret, and that the token is not expired (`pveum user token list USER`)",
    ];
  }
  if (err instanceof ProxmoxNetworkError) {
    return ["check proxmox.endpoint (https://HOST:8006) and that pveproxy runs on the host"];
  }
  return [];
}

const gib = (bytes: number) => (bytes / 1024 ** 3).toFixed(1);

export function formatDuration(totalSec: number): string {
  const d = Math.floor(totalSec / 86400);
  const h = Math.floor((totalSec % 86400) / 3600);
  const m = Math.floor((totalSec % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m ${Math.floor(totalSec % 60)}s`;
}
