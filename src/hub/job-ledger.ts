import { readFile } from "node:fs/promises";
import { z } from "zod";
import { writeFileAtomic } from "./atomic-file.ts";
import { type JobResultState, jobIdSchema, jobResultStateSchema } from "./protocol.ts";

/**
 * What the agent remembers about each hub job, so that a job is submitted once and each of its
 * results is queued for delivery once, across restarts. The result itself travels through the
 * store's outbox (kind `job_result`, never dropped); the hub records each (job, state) once, so
 * a crash between queueing and noting it here costs a duplicate the hub ignores, never a loss.
 */
export interface JobLedgerEntry {
  jobId: string;
  /** Set once the submitter has accepted the request. */
  operationId?: string;
  /** The submission carried the operator's signed envelope. */
  signed: boolean;
  /** Result states already queued for delivery, in order. */
  reported: JobResultState[];
  /** ok, failed or rejected was queued: nothing more will happen for this job. */
  terminal: boolean;
  updatedAt: number;
}

export interface JobLedger {
  get(jobId: string): JobLedgerEntry | undefined;
  put(entry: JobLedgerEntry): Promise<void>;
  /** Entries still waiting for an outcome, oldest first. */
  open(): JobLedgerEntry[];
}

const entrySchema = z.strictObject({
  jobId: jobIdSchema,
  operationId: z.string().optional(),
  signed: z.boolean(),
  reported: z.array(jobResultStateSchema),
  terminal: z.boolean(),
  updatedAt: z.number(),
});
const fileSchema = z.strictObject({ version: z.literal(1), jobs: z.array(entrySchema) });

// Finished jobs are kept so a hub that serves one again (before it saw the result) is not re-run.
const KEEP_TERMINAL = 2000;

export function memoryJobLedger(): JobLedger {
  const map = new Map<string, JobLedgerEntry>();
  return {
    get: (id) => {
      const e = map.get(id);
      return e && { ...e, reported: [...e.reported] };
    },
    put: async (e) => {
      map.delete(e.jobId);
      map.set(e.jobId, { ...e, reported: [...e.reported] });
    },
    open: () =>
      [...map.values()]
        .filter((e) => !e.terminal)
        .map((e) => ({ ...e, reported: [...e.reported] })),
  };
}

/** A JSON file in the state dir (0600, atomic rewrite), until the store grows a table for it. */
export async function fileJobLedger(path: string): Promise<JobLedger> {
  const map = new Map<string, JobLedgerEntry>();
  let text: string | undefined;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as { code?: string }).code !== "ENOENT") throw err;
  }
  if (text !== undefined) {
    const parsed = fileSchema.safeParse(safeJson(text));
    if (!parsed.success) {
      // Forgetting jobs could run one twice; refuse to start rather than guess.
      throw new Error(
        `job ledger ${path} is not valid; move it aside only after checking the hub's job list`,
      );
    }
    for (const e of parsed.data.jobs) map.set(e.jobId, stripUndefined(e));
  }
  const mem = memoryJobLedger();
  for (const e of map.values()) await mem.put(e);
  let writing = Promise.resolve();
  return {
    get: mem.get,
    open: mem.open,
    async put(e) {
      await mem.put(e);
      map.delete(e.jobId);
      map.set(e.jobId, { ...e });
      const terminal = [...map.values()].filter((x) => x.terminal);
      for (const old of terminal.slice(0, Math.max(0, terminal.length - KEEP_TERMINAL)))
        map.delete(old.jobId);
      const body = `${JSON.stringify({ version: 1, jobs: [...map.values()] })}\n`;
      // Serialised, so an older snapshot never lands after a newer one.
      writing = writing.catch(() => {}).then(() => writeFileAtomic(path, body, { mode: 0o600 }));
      await writing;
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function stripUndefined(e: z.output<typeof entrySchema>): JobLedgerEntry {
  const out: JobLedgerEntry = {
    jobId: e.jobId,
    signed: e.signed,
    reported: e.reported,
    terminal: e.terminal,
    updatedAt: e.updatedAt,
  };
  if (e.operationId !== undefined) out.operationId = e.operationId;
  return out;
}
