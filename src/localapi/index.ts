export { createLocalApiApp, type LocalApiApp, OPENAPI_PATH } from "./app.ts";
export {
  ensureLocalApiCertificate,
  LOCAL_API_TLS_FILE,
  LocalApiCertError,
  type LocalApiCertificate,
} from "./certificate.ts";
export { type LocalApiConfig, localApiSection } from "./config-section.ts";
export type {
  AuditSink,
  BackupTargetSource,
  GuestQuota,
  GuestTokenResolver,
  LocalApiDeps,
  LocalApiLimits,
  QuotaSource,
} from "./deps.ts";
export { type FieldError, LocalApiError } from "./errors.ts";
export { checkListenAddress, ListenAddressError } from "./listen-address.ts";
export { buildOpenApiDocument } from "./openapi.ts";
export { GUEST_ROUTES, type RouteSpec } from "./route-table.ts";
export { type LocalApiServer, type LocalApiServerOptions, startLocalApiServer } from "./server.ts";
export {
  LocalApiStartError,
  resolveListenAddress,
  type StartedLocalApi,
  startLocalApi,
} from "./start.ts";
