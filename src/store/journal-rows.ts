import { z } from "zod";
import { ORIGINS } from "./validate.ts";

/**
 * A journal row as SQLite returns it, checked before anyone acts on it: STRICT tables and CHECK
 * constraints keep the column types, but nothing in SQLite checks the JSON text in `params`,
 * `error` and `provenance`, and a file edited or damaged outside the agent passes
 * `integrity_check` with bad JSON in it (src/store/README.md#quarantine).
 */
const jsonText = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: "custom", message: "is not valid JSON" });
    return z.NEVER;
  }
});

export const journalRowSchema = z.object({
  id: z.number().int().positive(),
  vmid: z.number().int().nullable(),
  op: z.string().min(1),
  params: jsonText,
  origin: z.enum(ORIGINS as [string, ...string[]]),
  job_id: z.string().nullable(),
  phase: z.enum(["intent", "posted", "done", "failed", "abandoned"]),
  upid: z.string().nullable(),
  // NULL is "none" (undefined); the JSON text "null" stays null.
  error: z.union([z.null().transform(() => undefined), jsonText]),
  attempts: z.number().int().min(1),
  provenance: z.union([z.null().transform(() => undefined), jsonText]),
  resolution: z.string().nullable(),
  created_at: z.number().int(),
  updated_at: z.number().int(),
});

export type CheckedJournalRow = z.output<typeof journalRowSchema>;

/** The row, or why it cannot be read: the names of the bad fields, never their values. */
export function checkJournalRow(
  raw: unknown,
): { ok: true; row: CheckedJournalRow } | { ok: false; reason: string } {
  const parsed = journalRowSchema.safeParse(raw);
  if (parsed.success) return { ok: true, row: parsed.data };
  const fields = [...new Set(parsed.error.issues.map((i) => i.path.join(".") || "(row)"))];
  return { ok: false, reason: `unreadable ${fields.join(", ")}` };
}
