import type { OperationStatus } from "../ops/types.ts";

/** The identity the auth middleware attaches; handlers only read it (never from the caller). */
export interface GuestIdentity {
  vmid: number;
  /** Public token id (never the token). */
  tokenId: string;
  /** The guest incarnation the token belongs to (a vmid is reused, a uid never). */
  guestUid?: string;
}

export interface LocalApiEnv {
  Variables: {
    guest: GuestIdentity;
    /** Set once a mutation was handed to the queue; read by the audit middleware. */
    operation: OperationStatus | undefined;
  };
}
