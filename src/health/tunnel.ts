import { z } from "zod";
import type { TunnelHealth } from "./types.ts";

/** cloudflared's `/ready` body (docs/proxmox-behaviour.md#cloudflared-ready). */
const readySchema = z.looseObject({
  status: z.number().int(),
  readyConnections: z.number().int().nonnegative(),
  connectorId: z.string().optional(),
});

/**
 * The tunnel collector: cloudflared's readiness on its loopback metrics port. `/ready` answers
 * 503 with the same JSON body when no connection is up, so 503 is data, not a failure.
 */
export async function collectTunnel(
  url: string,
  signal: AbortSignal,
  fetchImpl: typeof fetch = fetch,
): Promise<TunnelHealth> {
  const res = await fetchImpl(url, { signal, redirect: "error" });
  const body = await res.text();
  if (res.status !== 200 && res.status !== 503) {
    throw new Error(`cloudflared /ready answered HTTP ${res.status}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new Error("cloudflared /ready answered something that is not JSON");
  }
  const r = readySchema.safeParse(json);
  if (!r.success) throw new Error("cloudflared /ready answered an unexpected shape");
  return { readyConnections: r.data.readyConnections, connectorId: r.data.connectorId ?? null };
}
