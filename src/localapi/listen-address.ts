import { formatIpLiteral, isUnspecified, parseIpLiteral } from "./ip-literal.ts";

/** Spellings that are not IP literals but that listeners read as "every interface". */
const WILDCARD_WORDS = new Set(["*", ""]);

/**
 * Whether binding `address` listens on every interface. Decided on the parsed value, so every
 * spelling of the unspecified address counts: `0`, `0x0`, `00.0.0.0`, `::`, `[::0]`,
 * `0:0:0:0:0:0:0:0`, `::ffff:0.0.0.0` (see ip-literal.ts for the forms the OS accepts).
 */
export function isWildcardAddress(address: string): boolean {
  const a = address.trim();
  if (WILDCARD_WORDS.has(a)) return true;
  const ip = parseIpLiteral(a);
  return ip !== undefined && isUnspecified(ip);
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

const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
/** A last label the resolver would read as a number (WHATWG "ends in a number"). */
const NUMERIC_LABEL = /^(?:[0-9]+|0[xX][0-9A-Fa-f]*)$/;

/**
 * The address to bind, in canonical form: an IP literal is parsed and re-written (so the socket
 * gets exactly the value that was checked), a host name is kept. Refuses every spelling of a
 * wildcard unless allowed, and anything that is neither an IP literal nor a host name, including
 * names that only look numeric (`1.2.3.256`), which a resolver might still turn into an address.
 */
export function checkListenAddress(address: string, allowWildcard: boolean): string {
  const a = address.trim();
  const ip = WILDCARD_WORDS.has(a) ? undefined : parseIpLiteral(a);
  if (WILDCARD_WORDS.has(a) || (ip !== undefined && isUnspecified(ip))) {
    if (!allowWildcard) {
      throw new ListenAddressError(address, `local_api.listen '${address}' ${WILDCARD_REFUSAL}`);
    }
    return ip?.family === 6 ? "::" : "0.0.0.0";
  }
  if (ip !== undefined) return formatIpLiteral(ip);
  const lastLabel = a.slice(a.lastIndexOf(".") + 1);
  if (!HOST_NAME.test(a) || NUMERIC_LABEL.test(lastLabel)) {
    throw new ListenAddressError(
      address,
      `local_api.listen '${address}' is not an IP address or host name`,
    );
  }
  return a;
}

/** How a host name becomes addresses (node:dns `lookup` with `all: true`); injected in tests. */
export type HostLookup = (host: string) => Promise<readonly { address: string }[]>;

/**
 * A host name is bound as the resolver answers it, and /etc/hosts or DNS may answer with a
 * wildcard (`name 0.0.0.0`). So a name is resolved before binding and refused like a wildcard
 * spelling when any of its addresses is one. IP literals were decided by checkListenAddress.
 */
export async function checkListenName(
  listen: string,
  allowWildcard: boolean,
  lookup: HostLookup,
): Promise<void> {
  if (allowWildcard || WILDCARD_WORDS.has(listen) || parseIpLiteral(listen) !== undefined) return;
  let addresses: readonly { address: string }[];
  try {
    addresses = await lookup(listen);
  } catch (err) {
    throw new ListenAddressError(
      listen,
      `local_api.listen '${listen}' does not resolve: ${(err as Error).message}`,
    );
  }
  const wildcard = addresses.find((a) => isWildcardAddress(a.address));
  if (wildcard !== undefined) {
    throw new ListenAddressError(
      listen,
      `local_api.listen '${listen}' resolves to ${wildcard.address}, which ${WILDCARD_REFUSAL}`,
    );
  }
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
