import { readFile, stat } from "node:fs/promises";
import type { Logger } from "../log/types.ts";
import type { Clock } from "../util/clock.ts";
import { type DesiredHostState, DesiredStateError, parseDesiredText } from "./desired-state.ts";

/**
 * Where desired state comes from. `current()` is undefined until a document has been received
 * and persisted: "no desired state", on which the reconciler plans nothing (docs/architecture.md#no-desired-state-is-not-an-empty-one).
 */
export interface DesiredProvider {
  current(): Promise<DesiredHostState | undefined>;
  /** `cb` runs after a new document was persisted; returns an unsubscribe function. */
  onChange(cb: () => void): () => void;
}

/** The store's desired cache as providers read it (src/store DesiredCache satisfies it). */
export interface DesiredCacheReader {
  get(): { document: string; source?: string; etag: string | null; receivedAt: number } | undefined;
  /** A value that changes whenever `get()` may answer differently; see the store's cache. */
  stamp?(): string;
}

/** Its writing side too, for providers that persist what they receive. */
export interface DesiredCacheStore extends DesiredCacheReader {
  put(input: { document: string; source: string; etag?: string | null }): unknown;
}

/**
 * The last persisted document, whoever stored it: the hub poller and the file provider write
 * the store's cache and call `notify()`; the reconciler reads it back. One provider for every
 * source, so a restart plans against the last document received, and a fresh store plans
 * nothing (docs/architecture.md#no-desired-state-is-not-an-empty-one).
 */
export function cachedDesiredProvider(cache: DesiredCacheReader): DesiredProvider & {
  notify(): void;
} {
  const listeners = new Set<() => void>();
  return {
    async current() {
      const cached = cache.get();
      if (cached === undefined) return undefined;
      return {
        ...parseDesiredText(cached.document, `cache (${cached.source ?? "store"})`),
        receivedAt: cached.receivedAt,
        ...(cached.source !== undefined ? { source: cached.source } : {}),
        ...(cached.etag !== null ? { etag: cached.etag } : {}),
      };
    },
    onChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    notify() {
      for (const cb of listeners) {
        try {
          cb();
        } catch {
          // One listener's failure must not keep the others from hearing of the change.
        }
      }
    },
  };
}

export interface FileDesiredProviderOptions {
  path: string;
  cache: DesiredCacheStore;
  logger: Logger;
  clock: Clock;
}

/**
 * An operator's `desired_file`. A valid document is persisted into the store's desired cache
 * before it is used, so a restart, or a file that later goes missing or turns invalid, keeps
 * the last good state instead of falling back to "none". An invalid file changes nothing and
 * is reported once per content.
 */
export class FileDesiredProvider implements DesiredProvider {
  private readonly inner: ReturnType<typeof cachedDesiredProvider>;
  private lastSeen: string | undefined;
  private lastProblem: string | undefined;
  readonly source: string;

  constructor(private readonly opts: FileDesiredProviderOptions) {
    this.inner = cachedDesiredProvider(opts.cache);
    this.source = `file:${opts.path}`;
  }

  async current(): Promise<DesiredHostState | undefined> {
    await this.refresh();
    return this.inner.current();
  }

  onChange(cb: () => void): () => void {
    return this.inner.onChange(cb);
  }

  /** Reads the file; persists and announces a new valid document. True when it changed. */
  async refresh(): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(this.opts.path, "utf8");
    } catch (err) {
      this.problem(`cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
      return false;
    }
    if (text === this.lastSeen) return false;
    try {
      parseDesiredText(text, this.source);
    } catch (err) {
      if (!(err instanceof DesiredStateError)) throw err;
      this.lastSeen = text;
      this.problem(err.message);
      return false;
    }
    this.lastProblem = undefined;
    const cached = this.opts.cache.get();
    if (cached?.document !== text || cached.source !== this.source) {
      // Seen only once saved: a document the store could not write is read and saved again
      // on the next refresh instead of being dropped for good.
      this.opts.cache.put({ document: text, source: this.source });
    } else {
      this.lastSeen = text;
      return false;
    }
    this.lastSeen = text;
    this.opts.logger.info("desired state received", { source: this.source });
    this.inner.notify();
    return true;
  }

  /** Polls the file's size and mtime (editors replace files; a watch would lose them). */
  async watch(signal: AbortSignal, intervalMs = 1000): Promise<void> {
    let last = "";
    while (!signal.aborted) {
      const now = await stat(this.opts.path).then(
        (s) => `${s.size}:${s.mtimeMs}:${s.ino}`,
        () => "missing",
      );
      if (now !== last) {
        last = now;
        await this.refresh().catch((err: unknown) => {
          // Not taken: look again on the next tick even though the file did not change.
          last = "";
          this.opts.logger.error("desired state refresh failed", { error: err });
        });
      }
      await this.opts.clock.sleep(intervalMs, signal).catch(() => {});
    }
  }

  private problem(message: string): void {
    if (message === this.lastProblem) return;
    this.lastProblem = message;
    this.opts.logger.warn("desired_file not used; keeping the last persisted desired state", {
      source: this.source,
      problem: message,
    });
  }
}
