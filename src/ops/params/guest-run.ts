import { z } from "zod";

/** `guest.start` and `guest.stop` take no parameters. */
export const guestStartParams = z.strictObject({});
export const guestStopParams = z.strictObject({});

export const guestShutdownParams = z.strictObject({
  /** Seconds PVE waits for the guest to power off. */
  timeoutSec: z.number().int().min(0).max(3600).optional(),
  /** Stop hard when the timeout passes, so the desired state is reached. */
  forceStop: z.boolean().optional(),
});

export type GuestShutdownParams = z.output<typeof guestShutdownParams>;
