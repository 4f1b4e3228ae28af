import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CliContext } from "../../src/cli/context.ts";

/** A config file in a temp dir whose state_dir is a sibling temp dir. */
export class CliTemp {
  readonly dir = mkdtempSync(join(tmpdir(), "felhom-cli-localapi-"));
  readonly stateDir = join(this.dir, "state");
  readonly configPath = join(this.dir, "agent.json");
  out = "";
  err = "";

  constructor(localApi: Record<string, unknown> = { listen: "127.0.0.1" }, withSection = true) {
    const cfg: Record<string, unknown> = {
      proxmox: {
        endpoint: "https://127.0.0.1:8006",
        node: "pve1",
        token: "felhom-agent@pve!agent=00000000-0000-4000-8000-000000000000",
        tls: { fingerprint: `${"AA:".repeat(31)}AA` },
      },
      state_dir: this.stateDir,
    };
    if (withSection) cfg.local_api = localApi;
    writeFileSync(this.configPath, JSON.stringify(cfg));
  }

  ctx(): CliContext {
    this.out = "";
    this.err = "";
    return {
      env: {},
      configPath: this.configPath,
      stdout: (t) => {
        this.out += t;
      },
      stderr: (t) => {
        this.err += t;
      },
    };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
