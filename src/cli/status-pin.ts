import type { ProxmoxTlsTrust } from "../config/proxmox-section.ts";
import { probeLeaf } from "../proxmox/tls-probe.ts";
import { REPIN_ADVICE } from "../proxmox/transport-errors.ts";
import { parseEndpoint } from "./fingerprint.ts";

/** The certificate the endpoint presents (SHA-256, colon form); nothing else is sent. */
export type PresentedProbe = (host: string, port: number) => Promise<string>;

export interface PinCheck {
  /** `ok`: the pin matches; `changed`: it does not (a problem); `unchecked`: not pinned or not reachable. */
  state: "ok" | "changed" | "unchecked";
  detail: string;
}

const PROBE_TIMEOUT_MS = 3_000;

export const probePresented: PresentedProbe = async (host, port) =>
  (await probeLeaf(host, port, PROBE_TIMEOUT_MS)).fingerprint;

/**
 * Whether the Proxmox certificate still matches the pin, seen the way the daemon sees it: a
 * TLS handshake with nothing sent after it. A mismatch is what the daemon meets too, and it
 * refuses every call until root re-pins (docs/architecture.md#one-command-setup).
 */
export async function checkProxmoxPin(
  proxmox: { endpoint: string; tls: ProxmoxTlsTrust } | undefined,
  probe: PresentedProbe,
): Promise<PinCheck> {
  if (proxmox === undefined) {
    return {
      state: "unchecked",
      detail: "Proxmox is not configured (no proxmox section), so there is no pin to check",
    };
  }
  if (proxmox.tls.kind !== "fingerprint") {
    return { state: "unchecked", detail: `trusted by ${proxmox.tls.kind}, not by a pin` };
  }
  const pinned = proxmox.tls.sha256;
  let presented: string;
  try {
    const { host, port } = parseEndpoint(proxmox.endpoint);
    presented = await probe(host, port);
  } catch (err) {
    return {
      state: "unchecked",
      detail: `${proxmox.endpoint} not reachable: ${(err as Error).message}`,
    };
  }
  if (presented === pinned) return { state: "ok", detail: `matches the pin ${pinned}` };
  return {
    state: "changed",
    detail: `${REPIN_ADVICE} (pinned ${pinned}, ${proxmox.endpoint} presents ${presented})`,
  };
}
