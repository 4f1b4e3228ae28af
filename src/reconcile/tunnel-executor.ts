import {
  type TunnelConfigureParams,
  tunnelConfigureParams,
} from "../ops/params/tunnel-configure.ts";
import type { ApiHostExecutor } from "./storage-executors.ts";

/** Where the tunnel token lives for cloudflared's `--token-file` (docs/health.md#the-tunnel). */
export interface TunnelTokenFile {
  /** Replaces the file atomically, mode 0640; the token is never logged. */
  write(token: string): Promise<void>;
  /** Whether the file already holds exactly this token. */
  holds(token: string): Promise<boolean>;
}

/**
 * `tunnel.configure`: opens the sealed token with the host key and writes the token file. The
 * root-owned path unit install.sh puts in place restarts cloudflared when the file changes, so
 * the agent needs no sudo rule for it. Signed (src/gate/README.md): a wrong token takes the
 * customer's domain down. Idempotent: a restart after the write finds the file holding the
 * token (`inEffect`) and settles the entry without writing again.
 */
export const tunnelConfigure: ApiHostExecutor<TunnelConfigureParams> = {
  parseParams: (raw) => tunnelConfigureParams.parse(raw),
  subject: () => "tunnel",
  async run(deps, p, step) {
    const file = deps.tunnelToken;
    if (file === undefined) throw new Error("this agent has no tunnel token file configured");
    const token = deps.openSecret(p.token).trim();
    if (!/^[A-Za-z0-9+/=_-]{20,4096}$/.test(token)) {
      // Not repeated: whatever it is, it came sealed and may be a secret all the same.
      throw new Error("the opened tunnel token is not in the form cloudflared takes");
    }
    if (await file.holds(token)) return { tunnel: "configured", changed: false };
    await file.write(token);
    await step("post_returned");
    return { tunnel: "configured", changed: true };
  },
  async inEffect(deps, p) {
    const file = deps.tunnelToken;
    if (file === undefined) return false;
    return file.holds(deps.openSecret(p.token).trim());
  },
};
