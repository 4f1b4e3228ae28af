import { z } from "zod";
import { defineSection } from "../config/section.ts";

/** `backup`: the scheduler and the agent's own floor under any policy (docs/reconcile.md#backup-retention-floor). */
export interface BackupConfig {
  /** Never prune the newest N good backups of a guest on a tier. */
  floor_keep_newest: number;
  /** Never prune a backup younger than this many days. */
  floor_min_age_days: number;
  /** A caught-up backup starts within this many seconds of the agent's start; 0 allowed. */
  catchup_jitter_s: number;
  /** Scheduled backups running at once across the host. */
  concurrency: number;
  /** Seconds between scheduler ticks. */
  tick_s: number;
  /** A failed scheduled backup is tried again no sooner than this. */
  retry_after_s: number;
  /** The guest list is read again after this long even when nothing is due. */
  guest_list_max_age_s: number;
}

const schema = z
  .strictObject({
    floor_keep_newest: z.number().int().min(1).max(1000).default(3),
    floor_min_age_days: z.number().int().min(0).max(3650).default(7),
    catchup_jitter_s: z.number().int().min(0).max(86_400).default(300),
    concurrency: z.number().int().min(1).max(16).default(1),
    tick_s: z.number().int().min(1).max(3600).default(30),
    retry_after_s: z.number().int().min(60).max(86_400).default(3600),
    guest_list_max_age_s: z.number().int().min(30).max(86_400).default(900),
  })
  .prefault({});

const B = ["backup"] as const;

export const backupSection = defineSection({
  key: "backup",
  schema,
  env: [
    { path: [...B, "floor_keep_newest"], kind: "int" },
    { path: [...B, "floor_min_age_days"], kind: "int" },
    { path: [...B, "catchup_jitter_s"], kind: "int" },
    { path: [...B, "concurrency"], kind: "int" },
    { path: [...B, "tick_s"], kind: "int" },
    { path: [...B, "retry_after_s"], kind: "int" },
    { path: [...B, "guest_list_max_age_s"], kind: "int" },
  ],
  resolve: (raw: z.output<typeof schema>): BackupConfig => ({ ...raw }),
  redact: (c: BackupConfig) => ({ ...c }),
  secrets: () => [],
});
