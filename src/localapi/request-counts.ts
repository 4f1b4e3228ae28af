import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";

/** One counter per route pattern and status, for `felhom_localapi_requests_total`. */
export interface RequestCount {
  route: string;
  status: number;
  count: number;
}

/**
 * Counts local-API answers by route pattern (never the concrete path: a snapshot name or an
 * operation id would make one series per value) and status (docs/health.md#metrics). Bounded
 * by the route table: a request no route matched counts as `unmatched`.
 */
export class RequestCounts {
  private readonly counts = new Map<string, RequestCount>();

  middleware(): MiddlewareHandler {
    return async (c, next) => {
      await next();
      const pattern = routePath(c, -1);
      this.add(pattern.endsWith("*") ? "unmatched" : pattern, c.res.status);
    };
  }

  add(route: string, status: number): void {
    const key = `${route} ${status}`;
    const row = this.counts.get(key);
    if (row) row.count++;
    else this.counts.set(key, { route, status, count: 1 });
  }

  list(): RequestCount[] {
    return [...this.counts.values()].map((r) => ({ ...r }));
  }
}
