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
export function loadConfigOrReport(
  ctx: CliContext,
  command: string,
  opts: { path?: string; fs?: ConfigFs } = {},
): Promise<AgentConfig | undefined> {
  return loadReporting(ctx, command, loadConfig, opts);
}

/**
 * The same for commands that never talk to Proxmox (`audit`, `op check`): the `proxmox` section
 * may be missing, and so may the file at the default path.
 */
export function loadOfflineConfigOrReport(
  ctx: CliContext,
  command: string,
): Promise<OfflineAgentConfig | undefined> {
  return loadReporting(ctx, command, loadOfflineConfig);
}

/**
 * The same for commands that use Proxmox only when it is configured (`status`): the `proxmox`
 * section may be missing (then `proxmox` is undefined), but when present it must be valid.
 */
export function loadProxmoxOptionalConfigOrReport(
  ctx: CliContext,
  command: string,
): Promise<ProxmoxOptionalAgentConfig | undefined> {
  return loadReporting(ctx, command, loadProxmoxOptionalConfig);
}

type Loader<T> = (opts: Parameters<typeof loadConfig>[0]) => Promise<T>;

/**
 * Runs one of the config loaders with the command line's path and environment, printing a
 * configuration error as the one error line naming `command` (undefined: the caller exits 2).
 */
async function loadReporting<T>(
  ctx: CliContext,
  command: string,
  load: Loader<T>,
  opts: { path?: string; fs?: ConfigFs } = {},
): Promise<T | undefined> {
  const path = opts.path ?? ctx.configPath;
  try {
    return await load({
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
