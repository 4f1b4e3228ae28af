import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { createEd25519, type Ed25519 } from "../authz/ed25519.ts";
import { signerEntrySchema } from "../authz/signers.ts";
import type { Logger } from "../log/types.ts";
import type { Clock } from "../util/clock.ts";
import { removeStaleTemps } from "./atomic-file.ts";
import { createHubClient } from "./client.ts";
import type { HubTlsTrust } from "./config-section.ts";
import { HubHttpError, HubPayloadError, HubUnreachableError } from "./errors.ts";
import {
  type HubIdentity,
  type HubTlsPin,
  identityExists,
  readIdentity,
  writeIdentity,
} from "./identity.ts";
import { HUB_PROTOCOL_VERSION } from "./protocol.ts";
import {
  acceptFlag,
  describeSigners,
  type OfferedSigner,
  offeredSigners,
  type SignerAcceptance,
} from "./signer-acceptance.ts";
import { createHubTransport, type HubTransport } from "./transport.ts";

export type EnrollFailure =
  | "already_enrolled"
  | "code_rejected"
  | "hub_unreachable"
  | "hub_error"
  | "bad_response"
  | "signers_not_accepted"
  | "persist_failed";

/** Enrollment did not complete. The message says what to do; `written` is always false. */
export class EnrollError extends Error {
  override readonly name = "EnrollError";
  readonly written = false;
  constructor(
    readonly kind: EnrollFailure,
    message: string,
    override readonly cause?: unknown,
    /** The signers the hub offered, when it got that far (for `signers_not_accepted`). */
    readonly offered?: readonly OfferedSigner[],
  ) {
    super(message);
  }
}

export interface EnrollOptions {
  hubUrl: string;
  code: string;
  force: boolean;
  identityPath: string;
  trust: HubTlsTrust;
  /** How the trust is recorded in the identity file (absent for system CAs). */
  pin?: HubTlsPin;
  agentVersion: string;
  hostname?: string;
  clock: Clock;
  logger: Logger;
  requestTimeoutMs?: number;
  /**
   * Asked with the fingerprints of the signers the hub offered, after the answer arrived and
   * before anything is written; false = nothing is written (`signers_not_accepted`).
   */
  acceptSigners: SignerAcceptance;
  ed?: Ed25519;
  transport?: HubTransport;
  /** Crash injection for tests: runs after the identity's temp file is synced, before rename. */
  beforeRename?: () => void | Promise<void>;
}

const REGENERATE =
  "regenerate the retrieval code on the hub (codes are single-use) and run enroll again";

/**
 * Trades a one-time retrieval code for the host's durable identity (docs/architecture.md#hub-link). The host key
 * is made here and only its public half is sent. Nothing is written until the hub's answer is
 * complete and valid, and the identity lands in one atomic rename, so any failure leaves the
 * previous state (no identity, or the old one with --force) untouched.
 */
