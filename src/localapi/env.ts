import type { OperationStatus } from "../ops/types.ts";

/**
 * The guest calling the local API, as the auth middleware resolved it from the token; handlers
 * only read it (never from the caller). Not the store's `GuestIdentity` (a guest incarnation's uid).
 */
export interface CallerGuest {
  vmid: number;
  /** Public token id (never the token). */
  tokenId: string;
  /** The guest incarnation the token belongs to (a vmid is reused, a uid never). */
  guestUid?: string;
}

export interface LocalApiEnv {
  /** What the server tells the app about the connection (server.ts). */
  Bindings: {
    /** The peer's address as the socket saw it; the bootstrap route checks it. */
    remoteAddress?: string;
  };
  Variables: {
    guest: CallerGuest;
    /** Set once a mutation was handed to the queue; read by the audit middleware. */
    operation: OperationStatus | undefined;
  };
}
