import type { Signer } from "../authz/signers.ts";
import { silentLogger } from "../log/types.ts";
import { escapeUnsafeText } from "../store/audit-text.ts";
import type { EnrolledSigner } from "../store/enrolled-signers.ts";
import { type HubConfig, hubIdentityPath } from "./config-section.ts";
import { type HubIdentity, HubIdentityError, identityExists, readIdentity } from "./identity.ts";
import { enrollmentMark } from "./signer-import.ts";
import { type EnrolledSignerLike, effectiveSigners, identitySigners } from "./trust.ts";

/** One operator signer the gate would accept a signature from, and where it comes from. */
export interface SignerInForce {
  name: string;
  role: string;
  /** `SHA256:…`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  /** `rotation`: written by a signed signers.rotate (docs/architecture.md#operator-key-rotation). */
  source: "config" | "enrollment" | "rotation";
  /** ISO time after which the signer is refused; absent = no expiry. */
  expires_at?: string;
}

export interface EnrollmentSummary {
  /** `unreadable`: an identity file exists but cannot be used (the daemon would refuse to start). */
  state: "enrolled" | "not_enrolled" | "unreadable";
  identity_file: string;
  host_id?: string;
  hub_url?: string;
  enrolled_at?: string;
  /** Why the identity cannot be used (never its content). */
  error?: string;
}

export interface TrustSummary {
  enrollment: EnrollmentSummary;
  /** Exactly the list the daemon's gate is built from (src/hub/trust.ts), in its order. */
  signers: SignerInForce[];
}

/** The enrolled set as the state database holds it, when there is a database to read. */
export interface StoredSigners {
  /** The enrollment the set was imported from (src/hub/signer-import.ts), if any. */
  importedFrom: string | undefined;
  list: readonly EnrolledSigner[];
}

/**
 * The enrolled set the daemon uses: the store's once it holds this enrollment's import (or
 * when the host is not enrolled); before the daemon's first start since enrollment, the
 * identity file's, which that start imports.
 */
function enrolledSet(
  identity: HubIdentity | undefined,
  stored: StoredSigners | undefined,
): { list: EnrolledSignerLike[]; source: (fingerprint: string) => SignerInForce["source"] } {
  if (stored && (identity === undefined || stored.importedFrom === enrollmentMark(identity))) {
    const bySource = new Map(stored.list.map((s) => [s.fingerprint, s.source]));
    return { list: [...stored.list], source: (f) => bySource.get(f) ?? "enrollment" };
  }
  return { list: identitySigners(identity), source: () => "enrollment" };
}

/**
 * What this host trusts, read the way the daemon reads it: the configured signers, then the
 * enrolled set (a key or name configured already is not taken twice). For `config show`,
 * `status` and `signers list`, so an operator sees every key that can approve a destructive
 * operation.
 */
export async function trustSummary(
  cfg: {
    hub: Pick<HubConfig, "identity_file" | "url">;
    state_dir: string;
    signers: readonly Signer[];
  },
  stored?: StoredSigners,
): Promise<TrustSummary> {
  const path = hubIdentityPath(cfg.hub, cfg.state_dir);
  let identity: HubIdentity | undefined;
  let enrollment: EnrollmentSummary;
  try {
    identity = (await identityExists(path)) ? await readIdentity(path) : undefined;
    enrollment =
      identity === undefined
        ? { state: "not_enrolled", identity_file: path }
        : {
            state: "enrolled",
            identity_file: path,
            host_id: identity.host_id,
            hub_url: cfg.hub.url ?? identity.hub_url,
            enrolled_at: identity.enrolled_at,
          };
  } catch (err) {
    if (!(err instanceof HubIdentityError)) throw err;
    enrollment = { state: "unreadable", identity_file: path, error: err.message };
  }
  const configured = new Set(cfg.signers.map((s) => s.keyId));
  const enrolled = enrolledSet(identity, stored);
  const signers = effectiveSigners(cfg.signers, enrolled.list, silentLogger).map(
    (s): SignerInForce => ({
      name: s.name,
      role: s.role,
      fingerprint: s.keyId,
      source: configured.has(s.keyId) ? "config" : enrolled.source(s.keyId),
      ...(s.expiresAt !== undefined ? { expires_at: new Date(s.expiresAt).toISOString() } : {}),
    }),
  );
  return { enrollment, signers };
}

/** The signers as text lines, for `status`. */
export function signersText(signers: readonly SignerInForce[]): string {
  if (signers.length === 0) {
    return "  (none: destructive operations wait as pending_signature and never run)\n";
  }
  return signers
    .map(
      (s) =>
        `  ${s.fingerprint}  ${s.role.padEnd(11)}  ${s.source.padEnd(10)}  ${escapeUnsafeText(s.name)}${s.expires_at ? `  expires ${s.expires_at}` : ""}\n`,
    )
    .join("");
}
