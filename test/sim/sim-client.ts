import type { PveSimulator } from "../../src/sim/pve/index.ts";

export interface SimResponse {
  status: number;
  statusText: string;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test helper returns raw decoded JSON
  body: any;
}

export interface CallOptions {
  token?: string | null;
  params?: Record<string, string | number>;
  json?: Record<string, unknown>;
  query?: Record<string, string | number>;
}

/** A small test client: real TLS trusting only the simulator's certificate, connections reused. */
export function simClient(sim: PveSimulator) {
  const session = new Bun.FetchSession({ tls: { ca: sim.certPem } });
  async function call(method: string, path: string, opts: CallOptions = {}): Promise<SimResponse> {
    const headers: Record<string, string> = {};
    const token = opts.token === undefined ? sim.tokens.agent : opts.token;
    if (token !== null) headers.authorization = `PVEAPIToken=${token}`;
    let url = `${sim.endpoint}/api2/json${path}`;
    let body: string | undefined;
    const query = { ...(opts.query ?? {}) };
    if (opts.params !== undefined) {
      if (method === "GET" || method === "DELETE") Object.assign(query, opts.params);
      else {
        headers["content-type"] = "application/x-www-form-urlencoded";
        body = new URLSearchParams(
          Object.entries(opts.params).map(([k, v]): [string, string] => [k, String(v)]),
        ).toString();
      }
    }
    if (opts.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.json);
    }
    const qs = new URLSearchParams(
      Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]),
    );
    if ([...qs].length > 0) url += `?${qs}`;
    const res = await session.fetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text();
    return {
      status: res.status,
      statusText: res.statusText,
      text,
      body: text === "" ? undefined : JSON.parse(text),
    };
  }
  return { call, close: () => session.close() };
}
