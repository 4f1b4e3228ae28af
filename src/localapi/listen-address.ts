import { isIP } from "node:net";

/** Addresses that bind every interface of the host. */
const WILDCARDS = new Set(["0.0.0.0", "::", "[::]", "*", "", "0:0:0:0:0:0:0:0", "::0"]);

export function isWildcardAddress(address: string): boolean {
  return WILDCARDS.has(address.trim());
}

/**
 * Why a wildcard bind is refused by default: the validation on a real host found the bridge
 * address is the host's LAN address, and a wildcard adds every other interface (management
 * network, VPN, tunnel) on top (docs/architecture.md#local-api). Only pin + bearer + self-scoping would stand
 * between those networks and the API.
 */
export const WILDCARD_REFUSAL =
  "binds every interface of the host, so the local API would be reachable from every network " +
  "the host is on, not only from guests on the bridge; set it to the bridge address (e.g. the " +
  "vmbr0 address), or set local_api.allow_wildcard to true to accept that exposure";

export class ListenAddressError extends Error {
  override readonly name = "ListenAddressError";
  constructor(
    readonly address: string,
    message: string,
  ) {
    super(message);
  }
}

/** Refuses a wildcard unless allowed and anything that is not an IP literal or host name. */
export function checkListenAddress(address: string, allowWildcard: boolean): string {
  const a = address.trim();
  if (isWildcardAddress(a)) {
    if (allowWildcard) return a === "[::]" || a === "*" || a === "" ? "0.0.0.0" : a;
    throw new ListenAddressError(address, `local_api.listen '${address}' ${WILDCARD_REFUSAL}`);
  }
  const bare = a.startsWith("[") && a.endsWith("]") ? a.slice(1, -1) : a;
  if (isIP(bare) === 0 && !/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(bare)) {
    throw new ListenAddressError(
      address,
      `local_api.listen '${address}' is not an IP address or host name`,
    );
  }
  return bare;
}

export type NetworkInterfaces = () => Record<
  string,
  readonly { address: string; family: string | number; internal: boolean }[] | undefined
>;

/**
 * The first IPv4 (else IPv6 non-link-local) address of the bridge, the default listen address:
 * guests reach the host there (docs/architecture.md#local-api).
 */
export function bridgeAddress(bridge: string, interfaces: NetworkInterfaces): string | undefined {
  const addrs = interfaces()[bridge] ?? [];
  const v4 = addrs.find((a) => a.family === "IPv4" || a.family === 4);
  if (v4) return v4.address;
  const v6 = addrs.find(
    (a) => (a.family === "IPv6" || a.family === 6) && !a.address.toLowerCase().startsWith("fe80"),
  );
  return v6?.address;
}
