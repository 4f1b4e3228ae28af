import type { Database } from "bun:sqlite";
import { createHash, randomBytes } from "node:crypto";
import { BOOTSTRAP_ID_SHAPE } from "../ops/params/guest-config.ts";
import type { Clock } from "../util/clock.ts";
import { invalidArgument } from "./errors.ts";
import type { GuestIdentities } from "./guest-identities.ts";
import { checkText, checkVmid } from "./validate.ts";

/** 24 random bytes: 192 bits, 32 characters of URL-safe base64 (printable, fits PVE's `env`). */
const CODE_BYTES = 24;
export const BOOTSTRAP_CODE_SHAPE = /^[A-Za-z0-9_-]{32}$/;
/** A code nobody redeemed within this long is dead (the operator reissues it). */
export const DEFAULT_BOOTSTRAP_TTL_MS = 30 * 60_000;

/**
 * How far a provisioning got after its restore (src/store/README.md#bootstrap-codes): the
 * code issued, written into the guest's `env`, the guest started, the code traded, `env`
 * removed again. `expired` and `revoked` end a code that was never traded.
 */
export type BootstrapStep =
  | "issued"
  | "env_set"
  | "started"
  | "redeemed"
  | "env_removed"
  | "expired"
  | "revoked";

export interface BootstrapRecord {
  id: string;
  vmid: number;
  guestUid: string;
  journalId: number | null;
  /** The hub-sealed controller credential, relayed as is; null when the job carried none. */
  hubCredential: string | null;
  createdAt: number;
  expiresAt: number;
  envSetAt: number | null;
  startedAt: number | null;
  redeemedAt: number | null;
  envRemovedAt: number | null;
  revokedAt: number | null;
  step: BootstrapStep;
}

export interface IssuedCode {
  record: BootstrapRecord;
  /** The code in clear: returned once, to be written into the guest's `env`; never stored. */
  code: string;
}

export interface IssueInput {
  vmid: number;
  journalId?: number | null;
  hubCredential?: string | null;
  ttlMs?: number;
}

interface Row {
  id: string;
  vmid: number;
  guest_uid: string;
  journal_id: number | null;
  hub_credential: string | null;
  created_at: number;
  expires_at: number;
  env_set_at: number | null;
  started_at: number | null;
  redeemed_at: number | null;
  env_removed_at: number | null;
  revoked_at: number | null;
}

function sha256(code: string): Buffer {
  return createHash("sha256").update(code, "utf8").digest();
}

function stepOf(r: Row, now: number): BootstrapStep {
  if (r.env_removed_at !== null) return "env_removed";
  if (r.redeemed_at !== null) return "redeemed";
  if (r.revoked_at !== null) return "revoked";
  if (now >= r.expires_at) return "expired";
  if (r.started_at !== null) return "started";
  if (r.env_set_at !== null) return "env_set";
  return "issued";
}

function toRecord(r: Row, now: number): BootstrapRecord {
  return {
    id: r.id,
    vmid: r.vmid,
    guestUid: r.guest_uid,
    journalId: r.journal_id,
    hubCredential: r.hub_credential,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    envSetAt: r.env_set_at,
    startedAt: r.started_at,
    redeemedAt: r.redeemed_at,
    envRemovedAt: r.env_removed_at,
    revokedAt: r.revoked_at,
    step: stepOf(r, now),
  };
}

const MARKS = {
  env_set: "env_set_at",
  started: "started_at",
  env_removed: "env_removed_at",
} as const;

/**
 * One-time bootstrap codes (src/store/README.md#bootstrap-codes). A code is bound to the live
 * guest identity at its vmid when issued; it redeems once, before it expires, and only while
 * that identity is still the guest at the vmid. Issuing a new code for a vmid revokes the
 * earlier untraded ones, so at most one code per guest is ever good.
 */
