import type { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import type { Clock } from "../util/clock.ts";
import { checkText, checkVmid } from "./validate.ts";

/** A guest incarnation as the agent knows it: a vmid is reused, a uid never is. */
export interface GuestIdentity {
  uid: string;
  vmid: number;
  createdAt: number;
  retiredAt: number | null;
  /** The journal entry (destroy, restore, provision) whose success retired it. */
  retiredBy: number | null;
}

interface Row {
  uid: string;
  vmid: number;
  created_at: number;
  retired_at: number | null;
  retired_by: number | null;
}

const toIdentity = (r: Row): GuestIdentity => ({
  uid: r.uid,
  vmid: r.vmid,
  createdAt: r.created_at,
  retiredAt: r.retired_at,
  retiredBy: r.retired_by,
});

/** 128 random bits: a uid nobody can guess or reuse. */
function newUid(): string {
  return `g-${randomBytes(16).toString("hex")}`;
}

export interface Retired {
  uid: string;
  /** Tokens of that guest newly revoked with it. */
  tokensRevoked: number;
}

/**
 * Durable guest identities (`guest_uid`). Local-API tokens and signed envelopes bind to the
 * uid, so a new guest that gets an old vmid inherits neither (src/store/README.md).
 */
export class GuestIdentities {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** The live identity of the guest at `vmid`, if the agent has given it one. */
  current(vmid: number): GuestIdentity | undefined {
    const row = this.db
      .query("SELECT * FROM guest_identities WHERE vmid = $vmid AND retired_at IS NULL")
      .get({ vmid: checkVmid(vmid) }) as Row | null;
    return row ? toIdentity(row) : undefined;
  }

  byUid(uid: string): GuestIdentity | undefined {
    const row = this.db
      .query("SELECT * FROM guest_identities WHERE uid = $uid")
      .get({ uid: checkText(uid, "guest uid", 128) }) as Row | null;
    return row ? toIdentity(row) : undefined;
  }

  /** The live identity at `vmid`, created now when there is none. */
  ensure(vmid: number): GuestIdentity {
    return this.db.transaction(() => this.current(vmid) ?? this.create(vmid)).immediate();
  }

  /**
   * Retires the live identity at `vmid` and revokes its tokens, in one transaction (the
   * caller's, when it runs inside one). Undefined when the vmid had none.
   */
  retire(vmid: number, journalId: number | null): Retired | undefined {
    return this.db
      .transaction(() => {
        const live = this.current(vmid);
        if (!live) return undefined;
        const now = this.clock.now();
        this.db
          .query("UPDATE guest_identities SET retired_at = $now, retired_by = $by WHERE uid = $uid")
          .run({ now, by: journalId, uid: live.uid });
        const revoked = this.db
          .query(
            "UPDATE guest_tokens SET revoked_at = $now WHERE guest_uid = $uid AND revoked_at IS NULL",
          )
          .run({ now, uid: live.uid }).changes;
        return { uid: live.uid, tokensRevoked: revoked };
      })
      .immediate();
  }

  /** A new guest now stands at `vmid`: the old identity (if any) is retired, a new one made. */
  renew(vmid: number, journalId: number | null): { identity: GuestIdentity; retired?: Retired } {
    return this.db
      .transaction(() => {
        const retired = this.retire(vmid, journalId);
        return { identity: this.create(vmid), ...(retired ? { retired } : {}) };
      })
      .immediate();
  }

  private create(vmid: number): GuestIdentity {
    const identity: GuestIdentity = {
      uid: newUid(),
      vmid: checkVmid(vmid),
      createdAt: this.clock.now(),
      retiredAt: null,
      retiredBy: null,
    };
    this.db
      .query("INSERT INTO guest_identities (uid, vmid, created_at) VALUES ($uid, $vmid, $now)")
      .run({ uid: identity.uid, vmid: identity.vmid, now: identity.createdAt });
    return identity;
  }
}
