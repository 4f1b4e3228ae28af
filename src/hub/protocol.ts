import { z } from "zod";
import { hostIdSchema } from "../authz/host-id.ts";
import { ALERT_KINDS } from "../health/types.ts";
import { OP_NAMES } from "../ops/types.ts";
import { desiredStateSchema } from "./desired-schema.ts";

/**
 * The agent ↔ hub protocol, version 1. The hub is a separate project: these schemas are the
 * contract, exported as docs/hub-protocol.json by scripts/gen-hub-contract.ts and described in
 * docs/hub-protocol.md. Every byte from the hub is parsed with them before it is used.
 * Changing a schema changes the contract: regenerate the file and bump the version when an
 * older peer would misread the new form.
 */
export const HUB_PROTOCOL_VERSION = 1;

/** Paths below the hub's base URL. `{host}` is the host id issued at enrollment. */
export const HUB_PATHS = {
  enroll: "/v1/enroll",
  desired: "/v1/hosts/{host}/desired",
  jobs: "/v1/hosts/{host}/jobs",
  reports: "/v1/hosts/{host}/reports",
  jobResults: "/v1/hosts/{host}/job-results",
  /** The agent build an `agent.update` names; `{version}` and `{target}` filled by the caller. */
  artifact: "/v1/hosts/{host}/artifacts/{version}/{target}",
} as const;

export function hostPath(template: string, hostId: string): string {
  return template.replace("{host}", encodeURIComponent(hostId));
}

const base64Bytes = (n: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, "standard base64")
    .refine((s) => Buffer.from(s, "base64").length === n, `must decode to ${n} bytes`);

export const signerRoleSchema = z.enum(["operational", "recovery"]);

/** An operator signer (docs/architecture.md#signed-operations): an `ssh-ed25519 AAAA… [comment]` line and its role. */
export const signerSchema = z.strictObject({
  name: z.string().min(1).max(128),
  public_key: z.string().regex(/^ssh-ed25519 [A-Za-z0-9+/]+={0,2}( .*)?$/, "ssh-ed25519 key line"),
  role: signerRoleSchema,
  /** RFC 3339; the signer is refused after it. */
  expires_at: z.iso.datetime({ offset: true }).optional(),
});

export const enrollRequestSchema = z.strictObject({
  protocol: z.literal(HUB_PROTOCOL_VERSION),
  /** The one-time retrieval code shown by the hub. */
  code: z.string().min(6).max(128),
  /** The agent's own ed25519 host public key, 32 raw bytes in base64. Only the public half. */
  host_public_key: base64Bytes(32),
  agent_version: z.string().min(1).max(64),
  hostname: z.string().max(253).optional(),
});

export const enrollResponseSchema = z.strictObject({
  protocol: z.literal(HUB_PROTOCOL_VERSION),
  host_id: hostIdSchema,
  /** Bearer credential for every later request. Secret. */
  credential: z.string().min(32).max(512),
  signers: z.array(signerSchema).max(64),
});

/** Error body of any non-2xx answer. `code` is machine-readable, `message` for humans. */
export const hubErrorSchema = z.strictObject({
  error: z.strictObject({
    code: z.enum([
      "code_unknown",
      "code_used",
      "code_expired",
      "bad_request",
      "unauthorized",
      "bad_signature",
      "replay",
      "clock_skew",
      "not_found",
      "audit_chain_broken",
      "unavailable",
    ]),
    message: z.string().max(1024),
  }),
});

export const hubDesiredSchema = desiredStateSchema;

export const signedEnvelopeSchema = z.strictObject({
  /** base64 of the exact JSON payload bytes that were signed. */
  payload: z.string().min(1).max(65_536),
  /** Armored SSHSIG, namespace felhom.op/v1 (docs/architecture.md#signed-operations). */
  signature: z.string().min(1).max(8192),
});

export const jobIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, "job id");

/**
 * One operator job. Destructive jobs carry the operator's signed envelope; without it they are
 * held as pending_signature and the hub serves the job again, envelope added, once signed.
 */
export const hubJobSchema = z.strictObject({
  id: jobIdSchema,
  op: z.enum(OP_NAMES),
  vmid: z.number().int().min(100).max(999_999_999).optional(),
  params: z.record(z.string(), z.unknown()),
  envelope: signedEnvelopeSchema.optional(),
  created_at: z.iso.datetime({ offset: true }),
});

/** The job list is parsed in two steps so one bad job does not hide the others. */
export const hubJobListSchema = z.strictObject({
  jobs: z.array(z.unknown()).max(1000),
});

export const jobResultStateSchema = z.enum(["ok", "failed", "pending_signature", "rejected"]);

