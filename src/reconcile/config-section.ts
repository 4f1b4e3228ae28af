import { z } from "zod";
import { defineSection, type ResolveContext } from "../config/section.ts";

/** `desired_file`: an operator-maintained desired-state document (docs/desired-state.md). */
export const desiredFileSection = defineSection({
  key: "desired_file",
  schema: z.string().optional(),
  env: [{ path: ["desired_file"], kind: "string" }],
  resolve: (raw: string | undefined, ctx: ResolveContext): string | undefined => {
    if (raw === undefined) return undefined;
    if (!raw.startsWith("/") || raw.includes("\0")) {
      ctx.fail(["desired_file"], "must be an absolute path");
    }
    return raw;
  },
  redact: (c: string | undefined) => c,
  secrets: () => [],
});

export interface ReconcileConfig {
  /** Seconds between passes (plus jitter); a desired-state change starts a pass at once. */
  interval_s: number;
  /** Random spread of each wait, in percent of the interval. */
  jitter_pct: number;
  /** Mutations in flight at once across guests (one per guest at a time regardless). */
  concurrency: number;
  /** Parallel config reads while gathering actual state. */
  read_concurrency: number;
  /** Attempts of one failing action before the reconciler gives up until desired changes. */
  max_attempts: number;
  /** Longest wait for one Proxmox task; the task keeps running and is re-read after it. */
  task_timeout_s: number;
  /**
   * How long a mutation whose answer was lost stays unknown: the task list is searched over
   * this window from the intent before the request counts as never arrived (docs/reconcile.md).
   */
  unknown_window_s: number;
  /** A task waited on longer than this gives up its global concurrency slot and is reported. */
  hung_task_s: number;
  /** Quick, jittered re-sends of a request refused with a transient 5xx before backing off. */
  post_retries: number;
}

const schema = z
  .strictObject({
    interval_s: z.number().int().min(1).max(86_400).default(30),
    jitter_pct: z.number().int().min(0).max(100).default(20),
    concurrency: z.number().int().min(1).max(64).default(4),
    read_concurrency: z.number().int().min(1).max(64).default(8),
    max_attempts: z.number().int().min(1).max(100).default(5),
    task_timeout_s: z.number().int().min(10).max(86_400).default(900),
    unknown_window_s: z.number().int().min(1).max(3600).default(60),
    hung_task_s: z.number().int().min(1).max(86_400).default(90),
    post_retries: z.number().int().min(0).max(10).default(3),
  })
  .prefault({});

const R = ["reconcile"] as const;

export const reconcileSection = defineSection({
  key: "reconcile",
  schema,
  env: [
    { path: [...R, "interval_s"], kind: "int" },
    { path: [...R, "jitter_pct"], kind: "int" },
    { path: [...R, "concurrency"], kind: "int" },
    { path: [...R, "read_concurrency"], kind: "int" },
    { path: [...R, "max_attempts"], kind: "int" },
    { path: [...R, "task_timeout_s"], kind: "int" },
    { path: [...R, "unknown_window_s"], kind: "int" },
    { path: [...R, "hung_task_s"], kind: "int" },
    { path: [...R, "post_retries"], kind: "int" },
  ],
  resolve: (raw: z.output<typeof schema>): ReconcileConfig => ({ ...raw }),
  redact: (c: ReconcileConfig) => ({ ...c }),
  secrets: () => [],
});
