import type { Logger } from "../log/types.ts";
import type { OperationSubmitter } from "../ops/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { AuditSink } from "../store/audit.ts";
import type { Clock } from "../util/clock.ts";
import type { BootstrapRedeemer } from "./bootstrap.ts";
import type { RequestCounts } from "./request-counts.ts";

/** The guest a bearer token stands for; the store's GuestTokens satisfies this. */
/**
 * Resolves a bearer token to its guest; null for an unknown or revoked token, and for one whose
 * guest is gone (its identity retired by a destroy or a restore over it): that answers 401.
 */
export interface GuestTokenResolver {
  resolve(token: string): { id: string; vmid: number; guestUid?: string } | null;
}

/** Per-guest ceilings from the desired state (`max_cores`, `max_memory_mib`). */
export interface GuestQuota {
  maxCores?: number;
  maxMemoryMiB?: number;
}

export interface QuotaSource {
  /** undefined: no quota known for the guest, so it may not grow at all. */
  quotaFor(vmid: number): GuestQuota | undefined;
}

/** The backup tier the desired state assigns to a guest. */
export interface BackupTargetSource {
  /** PVE storage id backups of this guest go to; undefined when none is configured. */
  backupStorageFor(vmid: number): string | undefined;
}

/** The store's AuditLog plugs in unchanged. */
export type { AuditSink };

export interface LocalApiLimits {
  bodyLimitBytes: number;
  rateLimit: { perMinute: number; burst: number };
  readCacheMs: number;
}

export const defaultLocalApiLimits: LocalApiLimits = {
  bodyLimitBytes: 16_384,
  rateLimit: { perMinute: 120, burst: 30 },
  readCacheMs: 2000,
};

export interface LocalApiDeps {
  tokens: GuestTokenResolver;
  submitter: OperationSubmitter;
  /** Reads only; every mutation goes through `submitter`. */
  proxmox: ProxmoxClient;
  quotas: QuotaSource;
  backups: BackupTargetSource;
  audit?: AuditSink;
  clock: Clock;
  logger?: Logger;
  limits?: Partial<LocalApiLimits>;
  /**
   * Origins a browser may call from (`https://host:port` of the API itself). Any other
   * `Origin` is refused (a page on the LAN must not drive a guest's token through a browser).
   */
  allowedOrigins?: readonly string[];
  /** Trades bootstrap codes (`POST /v1/bootstrap`); without it the route answers 404. */
  bootstrap?: BootstrapRedeemer;
  /** Counts answers by route and status for `/metrics`; absent = not counted. */
  requestCounts?: RequestCounts;
  /** Agent version, for the OpenAPI document. */
  version?: string;
}
