import type { BackupTargetSource, GuestQuota, QuotaSource } from "../localapi/deps.ts";
import type { Logger } from "../log/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { DesiredCacheReader } from "../reconcile/desired-provider.ts";
import {
  type DesiredGuestSpec,
  type DesiredHostState,
  parseDesiredText,
} from "../reconcile/desired-state.ts";

/**
 * What the local API and the engine read from desired state, synchronously per request: the
 * quota a guest may grow to, where its backups go, and the spec a guest's own grow is recorded
 * against. Parsed once per persisted document. A storage for
 * backups that desired state does not name is the node's first enabled, active storage with
 * content `backup`, re-read by `refreshDefaultBackupStorage` (each pass).
 */
export class DesiredLookups implements QuotaSource, BackupTargetSource {
  private parsed: { key: string; stamp?: string; state: DesiredHostState | undefined } | undefined;
  private defaultBackup: string | undefined;

  constructor(
    private readonly cache: DesiredCacheReader,
    private readonly logger: Logger,
  ) {}

  quotaFor(vmid: number): GuestQuota | undefined {
    const spec = this.current()?.guests.get(vmid);
    if (spec === undefined) return undefined;
    if (spec.maxCores === undefined && spec.maxMemoryMiB === undefined) return undefined;
    return {
      ...(spec.maxCores !== undefined ? { maxCores: spec.maxCores } : {}),
      ...(spec.maxMemoryMiB !== undefined ? { maxMemoryMiB: spec.maxMemoryMiB } : {}),
    };
  }

  /** The guest's persisted desired spec: what a local-API grow is recorded against. */
  specFor(vmid: number): DesiredGuestSpec | undefined {
    return this.current()?.guests.get(vmid);
  }

  /** The persisted desired state as parsed, or undefined while there is none. */
  state(): DesiredHostState | undefined {
    return this.current();
  }

  backupStorageFor(vmid: number): string | undefined {
    const desired = this.current();
    return desired?.guests.get(vmid)?.backupStorage ?? desired?.backupStorage ?? this.defaultBackup;
  }

  async refreshDefaultBackupStorage(
    client: Pick<ProxmoxClient, "nodeStorage">,
    signal?: AbortSignal,
  ): Promise<void> {
    try {
      const stores = await client.nodeStorage({ content: "backup", ...(signal ? { signal } : {}) });
      const first = stores.find(
        (s) => s.content.includes("backup") && s.enabled !== false && s.active !== false,
      );
      this.defaultBackup = first?.storage;
    } catch (err) {
      // Keep the last known one: a Proxmox hiccup must not take backups away from guests.
      this.logger.warn("could not read the node's backup storages", {
        error: (err as Error).message,
      });
    }
  }

  private current(): DesiredHostState | undefined {
    // The stamp answers "may the document have changed?" without reading it, so a local-API
    // request costs no read of the whole document (docs/architecture.md#local-api-request-path).
    const stamp = this.cache.stamp?.();
    if (stamp !== undefined && this.parsed?.stamp === stamp) return this.parsed.state;
    const row = this.cache.get();
    if (row === undefined) {
      this.parsed = stamp === undefined ? undefined : { key: "", stamp, state: undefined };
      return undefined;
    }
    // Without a stamp, the row's own fields stand in for one.
    const key = `${row.receivedAt}:${row.document.length}:${row.etag ?? ""}`;
    if (stamp === undefined && this.parsed?.key === key) return this.parsed.state;
    let state: DesiredHostState | undefined;
    try {
      state = parseDesiredText(row.document, "cache");
    } catch (err) {
      this.logger.warn("the persisted desired state is unreadable; no quotas apply", {
        error: (err as Error).message,
      });
      state = undefined;
    }
    this.parsed = { key, state, ...(stamp !== undefined ? { stamp } : {}) };
    return state;
  }
}
