import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { z } from "zod";

/**
 * What the hub has acknowledged, kept beside the hub identity and outside the state database
 * (src/store/README.md#hub-acknowledgements): the store this host runs on, and the highest
 * report and audit sequence numbers the hub confirmed. It is what lets `run` tell an enrolled
 * host's own store from a wiped, emptied or foreign one, and what `run --new-state` continues
 * numbering from, so the hub never sees a sequence number twice.
 */
export const HUB_ACKS_FILE = "hub-acks.json";

export const hubAcksSchema = z.strictObject({
  version: z.literal(1),
  /** `store_id` of the state database this enrolled host runs on (meta row, migration 1). */
  store_id: z.string().regex(/^[0-9a-f]{32}$/),
  /** Highest outbox id (a status report's `seq`) the hub acknowledged. */
  report_seq: z.number().int().nonnegative(),
  /** Highest audit seq the hub acknowledged, and that row's hash. */
  audit_seq: z.number().int().nonnegative(),
  audit_hash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  updated_at: z.number().int().nonnegative(),
});

export type HubAcks = z.output<typeof hubAcksSchema>;

/** The acknowledgement file of the identity at `identityPath`. */
export function hubAcksPath(identityPath: string): string {
  return join(dirname(identityPath), HUB_ACKS_FILE);
}

/** The hub-acks file is unreadable or not valid; it is never silently replaced. */
export class HubAcksError extends Error {
  override readonly name = "HubAcksError";
  constructor(
    readonly path: string,
    detail: string,
    advice = "restore it with the state database, or remove it only if this host's state is known good",
  ) {
    super(`${path}: ${detail}; ${advice}`);
  }
}

/** The recorded acknowledgements; undefined when the file does not exist. */
export function readHubAcks(path: string): HubAcks | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return undefined;
    throw new HubAcksError(path, `cannot be read (${(err as { code?: string }).code ?? "error"})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new HubAcksError(path, "is not valid JSON");
  }
  const parsed = hubAcksSchema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => i.path.join(".") || "(top level)").join(", ");
    throw new HubAcksError(path, `has invalid fields (${where})`);
  }
  return parsed.data;
}

/**
 * Replaces the file so a reader (or the next start after a power cut) sees the old content or
 * the new, never a torn file: temporary file, fsync, rename, fsync of the directory. Synchronous
 * on purpose: it runs right after the hub answered and before the link takes its next step.
 */
export function writeHubAcks(path: string, acks: HubAcks): void {
  const checked = hubAcksSchema.parse(acks);
  const dir = dirname(path);
  const tmp = join(dir, `${basename(path)}.tmp-${randomBytes(6).toString("hex")}`);
  const fd = openSync(tmp, "wx", 0o600);
  let renamed = false;
  try {
    try {
      writeSync(fd, `${JSON.stringify(checked)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    renamed = true;
    const d = openSync(dir, "r");
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } finally {
    if (!renamed) {
      try {
        unlinkSync(tmp);
      } catch {
        // Already gone; nothing else to undo.
      }
    }
  }
}
