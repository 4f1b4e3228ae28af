import { existsSync, readFileSync, renameSync } from "node:fs";
import { z } from "zod";
import type { HubJobRecord } from "../store/hub-jobs.ts";
import { jobIdSchema, jobResultStateSchema } from "./protocol.ts";

/** The ledger file earlier builds kept beside the database, before the store had a table. */
export const HUB_JOB_LEDGER_FILE = "hub-jobs.json";

const entrySchema = z
  .strictObject({
    jobId: jobIdSchema,
    operationId: z.string().min(1).max(256).optional(),
    signed: z.boolean(),
    reported: z.array(jobResultStateSchema).max(2),
    terminal: z.boolean(),
    updatedAt: z.number().int(),
  })
  // The same rule the table's CHECK holds: terminal exactly when an outcome was queued.
  .refine((e) => e.terminal === e.reported.some((s) => s !== "pending_signature"), {
    message: "terminal does not match the states reported",
  });
const fileSchema = z.strictObject({ version: z.literal(1), jobs: z.array(entrySchema) });

export type LedgerImportResult =
  | { kind: "absent" }
  | { kind: "imported"; jobs: number; added: number; keptAt: string }
  | { kind: "invalid"; reason: string; keptAt: string };

export interface LedgerImportDeps {
  /** The store's `hubJobs.importRecords`: notes jobs not noted yet, in one transaction. */
  importRecords(records: readonly HubJobRecord[]): number;
  now: number;
}

/**
 * Moves the ledger file at `path` into the store, once. After a successful import the file is
 * renamed `<path>.imported`, so it is never read again; should the rename fail, the next start
 * imports it again, which changes nothing (jobs already in the table are kept as they are,
 * the table being newer). A file that cannot be read or does not fit the schema is renamed
 * `<path>.invalid-<time>` and reported, not fatal: a job the agent forgets is at worst
 * submitted again under the same job id, which the submitter treats as the same job.
 */
export function importJobLedgerFile(path: string, deps: LedgerImportDeps): LedgerImportResult {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return { kind: "absent" };
    return keepAside(path, deps.now, `unreadable: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return keepAside(path, deps.now, "not JSON");
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.map(String).join(".") || "(file)"}: ${issue.message}` : "";
    return keepAside(path, deps.now, `does not fit the ledger schema (${where})`);
  }
  const records = parsed.data.jobs.map(toRecord);
  let added: number;
  try {
    added = deps.importRecords(records);
  } catch (err) {
    return keepAside(path, deps.now, `refused by the store: ${(err as Error).message}`);
  }
  const keptAt = `${path}.imported`;
  renameSync(path, keptAt);
  return { kind: "imported", jobs: records.length, added, keptAt };
}

function keepAside(path: string, now: number, reason: string): LedgerImportResult {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, "-");
  let keptAt = `${path}.invalid-${stamp}`;
  for (let n = 2; existsSync(keptAt); n++) keptAt = `${path}.invalid-${stamp}-${n}`;
  renameSync(path, keptAt);
  return { kind: "invalid", reason, keptAt };
}

function toRecord(e: z.output<typeof entrySchema>): HubJobRecord {
  const out: HubJobRecord = {
    jobId: e.jobId,
    signed: e.signed,
    reported: e.reported,
    terminal: e.terminal,
    updatedAt: e.updatedAt,
  };
  if (e.operationId !== undefined) out.operationId = e.operationId;
  return out;
}
