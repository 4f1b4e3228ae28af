import { timingSafeEqual } from "node:crypto";
import { chmod, readFile } from "node:fs/promises";
import { writeFileAtomic } from "../hub/atomic-file.ts";
import type { TunnelTokenFile } from "../reconcile/tunnel-executor.ts";

/**
 * The tunnel token file (docs/health.md#the-tunnel): written atomically in a directory
 * install.sh creates set-group-id to `cloudflared`, so the new file is readable by
 * cloudflared's group without the agent being a member; mode 0640 whatever the umask.
 */
export function tunnelTokenFile(path: string): TunnelTokenFile {
  return {
    async write(token) {
      await writeFileAtomic(path, `${token}\n`, { mode: 0o640 });
      await chmod(path, 0o640);
    },
    async holds(token) {
      const have = await readFile(path, "utf8").catch(() => undefined);
      if (have === undefined) return false;
      const a = Buffer.from(have.trim());
      const b = Buffer.from(token);
      return a.length === b.length && timingSafeEqual(a, b);
    },
  };
}
