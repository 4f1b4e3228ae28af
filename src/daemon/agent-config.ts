import { z } from "zod";
import { logSection, privilegedSection, stateDirSection } from "../config/base-sections.ts";
import { type LoadConfigOptions, loadSections } from "../config/load.ts";
import { type ProxmoxConfig, proxmoxSection } from "../config/proxmox-section.ts";
import { redactSections, secretsOfSections } from "../config/redact.ts";
import { type ConfigOf, defineSection, envName } from "../config/section.ts";
import { gateSections } from "../gate/config-section.ts";
import { healthSection, metricsSection } from "../health/config-section.ts";
import { hubSection } from "../hub/config-section.ts";
import { localApiSection } from "../localapi/config-section.ts";
import { backupSection } from "../reconcile/backup-config-section.ts";
import { desiredFileSection, reconcileSection } from "../reconcile/config-section.ts";
import { stateSection } from "../store/config-section.ts";

/**
 * Every top-level key of agent.json. A module that needs settings owns a section (schema,
 * env rows, resolve, redact, secrets) in its own folder, and the composition root lists it here
 * (docs/architecture.md#layers: `config` holds the machinery and never imports the modules); loading, env overrides, unknown-key
 * errors, `config show` and log redaction then cover it.
 */
export const agentSections = [
  proxmoxSection,
  privilegedSection,
  stateDirSection,
  stateSection,
  logSection,
  hubSection,
  localApiSection,
  desiredFileSection,
  reconcileSection,
  backupSection,
  ...gateSections,
  healthSection,
  metricsSection,
] as const;

export type AgentConfig = ConfigOf<typeof agentSections>;

/** Loads, validates and resolves agent.json plus FELHOM_AGENT_* overrides. */
export function loadConfig(opts: LoadConfigOptions): Promise<AgentConfig> {
  return loadSections(agentSections, opts);
}

/** A plain object safe to print: the file's shape, secrets replaced with "<redacted>". */
export function redactConfig(cfg: AgentConfig): Record<string, unknown> {
  return redactSections(agentSections, cfg);
}

/** Every secret in the config, for the logger's redaction. */
export function secretsOf(cfg: AgentConfig): string[] {
  return secretsOfSections(agentSections, cfg);
}

/**
 * The `proxmox` key as commands that never talk to Proxmox see it (`audit`, `op check`): present
 * or absent, any shape, never resolved, so its token file is not even read.
 */
const unusedProxmoxSection = defineSection({
  key: "proxmox",
  schema: z.unknown().optional(),
  env: [],
  resolve: (): undefined => undefined,
  redact: () => undefined,
  secrets: () => [],
});

const offlineSections = [
  unusedProxmoxSection,
  ...agentSections.filter((s) => s !== proxmoxSection),
] as const;

export type OfflineAgentConfig = Omit<AgentConfig, "proxmox">;

/**
 * The configuration without its Proxmox connection: a config without a `proxmox` section is
 * fine, and so, unless `fileOptional: false`, is no config file at all (then the defaults);
 * FELHOM_AGENT_PROXMOX_* variables are allowed and ignored.
 */
export async function loadOfflineConfig(opts: LoadConfigOptions): Promise<OfflineAgentConfig> {
  const { proxmox: _unused, ...rest } = await loadSections(offlineSections, {
    ...opts,
    fileOptional: opts.fileOptional ?? true,
    allowEnv: [...(opts.allowEnv ?? []), ...proxmoxSection.env.map(envName)],
  });
  return rest as OfflineAgentConfig;
}

/**
 * The `proxmox` key for commands that use it when it is there (`status`: the pin check): absent
 * is fine; present, it is validated and resolved exactly as for the daemon.
 */
const optionalProxmoxSection = defineSection({
  key: "proxmox",
  schema: proxmoxSection.schema.optional(),
  env: proxmoxSection.env,
  resolve: (raw, ctx) => (raw === undefined ? undefined : proxmoxSection.resolve(raw, ctx)),
  redact: (c: ProxmoxConfig | undefined) =>
    c === undefined ? undefined : proxmoxSection.redact(c),
  secrets: (c: ProxmoxConfig | undefined) => (c === undefined ? [] : proxmoxSection.secrets(c)),
});

const proxmoxOptionalSections = [
  optionalProxmoxSection,
  ...agentSections.filter((s) => s !== proxmoxSection),
] as const;

export type ProxmoxOptionalAgentConfig = OfflineAgentConfig & {
  proxmox: ProxmoxConfig | undefined;
};

/**
 * The configuration with its Proxmox connection when it has one: a config without a `proxmox`
 * section (or no config file at all) loads, with `proxmox` undefined.
 */
export async function loadProxmoxOptionalConfig(
  opts: LoadConfigOptions,
): Promise<ProxmoxOptionalAgentConfig> {
  return (await loadSections(proxmoxOptionalSections, {
    ...opts,
    fileOptional: opts.fileOptional ?? true,
  })) as ProxmoxOptionalAgentConfig;
}
