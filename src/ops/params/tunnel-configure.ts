import { z } from "zod";
import { sealedSecretSchema } from "./sealed.ts";

/**
 * `tunnel.configure`: the Cloudflare tunnel token for this host, sealed by the hub to the
 * host's key (docs/hub-protocol.md#sealed-secrets), so it never travels or rests in clear in a
 * job, the journal or an audit row (docs/health.md#the-tunnel).
 */
export const tunnelConfigureParams = z.strictObject({ token: sealedSecretSchema });

export type TunnelConfigureParams = z.output<typeof tunnelConfigureParams>;