/**
 * A job outcome. `pending_signature` is interim: the job stays open, and a later result for the
 * same job (after the signed envelope arrives) is terminal. The hub records each
 * (job_id, state) pair once and answers duplicates with 200, so re-delivery is harmless.
 */
export const jobResultSchema = z.strictObject({
  job_id: jobIdSchema,
  state: jobResultStateSchema,
  /** For failed: a short cause; for rejected: the typed reason (e.g. `bad_signature`). */
  reason: z.string().max(1024).optional(),
  operation_id: z.string().max(128).optional(),
  upid: z.string().max(256).optional(),
  result: z.record(z.string(), z.unknown()).optional(),
  at: z.iso.datetime({ offset: true }),
});

export const jobResultBatchSchema = z.strictObject({
  results: z.array(jobResultSchema).min(1).max(100),
});

export const ackSchema = z.strictObject({ ok: z.literal(true) });

const storageReportSchema = z.strictObject({
  id: z.string(),
  type: z.string(),
  /** Reachable and mounted now (PVE `active`). */
  active: z.boolean(),
  enabled: z.boolean(),
  used_bytes: z.number().nonnegative().optional(),
  total_bytes: z.number().nonnegative().optional(),
  avail_bytes: z.number().nonnegative().optional(),
});

const guestReportSchema = z.strictObject({
  vmid: z.number().int(),
  name: z.string().optional(),
  status: z.string(),
  cores: z.number().optional(),
  memory_mib: z.number().optional(),
  disk_bytes: z.number().optional(),
  max_disk_bytes: z.number().optional(),
});

/**
 * One backup target as the agent sees it (docs/desired-state.md#storage-targets): the
 * manifest's targets, and network or backup storages it does not name (`managed: false`).
 * Never a secret: a PBS key appears only as its fingerprint, in the storage.add job's result.
 */
export const storageTargetReportSchema = z.strictObject({
  id: z.string(),
  kind: z.enum(["usb", "nfs", "cifs", "pbs", "other"]),
  managed: z.boolean(),
  present: z.boolean(),
  active: z.boolean(),
  /** Free space in percent of the total; null while the target is inactive. */
  avail_pct: z.number().min(0).max(100).nullable(),
  /** When present/active last changed; null for an unmanaged storage. */
  since: z.iso.datetime({ offset: true }).nullable(),
  /** What to do about it ("USB disk <uuid> not attached"); null when it is usable. */
  reason: z.string().nullable(),
});

/** One open host-health alert (docs/health.md#alerts). */
export const alertReportSchema = z.strictObject({
  kind: z.enum(ALERT_KINDS),
  severity: z.enum(["warning", "critical"]),
  /** `disk:/dev/sda`, `sensor:<chip>/<feature>`, `storage:<id>`, `guest:<vmid>`, `tunnel:cloudflared`. */
  subject: z.string().min(1).max(256),
  since: z.iso.datetime({ offset: true }),
  detail: z.string().max(512),
});

