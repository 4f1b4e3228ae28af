import { rmSync } from "node:fs";
import type { Logger } from "../log/types.ts";
import type { UpdateAttempt, UpdateStep } from "../store/agent-updates.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../util/clock.ts";
import { compareVersions, VERSION_PATTERN } from "../util/semver.ts";
import { ArtifactError, downloadArtifact } from "./download.ts";
import {
  installedVersions,
  linkedVersion,
  pointLink,
  pruneVersions,
  removeLink,
  type UpdateLayout,
  versionBinary,
  versionDir,
} from "./layout.ts";
import { smokeTest } from "./smoke.ts";
import { restoreForRollback, saveStateCopy, stateVerdict } from "./state-rollback.ts";

export interface UpdaterDeps {
  /** `db` and `info`: the state copy before the switch and its restore on a rollback. */
  store: Pick<Store, "agentUpdates" | "audit" | "db" | "info">;
  layout: UpdateLayout;
  /** The version of the binary running this code. */
  runningVersion: string;
  /** Opens the artifact's body from the hub; undefined when the host is not enrolled. */
  fetchArtifact?: (version: string, target: string) => Promise<ReadableStream<Uint8Array>>;
  smoke: { configPath?: string; env: Record<string, string | undefined>; timeoutMs: number };
  clock: Clock;
  logger: Logger;
}

/** What the daemon does after a start-up check (docs/self-update.md#health-gate-and-rollback). */
export type StartOutcome =
  | { kind: "none" }
  /** An attempt still before the switch: the updater carries it on. */
  | { kind: "resume"; attempt: UpdateAttempt }
  /** This process is the new version's first start: it must become healthy in time. */
  | { kind: "health_gate"; attempt: UpdateAttempt }
  /** `current` points at the previous version again: exit, so the supervisor starts it. */
  | { kind: "rolled_back"; attempt: UpdateAttempt };

const BEFORE_SWITCH: ReadonlySet<UpdateStep> = new Set(["admitted", "downloaded", "smoked"]);

/**
 * Drives an admitted `agent.update` through its steps, each written to the store once its work
 * is durable, and decides at start-up whether a new version is on probation, healthy, or to be
 * rolled back (docs/self-update.md#steps-and-recovery).
 */
export class Updater {
  constructor(private readonly d: UpdaterDeps) {}

  /**
   * Carries the open attempt from where it stopped up to the switch. Returns `switched` when
   * `current` now names the new version (the caller then exits for the supervisor to restart
   * it), `failed` when the attempt was refused, `idle` when there was nothing to do.
   */
  async advance(): Promise<"idle" | "switched" | "failed"> {
    let a = this.d.store.agentUpdates.open();
    if (a === undefined || !BEFORE_SWITCH.has(a.step)) return "idle";
    const { layout } = this.d;
    try {
      if (a.step === "admitted") {
        if (this.d.clock.now() >= a.expiresAt)
          return this.fail(a, "the update instruction expired before it was carried out");
        const fetch = this.d.fetchArtifact;
        if (fetch === undefined) {
          return this.fail(
            a,
            "this host is not enrolled: there is no hub to download the artifact from",
          );
        }
        if (linkedVersion(layout.current) === undefined) {
          return this.fail(
            a,
            `${layout.current} is not a link to a version (install.sh lays it out); this install cannot switch versions`,
          );
        }
        const target = a.target;
        const version = a.version;
        const how = await downloadArtifact(versionBinary(layout, version), a, () =>
          fetch(version, target),
        );
        a = this.step(a, "downloaded", how === "already_there" ? "already downloaded" : undefined);
      }
      if (a.step === "downloaded") {
        const why = await smokeTest({
          binary: versionBinary(layout, a.version),
          version: a.version,
          env: this.d.smoke.env,
          timeoutMs: this.d.smoke.timeoutMs,
          ...(this.d.smoke.configPath !== undefined ? { configPath: this.d.smoke.configPath } : {}),
        });
        if (why !== undefined) {
          rmSync(versionDir(layout, a.version), { recursive: true, force: true });
          this.d.logger.warn("the new binary failed its smoke test", {
            version: a.version,
            reason: why.reason,
            stderr_tail: why.stderr,
          });
          return this.fail(a, `smoke test failed: ${why.reason}`);
        }
        a = this.step(a, "smoked");
      }
      // smoked: switch. Redone after a crash: when `current` already names the new version the
      // previous link was set before it, so neither is touched again. The state copy goes
      // first, so a rollback can always give the previous version a database it can open
      // (docs/self-update.md#the-state-copy-taken-before-the-switch).
      const was = linkedVersion(layout.current);
      if (was !== a.version) {
        if (was !== undefined) {
          saveStateCopy(this.d.store.db, this.d.store.info.storeId, layout, was);
          pointLink(layout, layout.previous, was);
        }
        pointLink(layout, layout.current, a.version);
      }
      this.step(a, "switched");
      return "switched";
    } catch (err) {
      const message = (err as Error).message;
      if (err instanceof ArtifactError) return this.fail(a, message);
      // Anything else (the hub unreachable, a full disk): the attempt stays at its step and is
      // tried again later, until it expires.
      this.d.logger.warn("update step did not complete; it is tried again", {
        update: a.id,
        version: a.version,
        step: a.step,
        error: message,
      });
      if (this.d.clock.now() >= a.expiresAt)
        return this.fail(a, `expired while retrying: ${message}`);
      return "idle";
    }
  }

