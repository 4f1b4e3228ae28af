import { ConfigError } from "../config/errors.ts";
import type { ConfigFs } from "../config/fs.ts";
import {
  type AgentConfig,
  loadConfig,
  loadOfflineConfig,
  loadProxmoxOptionalConfig,
  type OfflineAgentConfig,
  type ProxmoxOptionalAgentConfig,
} from "../daemon/agent-config.ts";
import { type CliContext, CONFIG_HINT, failureLine } from "./context.ts";

/**
 * The agent configuration as every command loads it: `--config` when given (then a missing file
 * is an error), else the default path, with FELHOM_AGENT_* overrides; warnings go to stderr.
 * A configuration error is printed the same way for every command (the error line of
 * context.ts, naming `command`) and gives `undefined`: the caller exits 2
 * (docs/architecture.md#cli-contract).
 */
export async function loadConfigOrReport(
  ctx: CliContext,
  command: string,
  opts: { path?: string; fs?: ConfigFs } = {},
): Promise<AgentConfig | undefined> {
  const path = opts.path ?? ctx.configPath;
  try {
    return await loadConfig({
      ...(path !== undefined ? { path, pathExplicit: true } : {}),
      env: ctx.env,
      ...(opts.fs ? { fs: opts.fs } : {}),
      onWarning: (w) => ctx.stderr(`warning: ${w.key}: ${w.message}\n`),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      ctx.stderr(failureLine(command, `configuration error: ${err.message}`, CONFIG_HINT));
      return undefined;
    }
    throw err;
  }
}

/**
 * The same for commands that never talk to Proxmox (`audit`, `op check`): the `proxmox` section
 * may be missing, and so may the file at the default path.
 */
export async function loadOfflineConfigOrReport(
  ctx: CliContext,
  command: string,
): Promise<OfflineAgentConfig | undefined> {
  try {
    return await loadOfflineConfig({
      ...(ctx.configPath !== undefined ? { path: ctx.configPath, pathExplicit: true } : {}),
      env: ctx.env,
      onWarning: (w) => ctx.stderr(`warning: ${w.key}: ${w.message}\n`),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      ctx.stderr(failureLine(command, `configuration error: ${err.message}`, CONFIG_HINT));
      return undefined;
    }
    throw err;
  }
}

/**
 * The same for commands that use Proxmox only when it is configured (`status`): the `proxmox`
 * section may be missing (then `proxmox` is undefined), but when present it must be valid.
 */
export async function loadProxmoxOptionalConfigOrReport(
  ctx: CliContext,
  command: string,
): Promise<ProxmoxOptionalAgentConfig | undefined> {
  try {
    return await loadProxmoxOptionalConfig({
      ...(ctx.configPath !== undefined ? { path: ctx.configPath, pathExplicit: true } : {}),
      env: ctx.env,
      onWarning: (w) => ctx.stderr(`warning: ${w.key}: ${w.message}\n`),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      ctx.stderr(failureLine(command, `configuration error: ${err.message}`, CONFIG_HINT));
      return undefined;
    }
    throw err;
  }
}
