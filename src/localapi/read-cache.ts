import type { Clock } from "../util/clock.ts";

interface Entry {
  at: number;
  value: Promise<unknown>;
}

/**
 * Short-lived memo of Proxmox reads per key (`101:status`). Concurrent callers share one
 * in-flight request, so a guest polling in a tight loop costs Proxmox at most one read per key
 * per `ttlMs`. A failed read is not kept.
 */
export class ReadCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    const now = this.clock.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value as Promise<T>;
    const value = load();
    if (this.ttlMs <= 0) return value;
    const entry: Entry = { at: now, value };
    this.entries.set(key, entry);
    value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    if (this.entries.size > 4096) this.prune(now);
    return value;
  }

  /** Drops every entry of a guest, after it changed something. */
  invalidate(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }

  private prune(now: number): void {
    for (const [k, e] of this.entries) if (now - e.at >= this.ttlMs) this.entries.delete(k);
  }
}
