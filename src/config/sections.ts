import { gateSections } from "../gate/config-section.ts";
import { hubSection } from "../hub/config-section.ts";
import { localApiSection } from "../localapi/config-section.ts";
import { desiredFileSection, reconcileSection } from "../reconcile/config-section.ts";
import { stateSection } from "../store/config-section.ts";
import { logSection, privilegedSection, stateDirSection } from "./base-sections.ts";
import { proxmoxSection } from "./proxmox-section.ts";
import type { ConfigOf } from "./section.ts";

/**
 * Every top-level key of agent.json. A module that needs settings defines a section (schema,
 * env rows, resolve, redact, secrets) and adds it here; loading, env overrides, unknown-key
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

export const DEFAULT_CONFIG_PATH = "/etc/felhom-agent/agent.json";
