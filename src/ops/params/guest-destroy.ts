import { z } from "zod";

export const guestDestroyParams = z.strictObject({
  force: z.boolean().optional(),
  purge: z.boolean().optional(),
  destroyUnreferencedDisks: z.boolean().optional(),
});

export type GuestDestroyParams = z.output<typeof guestDestroyParams>;
