import type { AnySection, ConfigOf } from "./section.ts";
import { type AgentConfig, agentSections } from "./sections.ts";

/** A plain object safe to print: the file's shape, secrets replaced with "<redacted>". */
export function redactConfig(cfg: AgentConfig): Record<string, unknown> {
  return redactSections(agentSections, cfg);
}

/** Every secret in the config, for the logger's redaction. */
export function secretsOf(cfg: AgentConfig): string[] {
  return secretsOfSections(agentSections, cfg);
}

export function redactSections<S extends readonly AnySection[]>(
  sections: S,
  cfg: ConfigOf<S>,
): Record<string, unknown> {
  const values = cfg as Record<string, unknown>;
  return Object.fromEntries(sections.map((s) => [s.key, s.redact(values[s.key])]));
}

export function secretsOfSections<S extends readonly AnySection[]>(
  sections: S,
  cfg: ConfigOf<S>,
): string[] {
  const values = cfg as Record<string, unknown>;
  return sections.flatMap((s) => s.secrets(values[s.key])).filter((x) => x !== "");
}
