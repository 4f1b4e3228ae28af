import type { Signer } from "../authz/signers.ts";
import { type LoadConfigOptions, loadSections } from "../config/load.ts";
import type { AnySection } from "../config/section.ts";
import { type AgentConfig, agentSections } from "../config/sections.ts";
import { type GateConfig, gateSections } from "./config-section.ts";

export type AgentConfigWithGate = AgentConfig & {
  host_id: string | undefined;
  signers: Signer[];
  gate: GateConfig;
};

/**
 * The agent config with `host_id`, `signers` and `gate`, whether or not sections.ts lists them
 * yet (listing a key twice would make it ambiguous).
 */
export async function loadConfigWithGate(opts: LoadConfigOptions): Promise<AgentConfigWithGate> {
  const base = agentSections as readonly AnySection[];
  const listed = new Set(base.map((s) => s.key));
  const sections = [...base, ...gateSections.filter((s) => !listed.has(s.key))];
  return (await loadSections(sections, opts)) as AgentConfigWithGate;
}
