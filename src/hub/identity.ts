import { readFile, stat } from "node:fs/promises";
import { z } from "zod";
import { hostIdSchema } from "../authz/host-id.ts";
import { type AtomicWriteOptions, writeFileAtomic } from "./atomic-file.ts";
import { signerSchema } from "./protocol.ts";

/**
 * What enrollment leaves on disk: the durable identity every later hub request runs on. Kept
 * in one 0600 file, written atomically, because it holds the hub credential and the host key's
 * private half (docs/architecture.md#secrets-never-leak: neither ever reaches a log, error or report).
 */
const b64 = (n: number) =>
  z
    .string()
    .refine((s) => /^[A-Za-z0-9+/]+={0,2}$/.test(s) && Buffer.from(s, "base64").length === n);

export const hubTlsPinSchema = z.union([
  z.strictObject({ fingerprint: z.string() }),
  z.strictObject({ ca_file: z.string() }),
]);

export const hubIdentitySchema = z.strictObject({
  version: z.literal(1),
  host_id: hostIdSchema,
  /** The hub base URL enrolled against (config `hub.url` may override it). */
  hub_url: z.url({ protocol: /^https$/ }),
  /** The trust used at enrollment, when it was not the system CAs. */
  hub_tls: hubTlsPinSchema.optional(),
  credential: z.string().min(32),
  host_key: z.strictObject({
    /** Raw 32-byte ed25519 public key, base64. */
    public: b64(32),
    /** The 32-byte ed25519 seed, base64. Secret. */
    seed: b64(32),
  }),
  signers: z.array(signerSchema),
  enrolled_at: z.iso.datetime({ offset: true }),
});

export type HubIdentity = z.output<typeof hubIdentitySchema>;
export type HubTlsPin = z.output<typeof hubTlsPinSchema>;

/** The identity file is missing, unreadable, or not a valid identity. */
export class HubIdentityError extends Error {
  override readonly name = "HubIdentityError";
  constructor(
    readonly path: string,
    readonly kind: "missing" | "unreadable" | "invalid" | "permissions",
    detail: string,
  ) {
    super(`hub identity ${path}: ${detail}`);
  }
}

export async function identityExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return false;
    throw new HubIdentityError(path, "unreadable", `cannot be checked (${(err as Error).message})`);
  }
}

export async function readIdentity(path: string): Promise<HubIdentity> {
  let text: string;
  let mode: number;
  try {
    mode = (await stat(path)).mode & 0o777;
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") {
      throw new HubIdentityError(
        path,
        "missing",
        "does not exist; enroll first: felhom-agent enroll --hub URL --code CODE",
      );
    }
    throw new HubIdentityError(
      path,
      "unreadable",
      `cannot be read (${(err as { code?: string }).code ?? "I/O error"})`,
    );
  }
  // It holds the host key and the hub credential: any access by others exposes them.
  if (mode & 0o077) {
    throw new HubIdentityError(
      path,
      "permissions",
      `is accessible to other users (mode ${mode.toString(8).padStart(4, "0")}); run: chmod 600 ${path}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's message would quote the text, which holds secrets.
    throw new HubIdentityError(path, "invalid", "is not valid JSON; enroll again with --force");
  }
  const parsed = hubIdentitySchema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => i.path.join(".") || "(top level)").join(", ");
    throw new HubIdentityError(
      path,
      "invalid",
      `has invalid fields (${where}); enroll again with --force`,
    );
  }
  return parsed.data;
}

export async function writeIdentity(
  path: string,
  identity: HubIdentity,
  opts: Pick<AtomicWriteOptions, "beforeRename"> = {},
): Promise<void> {
  const checked = hubIdentitySchema.parse(identity);
  await writeFileAtomic(path, `${JSON.stringify(checked, null, 2)}\n`, { ...opts, mode: 0o600 });
}