export async function enrollHost(o: EnrollOptions): Promise<HubIdentity> {
  await removeStaleTemps(o.identityPath);
  if (!o.force && (await identityExists(o.identityPath))) {
    let hostId = "unknown";
    try {
      hostId = (await readIdentity(o.identityPath)).host_id;
    } catch {
      // An unreadable identity is still one that --force would replace.
    }
    throw new EnrollError(
      "already_enrolled",
      `this host is already enrolled (host id ${hostId}, identity ${o.identityPath}); ` +
        "run enroll with --force to replace that identity with a new one",
    );
  }
  const ed = o.ed ?? createEd25519();
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const publicKey = await ed.publicKey(seed);
  const transport =
    o.transport ??
    createHubTransport({
      baseUrl: o.hubUrl,
      trust: o.trust,
      logger: o.logger,
      connectTimeoutMs: o.requestTimeoutMs ?? 30_000,
    });
  const client = createHubClient({
    baseUrl: o.hubUrl,
    transport,
    ed,
    clock: o.clock,
    requestTimeoutMs: o.requestTimeoutMs ?? 30_000,
  });
  let answer: Awaited<ReturnType<typeof client.enroll>>;
  try {
    answer = await client.enroll(
      {
        protocol: HUB_PROTOCOL_VERSION,
        code: o.code,
        host_public_key: Buffer.from(publicKey).toString("base64"),
        agent_version: o.agentVersion,
        ...(o.hostname !== undefined ? { hostname: o.hostname } : {}),
      },
      seed,
    );
  } catch (err) {
    throw explain(err, o.hubUrl);
  } finally {
    if (!o.transport) transport.close();
  }
  // The daemon takes enrolled signers through the same rules as configured ones
  // (src/hub/trust.ts); one it would ignore must not be accepted here as if it counted.
  const unusable = answer.signers.findIndex(
    (sgn) =>
      !signerEntrySchema.safeParse({
        name: sgn.name,
        key: sgn.public_key,
        role: sgn.role,
        ...(sgn.expires_at !== undefined ? { expires: sgn.expires_at } : {}),
      }).success,
  );
  if (unusable >= 0) {
    throw new EnrollError(
      "bad_response",
      `the hub's enrollment answer holds a signer the agent cannot use (signers[${unusable}]: names are 1-64 letters, digits, '.', '_', '@', '-', keys ssh-ed25519); nothing was written; ${REGENERATE}`,
    );
  }
  let offered: OfferedSigner[];
  try {
    offered = offeredSigners(answer.signers);
  } catch (err) {
    throw new EnrollError(
      "bad_response",
      `the hub's enrollment answer holds a signer key that is not a usable ssh-ed25519 key (${(err as Error).message}); nothing was written; ${REGENERATE}`,
      err,
    );
  }
  if (!(await o.acceptSigners(offered))) {
    throw new EnrollError(
      "signers_not_accepted",
      `the hub offered these operator signers, who could approve destructive operations on this host:\n${describeSigners(offered)}` +
        "They were not accepted, so nothing was written. Check each fingerprint against the one the hub " +
        `shows for that operator, then ${REGENERATE} (the code is now used) adding:\n  ${acceptFlag(offered)}`,
      undefined,
      offered,
    );
  }
  const identity: HubIdentity = {
    version: 1,
    host_id: answer.host_id,
    hub_url: o.hubUrl,
    ...(o.pin !== undefined ? { hub_tls: o.pin } : {}),
    credential: answer.credential,
    host_key: {
      public: Buffer.from(publicKey).toString("base64"),
      seed: Buffer.from(seed).toString("base64"),
    },
    signers: answer.signers,
    enrolled_at: new Date(o.clock.now()).toISOString(),
  };
  try {
    await mkdir(dirname(o.identityPath), { recursive: true, mode: 0o700 });
    await writeIdentity(
      o.identityPath,
      identity,
      o.beforeRename ? { beforeRename: o.beforeRename } : {},
    );
  } catch (err) {
    throw new EnrollError(
      "persist_failed",
      `the hub accepted the code but the identity could not be saved to ${o.identityPath} ` +
        `(${(err as { code?: string }).code ?? (err as Error).message}); nothing was written. ` +
        `Fix the cause, then ${REGENERATE}`,
      err,
    );
  }
  o.logger.info("enrolled with the hub", {
    hostId: identity.host_id,
    hub: o.hubUrl,
    signers: identity.signers.length,
  });
  return identity;
}

function explain(err: unknown, hubUrl: string): EnrollError {
  if (err instanceof HubHttpError) {
    if (err.code === "code_used" || err.code === "code_expired" || err.code === "code_unknown") {
      const what =
        err.code === "code_used"
          ? "has already been used"
          : err.code === "code_expired"
            ? "has expired"
            : "is not known to the hub";
      return new EnrollError(
        "code_rejected",
        `the retrieval code ${what}; nothing was written; ${REGENERATE}`,
        err,
      );
    }
    return new EnrollError(
      "hub_error",
      `enrollment failed: ${err.message}; nothing was written. Retry; if the hub then says the code was used, ${REGENERATE}`,
      err,
    );
  }
  if (err instanceof HubUnreachableError) {
    return new EnrollError(
      "hub_unreachable",
      `${err.message}; nothing was written. Check the URL and TLS trust, then retry; if the hub then says the code was used, ${REGENERATE}`,
      err,
    );
  }
  if (err instanceof HubPayloadError) {
    return new EnrollError(
      "bad_response",
      `the hub's enrollment answer is not valid (${err.issues.slice(0, 3).join("; ")}); nothing was written; ${REGENERATE}`,
      err,
    );
  }
  return new EnrollError(
    "hub_error",
    `enrollment against ${hubUrl} failed (${(err as Error)?.message ?? String(err)}); nothing was written; ${REGENERATE}`,
    err,
  );
}
