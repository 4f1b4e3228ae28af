import { z } from "zod";

/**
 * A secret sealed by the hub to this host's key, `{"sealed": "<base64>"}`
 * (docs/hub-protocol.md#sealed-secrets). Only the executor that needs it opens it, just
 * before the one request that carries it.
 */
export const sealedSecretSchema = z.strictObject({
  sealed: z
    .string()
    .max(8192)
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, "sealed: not base64"),
});

export type SealedSecret = z.output<typeof sealedSecretSchema>;
