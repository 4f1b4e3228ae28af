import type { AnySection, ConfigOf } from "./section.ts";

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
