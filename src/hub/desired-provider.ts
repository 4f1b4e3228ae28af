import type { Logger } from "../log/types.ts";
import { type DesiredState, desiredStateSchema } from "./desired-schema.ts";
import type { DesiredCachePort } from "./ports.ts";

export interface DesiredSnapshot {
  doc: DesiredState;
  etag: string | undefined;
  receivedAt: number;
}

/** The seam the reconcile engine reads desired state through. */
export interface DesiredProvider {
  /** Undefined until a document has been received and persisted: plan nothing then (DESIGN §2.5). */
  current(): Promise<DesiredSnapshot | undefined>;
  /** Called after a new document is persisted; returns an unsubscribe function. */
  onChange(cb: (snapshot: DesiredSnapshot) => void): () => void;
}

/**
 * Desired state from the hub, read back from the store's cache, so a restart while the hub is
 * down still plans against the last document received — and a fresh store plans nothing.
 */
export class HubDesiredProvider implements DesiredProvider {
  private readonly listeners = new Set<(s: DesiredSnapshot) => void>();

  constructor(
    private readonly cache: DesiredCachePort,
    private readonly logger: Logger,
  ) {}

  async current(): Promise<DesiredSnapshot | undefined> {
    return this.read();
  }

  onChange(cb: (snapshot: DesiredSnapshot) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Persists a validated document and tells the listeners; used by the poller. */
  accept(text: string, etag: string | undefined): void {
    this.cache.put({ document: text, source: "hub", etag: etag ?? null });
    const snap = this.read();
    if (!snap) return;
    for (const cb of this.listeners) {
      try {
        cb(snap);
      } catch (err) {
        this.logger.error("desired-state listener failed", { error: (err as Error)?.message });
      }
    }
  }

  private read(): DesiredSnapshot | undefined {
    const row = this.cache.get();
    if (!row) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(row.document);
    } catch {
      json = undefined;
    }
    const parsed = desiredStateSchema.safeParse(json);
    if (!parsed.success) {
      // Written by another source or an older build: not ours to act on.
      this.logger.warn(
        "cached desired state does not match protocol v1; ignoring it until the hub sends a new one",
      );
      return undefined;
    }
    return { doc: parsed.data, etag: row.etag ?? undefined, receivedAt: row.receivedAt };
  }

  /** The ETag to send as If-None-Match. */
  etag(): string | undefined {
    return this.cache.get()?.etag ?? undefined;
  }
}
