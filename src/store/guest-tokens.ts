import type { Database } from "bun:sqlite";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../util/clock.ts";
import { invalidArgument } from "./errors.ts";
import type { GuestIdentities } from "./guest-identities.ts";
import { checkText, checkVmid } from "./validate.ts";

/** 32 random bytes: 256 bits, 43 characters of URL-safe base64 without padding. */
const TOKEN_BYTES = 32;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;
/** A request on every few seconds need not cost a durable write each time. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface MintedToken {
  /** Public handle for list/revoke and logs. */
  id: string;
  vmid: number;
  /** The guest identity the token belongs to. */
  guestUid: string;
  /** Shown once; only its SHA-256 is kept. */
  token: string;
}

export interface ResolvedToken {
  id: string;
  vmid: number;
  guestUid: string;
}

export interface GuestTokenInfo {
  id: string;
  vmid: number;
  guestUid: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

interface Row {
  id: string;
  vmid: number;
  guest_uid: string | null;
  token_hash: Uint8Array;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

interface ResolveRow {
  id: string;
  token_hash: Uint8Array;
  revoked_at: number | null;
  last_used_at: number | null;
  guest_uid: string | null;
  /** The vmid of the token's identity while it is live; null when retired or missing. */
  live_vmid: number | null;
}

function sha256(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/**
 * Local-API bearer tokens, one or more per guest (docs/architecture.md#a-guest-acts-only-on-itself, docs/architecture.md#local-api). The database holds only
 * SHA-256 hashes, so a copy of it does not let anyone act as a guest. A token belongs to a
 * guest identity (`guest_uid`), not to a vmid: once that guest is destroyed or restored over,
 * its identity is retired and the token resolves to nothing, whoever has the vmid next.
 */
export class GuestTokens {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly identities: GuestIdentities,
  ) {}

  /** A token for the guest now at `vmid`, whose identity is created when it has none yet. */
  mint(vmid: number): MintedToken {
    checkVmid(vmid);
    const token = randomBytes(TOKEN_BYTES).toString("base64url");
    const id = `gt-${randomBytes(8).toString("hex")}`;
    const guestUid = this.db
      .transaction(() => {
        const identity = this.identities.ensure(vmid);
        this.db
          .query(
            `INSERT INTO guest_tokens (id, vmid, guest_uid, token_hash, created_at)
             VALUES ($id, $vmid, $uid, $hash, $now)`,
          )
          .run({ id, vmid, uid: identity.uid, hash: sha256(token), now: this.clock.now() });
        return identity.uid;
      })
      .immediate();
    return { id, vmid, guestUid, token };
  }

  /**
   * The guest a presented token belongs to, or null for an unknown, malformed or revoked one,
   * and for one whose guest identity is retired (the guest is gone) or was never assigned.
   * The lookup is by hash, so timing reveals nothing about the token; the final comparison is
   * constant-time anyway so that property does not rest on the index alone.
   */
  resolve(token: string): ResolvedToken | null {
    if (typeof token !== "string" || !TOKEN_SHAPE.test(token)) return null;
    const presented = sha256(token);
    // One read for the token and its live identity: this runs on every local-API request
    // (docs/architecture.md#local-api-request-path). A correlated subquery, because SQLite
    // answers it about twice as fast as the equivalent LEFT JOIN here.
    const row = this.db
      .query(
        `SELECT t.id, t.token_hash, t.revoked_at, t.last_used_at, t.guest_uid,
                (SELECT i.vmid FROM guest_identities i
                  WHERE i.uid = t.guest_uid AND i.retired_at IS NULL) AS live_vmid
           FROM guest_tokens t
          WHERE t.token_hash = $hash`,
      )
      .get({ hash: presented }) as ResolveRow | null;
    if (!row) return null;
    const stored = Buffer.from(row.token_hash);
    if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) return null;
    if (row.revoked_at !== null || row.guest_uid === null) return null;
    // The identity decides the guest: a live identity at this vmid that is not the token's is
    // another guest.
    if (row.live_vmid === null) return null;
    const now = this.clock.now();
    if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_RESOLUTION_MS) {
      this.db
        .query("UPDATE guest_tokens SET last_used_at = $now WHERE id = $id")
        .run({ now, id: row.id });
    }
    return { id: row.id, vmid: row.live_vmid, guestUid: row.guest_uid };
  }

  /**
   * Revokes one token by id (a string) or every token of a guest (a number); returns how many
   * were newly revoked.
   */
  revoke(target: string | number): number {
    const now = this.clock.now();
    if (typeof target === "number") {
      return this.db
        .query(
          "UPDATE guest_tokens SET revoked_at = $now WHERE vmid = $vmid AND revoked_at IS NULL",
        )
        .run({ now, vmid: checkVmid(target) }).changes;
    }
    if (typeof target !== "string") throw invalidArgument("revoke takes a token id or a vmid");
    return this.db
      .query("UPDATE guest_tokens SET revoked_at = $now WHERE id = $id AND revoked_at IS NULL")
      .run({ now, id: checkText(target, "token id", 64) }).changes;
  }

  /** Every token ever minted, oldest first; never the token itself. */
  list(): GuestTokenInfo[] {
    const rows = this.db
      .query(
        "SELECT id, vmid, guest_uid, created_at, last_used_at, revoked_at FROM guest_tokens ORDER BY created_at, id",
      )
      .all() as Omit<Row, "token_hash">[];
    return rows.map((r) => ({
      id: r.id,
      vmid: r.vmid,
      guestUid: r.guest_uid,
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
      revokedAt: r.revoked_at,
    }));
  }
}
