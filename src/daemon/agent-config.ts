import { logSection, privilegedSection, stateDirSection } from "../config/base-sections.ts";
import { type LoadConfigOptions, loadSections } from "../config/load.ts";
import { proxmoxSection } from "../config/proxmox-section.ts";
import { redactSections, secretsOfSections } from "../config/redact.ts";
import type { ConfigOf } from "../config/section.ts";
import { gateSections } from "../gate/config-section.ts";
import { hubSection } from "../hub/config-section.ts";
import { localApiSection } from "../localapi/config-section.ts";
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
  ...gateSections,
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
