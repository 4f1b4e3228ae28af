import type { Database } from "bun:sqlite";
import type { Clock } from "../util/clock.ts";
import { checkText, checkTimestamp } from "./validate.ts";

/**
 * Consumed envelope nonces (docs/architecture.md#signed-operations). The primary key makes a replay fail even across
 * restarts. Pruning is safe only because the verifier refuses an envelope past its `exp`
 * (plus the skew allowance passed as `graceMs`) before it ever asks about the nonce.
 */
export class Nonces {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** True the first time a nonce is seen, false on every replay. */
  consume(nonce: string, expiresAt: number): boolean {
    const result = this.db
      .query(
        `INSERT INTO nonces (nonce, consumed_at, expires_at) VALUES ($nonce, $now, $expiresAt)
         ON CONFLICT (nonce) DO NOTHING`,
      )
      .run({
        nonce: checkText(nonce, "nonce", 512),
        expiresAt: checkTimestamp(expiresAt, "nonce expiry"),
        now: this.clock.now(),
      });
    return result.changes === 1;
  }

  /** For `op check`: reports a replay without consuming anything. */
  isConsumed(nonce: string): boolean {
    return (
      this.db
        .query("SELECT 1 AS hit FROM nonces WHERE nonce = $nonce")
        .get({ nonce: checkText(nonce, "nonce", 512) }) !== null
    );
  }

  /** Forgets nonces whose envelopes expired more than `graceMs` ago; returns how many. */
  prune(graceMs = 0): number {
    const cutoff = this.clock.now() - checkTimestamp(graceMs, "grace");
    return this.db.query("DELETE FROM nonces WHERE expires_at < $cutoff").run({ cutoff }).changes;
  }
}