export class BootstrapCodes {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly identities: GuestIdentities,
  ) {}

  issue(input: IssueInput): IssuedCode {
    const vmid = checkVmid(input.vmid);
    const ttl = input.ttlMs ?? DEFAULT_BOOTSTRAP_TTL_MS;
    if (!Number.isInteger(ttl) || ttl < 1000 || ttl > 7 * 24 * 3_600_000) {
      throw invalidArgument("bootstrap code lifetime must be between 1 s and 7 days");
    }
    const hub =
      input.hubCredential == null ? null : checkText(input.hubCredential, "hub credential", 16384);
    const code = randomBytes(CODE_BYTES).toString("base64url");
    const id = `bc-${randomBytes(8).toString("hex")}`;
    const now = this.clock.now();
    this.db
      .transaction(() => {
        const identity = this.identities.current(vmid);
        if (!identity) throw invalidArgument(`guest ${vmid} has no identity; provision it first`);
        this.db
          .query(
            `UPDATE bootstrap_codes SET revoked_at = $now
             WHERE vmid = $vmid AND redeemed_at IS NULL AND revoked_at IS NULL`,
          )
          .run({ now, vmid });
        this.db
          .query(
            `INSERT INTO bootstrap_codes (id, code_hash, vmid, guest_uid, journal_id,
               hub_credential, created_at, expires_at)
             VALUES ($id, $hash, $vmid, $uid, $journal, $hub, $now, $expires)`,
          )
          .run({
            id,
            hash: sha256(code),
            vmid,
            uid: identity.uid,
            journal: input.journalId ?? null,
            hub,
            now,
            expires: now + ttl,
          });
      })
      .immediate();
    return { record: this.byId(id) as BootstrapRecord, code };
  }

  /**
   * Trades a code, once: the row is claimed by one conditional UPDATE, so of two concurrent
   * redemptions exactly one wins. Null for a malformed, unknown, used, revoked or expired
   * code, and for one whose guest identity is no longer the guest at its vmid; the caller
   * cannot tell these apart, and neither can whoever presented the code.
   */
  redeem(code: string): BootstrapRecord | null {
    if (typeof code !== "string" || !BOOTSTRAP_CODE_SHAPE.test(code)) return null;
    const now = this.clock.now();
    return this.db
      .transaction(() => {
        const row = this.db
          .query(
            `UPDATE bootstrap_codes SET redeemed_at = $now
             WHERE code_hash = $hash AND redeemed_at IS NULL AND revoked_at IS NULL
               AND expires_at > $now
             RETURNING *`,
          )
          .get({ now, hash: sha256(code) }) as Row | null;
        if (!row) return null;
        const live = this.identities.current(row.vmid);
        if (live?.uid !== row.guest_uid) {
          // The guest the code was made for is gone; the code dies with it.
          this.db
            .query(
              "UPDATE bootstrap_codes SET redeemed_at = NULL, revoked_at = $now WHERE id = $id",
            )
            .run({ now, id: row.id });
          return null;
        }
        return toRecord(row, now);
      })
      .immediate();
  }

  /** The step of the code presented, without redeeming it; null when it matches none. */
  peek(code: string): BootstrapRecord | null {
    if (typeof code !== "string" || !BOOTSTRAP_CODE_SHAPE.test(code)) return null;
    const row = this.db
      .query("SELECT * FROM bootstrap_codes WHERE code_hash = $hash")
      .get({ hash: sha256(code) }) as Row | null;
    return row ? toRecord(row, this.clock.now()) : null;
  }

  /** Records that a step of the provisioning around the code has happened. */
  mark(id: string, step: keyof typeof MARKS): BootstrapRecord {
    if (!BOOTSTRAP_ID_SHAPE.test(id)) throw invalidArgument(`'${id}' is not a bootstrap id`);
    const column = MARKS[step];
    this.db
      .query(`UPDATE bootstrap_codes SET ${column} = COALESCE(${column}, $now) WHERE id = $id`)
      .run({ now: this.clock.now(), id });
    const rec = this.byId(id);
    if (!rec) throw invalidArgument(`no bootstrap code ${id}`);
    return rec;
  }

  /** Revokes every untraded code of `vmid`; returns how many. */
  revoke(vmid: number): number {
    return this.db
      .query(
        `UPDATE bootstrap_codes SET revoked_at = $now
         WHERE vmid = $vmid AND redeemed_at IS NULL AND revoked_at IS NULL`,
      )
      .run({ now: this.clock.now(), vmid: checkVmid(vmid) }).changes;
  }

  byId(id: string): BootstrapRecord | undefined {
    const row = this.db
      .query("SELECT * FROM bootstrap_codes WHERE id = $id")
      .get({ id }) as Row | null;
    return row ? toRecord(row, this.clock.now()) : undefined;
  }

  /** Whether any code was issued for the provisioning journaled as `journalId`. */
  issuedFor(journalId: number): boolean {
    return (
      this.db.query("SELECT 1 FROM bootstrap_codes WHERE journal_id = $j LIMIT 1").get({
        j: journalId,
      }) !== null
    );
  }

  /** The newest code of `vmid`, whatever its step. */
  latest(vmid: number): BootstrapRecord | undefined {
    const row = this.db
      .query(
        "SELECT * FROM bootstrap_codes WHERE vmid = $vmid ORDER BY created_at DESC, rowid DESC LIMIT 1",
      )
      .get({ vmid: checkVmid(vmid) }) as Row | null;
    return row ? toRecord(row, this.clock.now()) : undefined;
  }

  /**
   * Provisionings that stopped half way: per vmid the newest code, when it is not at
   * `env_removed` (a traded code whose `env` is still in the config counts: the secret-free
   * config is the end). Shown by `status` and in reports.
   */
  unfinished(): BootstrapRecord[] {
    const now = this.clock.now();
    const rows = this.db
      .query(
        `SELECT b.* FROM bootstrap_codes b
         WHERE b.rowid = (SELECT rowid FROM bootstrap_codes c WHERE c.vmid = b.vmid
                          ORDER BY c.created_at DESC, c.rowid DESC LIMIT 1)
         ORDER BY b.vmid`,
      )
      .all() as Row[];
    return rows.map((r) => toRecord(r, now)).filter((r) => r.step !== "env_removed");
  }
}
