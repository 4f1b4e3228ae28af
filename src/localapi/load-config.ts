import { type LoadConfigOptions, loadSections } from "../config/load.ts";
import type { AnySection } from "../config/section.ts";
import { type AgentConfig, agentSections } from "../config/sections.ts";
import { type LocalApiConfig, localApiSection } from "./config-section.ts";

/**
 * The agent config with its `local_api` section, whether or not the section is listed in
 * sections.ts yet (listing it twice would make the key ambiguous).
 */
export async function loadConfigWithLocalApi(
  opts: LoadConfigOptions,
): Promise<AgentConfig & { local_api: LocalApiConfig }> {
  const base = agentSections as readonly AnySection[];
  const sections = base.some((s) => s.key === localApiSection.key)
    ? base
    : [...base, localApiSection];
  return (await loadSections(sections, opts)) as AgentConfig & { local_api: LocalApiConfig };
}
