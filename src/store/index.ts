export {
  AUDIT_GENESIS_HASH,
  type AuditInput,
  AuditLog,
  type AuditRow,
  auditHash,
  type ChainVerdict,
} from "./audit.ts";
export { type CachedDesiredState, DesiredCache, type DesiredInput } from "./desired-cache.ts";
export { StoreError, type StoreErrorKind } from "./errors.ts";
export {
  type GuestOverride,
  GuestOverrides,
  OVERRIDE_FIELDS,
  type OverrideField,
  type OverrideInput,
} from "./guest-overrides.ts";
export {
  type GuestTokenInfo,
  GuestTokens,
  type MintedToken,
  type ResolvedToken,
} from "./guest-tokens.ts";
export {
  HUB_JOBS_KEEP_TERMINAL,
  type HubJobRecord,
  type HubJobState,
  HubJobs,
} from "./hub-jobs.ts";
export {
  type InFlightPhase,
  type IntentInput,
  Journal,
  type JournalEntry,
  type JournalPhase,
  RECOVERY_ACTION,
  type RecoveryAction,
  type TerminalDetail,
  type TerminalPhase,
} from "./journal.ts";
export { MIGRATIONS, type Migration, SCHEMA_VERSION } from "./migrations.ts";
export { Nonces } from "./nonces.ts";
export { defaultStorePath, type OpenStoreOptions, openStore, STORE_FILE_NAME } from "./open.ts";
export {
  OUTBOX_PROTECTED_KINDS,
  OUTBOX_TELEMETRY_KIND,
  Outbox,
  type OutboxItem,
  type OutboxOptions,
} from "./outbox.ts";
export { type HoldInput, type PendingOp, PendingOps, type PendingStatus } from "./pending.ts";
export type { SignedIntentInput, SignedIntentResult } from "./signed-intent.ts";
export { Store, type StoreInfo } from "./store.ts";
export { ORIGINS, type Origin } from "./validate.ts";
