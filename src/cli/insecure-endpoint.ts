import type { ProxmoxConfig } from "../config/proxmox-section.ts";
import { parseIpLiteral } from "../localapi/ip-literal.ts";

/**
 * Whether an endpoint's host is this machine's loopback: `localhost`, 127.0.0.0/8 (in any form
 * the OS reads, see ip-literal.ts), ::1, or ::ffff:127.x. Traffic to it never leaves the host,
 * so skipping certificate verification cannot hand the token to another machine.
 */
export function isLoopbackEndpoint(endpoint: string): boolean {
  let host: string;
  try {
    host = new URL(endpoint).hostname;
  } catch {
    return false;
  }
  if (host.toLowerCase() === "localhost") return true;
  const ip = parseIpLiteral(host);
  if (ip === undefined) return false;
  if (ip.family === 4) return ip.bytes[0] === 127;
  const b = ip.bytes;
  if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1) return true;
  const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  return mapped && b[12] === 127;
}

/**
 * Why `run` refuses this Proxmox configuration, or undefined. The daemon holds the token for
 * good, so it never sends it over an unverified connection to another machine:
 * insecure_skip_verify is for a Proxmox (or simulator) on the same host only.
 */
export function insecureRunRefusal(proxmox: ProxmoxConfig): string | undefined {
  if (proxmox.tls.kind !== "insecure" || isLoopbackEndpoint(proxmox.endpoint)) return undefined;
  return (
    `proxmox.tls.insecure_skip_verify is refused for 'run' with endpoint ${proxmox.endpoint}: ` +
    "without verification anyone on the path could read the API token. Pin the certificate " +
    "instead (felhom-agent fingerprint --endpoint URL prints the proxmox.tls.fingerprint line); " +
    "insecure_skip_verify is accepted only for a loopback endpoint (127.0.0.0/8, ::1, localhost)"
  );
}