  /**
   * The start-up check, before the daemon changes anything: an attempt that switched is now on
   * its first start (health gate); one that had its first start already and never became good
   * is rolled back; one before the switch is resumed.
   */
  onStart(): StartOutcome {
    const a = this.d.store.agentUpdates.open();
    if (a === undefined) return { kind: "none" };
    const { layout, runningVersion } = this.d;
    const linked = linkedVersion(layout.current);
    if (BEFORE_SWITCH.has(a.step)) {
      // A crash between the switch and its record: the link is the truth.
      if (linked !== a.version) return { kind: "resume", attempt: a };
      this.step(a, "switched", "switch found done at start-up");
      return this.onStart();
    }
    if (runningVersion !== a.version) {
      // The old binary runs although the attempt switched: the link was put back by hand, or
      // an ExecStartPre rollback ran. Either way the new version is not running: close it.
      const why =
        linked === a.version
          ? `the service started ${runningVersion}, not ${a.version}`
          : `${layout.current} no longer names ${a.version}`;
      const closed = this.step(a, "rolled_back", why);
      this.audit(closed, "rolled_back", { reason: why });
      return { kind: "none" };
    }
    if (a.step === "switched") {
      return { kind: "health_gate", attempt: this.step(a, "started") };
    }
    // started, and starting again: the first start never became healthy.
    return this.rollBack(a, "started once and did not become healthy before it stopped");
  }

  /** The new version passed its health gate: mark it good and keep exactly two versions. */
  markGood(a: UpdateAttempt): void {
    const done = this.step(a, "good");
    const removed = pruneVersions(this.d.layout);
    this.audit(done, "good", { removed_versions: removed });
    this.d.logger.info("update healthy; the new version is good", {
      version: a.version,
      previous: linkedVersion(this.d.layout.previous),
      removed_versions: removed,
    });
  }

  /**
   * Points `current` back at `previous`, removes the failed version, and closes the attempt
   * as rolled back; the caller exits so the supervisor starts the previous version.
   */
  rollBack(a: UpdateAttempt, why: string): StartOutcome {
    const { layout } = this.d;
    const back = linkedVersion(layout.previous);
    if (back === undefined || back === a.version) {
      this.step(a, "failed", `${why}; no previous version to roll back to`);
      this.audit(a, "failed", { reason: why });
      this.d.logger.error("update failed and there is no previous version to roll back to", {
        version: a.version,
        reason: why,
      });
      return { kind: "none" };
    }
    const verdict = stateVerdict(this.d.store.db, layout, back);
    if (verdict.kind === "restore") return this.rollBackWithState(a, why, back, verdict.copy);
    if (verdict.kind === "no_copy") {
      // Without the copy the previous version's schema is unknown: rolled back as before, and
      // said so (docs/self-update.md#rollback-across-a-schema-change).
      this.d.logger.warn("rolling back without a state copy", {
        version: a.version,
        why: verdict.why,
      });
    }
    this.switchBack(a, back);
    const closed = this.step(a, "rolled_back", why);
    this.audit(closed, "rolled_back", { reason: why, back_to: back });
    this.d.logger.error("update rolled back", { version: a.version, back_to: back, reason: why });
    return { kind: "rolled_back", attempt: closed };
  }