/** One periodic status snapshot (telemetry; the oldest are dropped first when the outbox is full). */
export const statusReportSchema = z.strictObject({
  /** Agent-assigned, increasing; the hub ignores a seq it has already recorded. */
  seq: z.number().int().positive(),
  at: z.iso.datetime({ offset: true }),
  agent: z.strictObject({ version: z.string() }),
  host: z.strictObject({
    node: z.string(),
    reachable: z.boolean(),
    error: z.string().optional(),
    uptime_s: z.number().optional(),
    cpu: z.number().optional(),
    memory_used_bytes: z.number().optional(),
    memory_total_bytes: z.number().optional(),
    pve_version: z.string().optional(),
  }),
  storage: z.array(storageReportSchema),
  guests: z.array(guestReportSchema),
  reconcile: z.strictObject({
    last_pass_at: z.iso.datetime({ offset: true }).optional(),
    last_pass_ok: z.boolean().optional(),
    failures: z.number().int().nonnegative(),
    last_error: z.string().optional(),
  }),
  pending_signatures: z.array(
    z.strictObject({
      id: z.string(),
      op: z.string(),
      vmid: z.number().int().optional(),
      job_id: z.string().optional(),
      since: z.iso.datetime({ offset: true }).optional(),
    }),
  ),
  /**
   * The head of the agent's audit log when the report was made: the hub compares it with the
   * rows it received, so a log rewritten after delivery shows (docs/hub-protocol.md#the-hub-is-the-audit-logs-anchor).
   * Optional: reports from agents before this field have none.
   */
  audit_head: z
    .strictObject({
      seq: z.number().int().nonnegative(),
      hash: z.string().regex(/^[0-9a-f]{64}$/),
    })
    .optional(),
  /**
   * A guest's own grows through the local API that the reconciler keeps while the desired
   * state still says what it said when the guest grew (docs/desired-state.md). Optional:
   * reports from agents before this field have none.
   */
  /**
   * Every operator signer the gate accepts when the report was made, so the hub sees a key
   * rotation take effect (docs/hub-protocol.md#signers-in-force). Optional: reports from agents
   * before this field have none.
   */
  signers: z
    .array(
      z.strictObject({
        name: z.string(),
        /** `SHA256:…`, as `ssh-keygen -l` prints it. */
        fingerprint: z.string(),
        role: signerRoleSchema,
        source: z.enum(["config", "enrollment", "rotation"]),
        expires_at: z.iso.datetime({ offset: true }).optional(),
      }),
    )
    .optional(),
  guest_overrides: z
    .array(
      z.strictObject({
        vmid: z.number().int(),
        field: z.enum(["cores", "memory_mib"]),
        value: z.number().int().positive(),
        /** What the desired state said for the field when the guest grew it; null = unmanaged. */
        desired_value: z.number().int().positive().nullable(),
        since: z.iso.datetime({ offset: true }),
      }),
    )
    .optional(),
  /**
   * The backup targets, checked against Proxmox every report (docs/desired-state.md#storage-targets).
   * Optional: reports from agents before this field have none.
   */
  storage_targets: z.array(storageTargetReportSchema).optional(),
  /**
   * Per guest per tier of the backup policy in force: the newest good backup and its age,
   * count, bytes, the last failure, and `overdue` (no good backup for more than twice the
   * tier's period) (docs/reconcile.md#backup-schedule). Optional: absent without a policy.
   */
  backups: z
    .array(
      z.strictObject({
        vmid: z.number().int(),
        storage: z.string(),
        last_good_at: z.iso.datetime({ offset: true }).nullable(),
        age_s: z.number().int().nonnegative().nullable(),
        count: z.number().int().nonnegative(),
        bytes: z.number().int().nonnegative(),
        last_failure: z
          .strictObject({ at: z.iso.datetime({ offset: true }), reason: z.string() })
          .nullable(),
        /**
         * The guest was found stopped and unchanged since that backup at this time, so it was
         * not backed up again (docs/reconcile.md#stopped-and-unchanged-guests). Optional:
         * absent from agents before it.
         */
        unchanged_at: z.iso.datetime({ offset: true }).nullable().optional(),
        overdue: z.boolean(),
      }),
    )
    .optional(),
  /**
   * The host-health alerts open when the report was made (docs/health.md#alerts); an alert that
   * opened or closed in between also wrote an audit row. Optional: reports from agents before
   * this field have none.
   */
  alerts: z.array(alertReportSchema).max(500).optional(),
  /**
   * Guests whose provisioning has not finished, with the step its bootstrap code reached
   * (docs/hub-protocol.md#unfinished-provisioning). Never a code. Optional: reports from agents
   * before this field have none.
   */
  provisioning: z
    .array(
      z.strictObject({
        vmid: z.number().int(),
        guest_uid: z.string(),
        step: z.enum(["issued", "env_set", "started", "redeemed", "expired", "revoked"]),
        since: z.iso.datetime({ offset: true }),
        expires_at: z.iso.datetime({ offset: true }),
      }),
    )
    .optional(),
});

/** A row of the hash-chained audit log (docs/architecture.md#everything-is-audited); never dropped, delivered in order. */
export const auditRowSchema = z.strictObject({
  seq: z.number().int().positive(),
  /** Milliseconds since the epoch, as hashed. */
  ts: z.number().int().nonnegative(),
  actor: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  outcome: z.string(),
  /** Canonical JSON text exactly as hashed, so the hub can verify the chain byte for byte. */
  details: z.string(),
  prev_hash: z.string().regex(/^[0-9a-f]{64}$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});

export const reportBatchSchema = z.strictObject({
  reports: z.array(statusReportSchema).max(100),
  /** Contiguous, ascending by seq, starting after the last row the hub acknowledged. */
  audit: z.array(auditRowSchema).max(1000),
});

export type EnrollRequest = z.output<typeof enrollRequestSchema>;
export type EnrollResponse = z.output<typeof enrollResponseSchema>;
/** A signer as the hub sends it (key as text); authz/signers.ts `Signer` is the parsed, verifying form. */
export type WireSigner = z.output<typeof signerSchema>;
export type HubJob = z.output<typeof hubJobSchema>;
export type JobResult = z.output<typeof jobResultSchema>;
export type JobResultState = z.output<typeof jobResultStateSchema>;
export type StatusReport = z.output<typeof statusReportSchema>;
/** An audit row on the wire (snake_case); store/audit.ts `AuditRow` is the row itself. */
export type WireAuditRow = z.output<typeof auditRowSchema>;
export type ReportBatch = z.output<typeof reportBatchSchema>;
export type HubErrorBody = z.output<typeof hubErrorSchema>;
