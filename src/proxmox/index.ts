export type { RetryPolicy } from "../util/backoff.ts";
export { type ApiErrorKind, PROXY_STATUS_MEANING, ProxmoxApiError } from "./api-error.ts";
export { type ApiToken, ApiTokenFormatError, parseApiToken } from "./api-token.ts";
export { createProxmoxClient } from "./client.ts";
export * from "./client-types.ts";
export {
  type ClockOffsetEstimate,
  type ClockOffsetTracker,
  createClockOffsetTracker,
} from "./clock-offset.ts";
export type { DecodedList, ListItemProblem } from "./decode-list.ts";
export { normalizeDescription } from "./description.ts";
export * from "./failure-reason.ts";
export type * from "./schema-cluster.ts";
export type * from "./schema-disks.ts";
export type * from "./schema-guest.ts";
export type * from "./schema-storage.ts";
export {
  isTaskSuccess,
  type TaskLogLine,
  type TaskStatus,
  type TaskSummary,
} from "./schema-task.ts";
export { TaskError, TaskTimeoutError, TaskWaitAbortedError } from "./task-error.ts";
export { normalizeTrust, type TlsTrust } from "./tls-trust.ts";
export { classifyTransient, type ProxmoxReach, type TransientVerdict } from "./transient.ts";
export * from "./transport-errors.ts";