  /**
   * True when rolling back now would need the state copy put back (the new version migrated
   * the database past what the previous one opens). That swap is done only at start-up,
   * before anything else writes to the store.
   */
  rollbackNeedsState(): boolean {
    const back = linkedVersion(this.d.layout.previous);
    if (back === undefined) return false;
    return stateVerdict(this.d.store.db, this.d.layout, back).kind === "restore";
  }

  /**
   * The rollback when the new version migrated the database past what `back` can open: the
   * state copy goes back in place first (the attempt in it stays `started`, so a crash before
   * the links move makes this start redo it), then the links. The previous version's start
   * closes the attempt (docs/self-update.md#rollback-across-a-schema-change). Nothing is
   * written to the live store after the swap: it has been moved aside.
   */
  private rollBackWithState(
    a: UpdateAttempt,
    why: string,
    back: string,
    copy: string,
  ): StartOutcome {
    let restored: ReturnType<typeof restoreForRollback>;
    try {
      restored = restoreForRollback({
        dbPath: this.d.store.info.path,
        live: this.d.store.db,
        copy,
        attemptId: a.id,
        reason: why,
        version: a.version,
        backTo: back,
        clock: this.d.clock,
      });
    } catch (err) {
      // Nothing was swapped (the live database moves only after the copy is complete). The
      // previous version could not open this state, so the new one stays rather than leaving
      // an agent that cannot start.
      const message = (err as Error).message;
      const reason = `${why}; not rolled back: the previous version needs the state copy and putting it back failed (${message})`;
      const closed = this.step(a, "failed", reason);
      this.audit(closed, "failed", { reason });
      this.d.logger.error("update failed and could not be rolled back; this version stays", {
        version: a.version,
        back_to: back,
        error: message,
      });
      return { kind: "none" };
    }
    this.switchBack(a, back);
    this.d.logger.error(
      "update rolled back; the state copy taken before the switch is back in place",
      {
        version: a.version,
        back_to: back,
        reason: why,
        newer_state_kept_at: restored.keptAt,
        audit_rows_carried: restored.auditRowsCarried,
        nonces_carried: restored.noncesCarried,
      },
    );
    return { kind: "rolled_back", attempt: a };
  }

  /**
   * `current` back at `back`, the failed version removed, and `previous` at the newest other
   * version still on disk (the one `back` had replaced), so two versions stay where there were
   * two; versions on disk stay exactly those the links name.
   */
  private switchBack(a: UpdateAttempt, back: string): void {
    const { layout } = this.d;
    pointLink(layout, layout.current, back);
    const other = installedVersions(layout)
      .filter((v) => v !== back && v !== a.version && VERSION_PATTERN.test(v))
      .sort(compareVersions)
      .at(-1);
    if (other !== undefined) pointLink(layout, layout.previous, other);
    else removeLink(layout, layout.previous);
    rmSync(versionDir(layout, a.version), { recursive: true, force: true });
    pruneVersions(layout);
  }

  private fail(a: UpdateAttempt, why: string): "failed" {
    const closed = this.step(a, "failed", why);
    this.audit(closed, "failed", { reason: why });
    this.d.logger.error("update failed", { version: a.version, step: a.step, reason: why });
    return "failed";
  }

  private step(a: UpdateAttempt, step: UpdateStep, reason?: string): UpdateAttempt {
    const next = this.d.store.agentUpdates.advance(a.id, step, reason);
    this.d.logger.info("update step", { update: a.id, version: a.version, step, reason });
    return next;
  }

  private audit(a: UpdateAttempt, outcome: string, details: Record<string, unknown>): void {
    this.d.store.audit.append({
      actor: "agent",
      action: "agent.update",
      target: null,
      outcome,
      details: {
        update: a.id,
        journal: a.journalId,
        version: a.version,
        from: a.fromVersion,
        ...details,
      },
    });
  }
}
