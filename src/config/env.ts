import { ConfigError } from "./errors.ts";
import { ENV_PREFIX, type EnvField, envName } from "./section.ts";
import { closest } from "./suggest.ts";

export interface EnvOverride {
  field: EnvField;
  name: string;
  value: string | number | boolean;
}

/**
 * Reads the FELHOM_AGENT_* variables of `table`. An unknown FELHOM_AGENT_* variable is an error
 * (a typo would otherwise silently leave the file's value in force); `allow` lists names that
 * other parts of the program own.
 */
export function readEnvOverrides(
  table: readonly EnvField[],
  env: Record<string, string | undefined>,
  allow: readonly string[] = [],
): EnvOverride[] {
  const byName = new Map(table.map((f) => [envName(f), f]));
  const out: EnvOverride[] = [];
  for (const name of Object.keys(env).sort()) {
    const text = env[name];
    if (!name.startsWith(ENV_PREFIX) || text === undefined || allow.includes(name)) continue;
    const field = byName.get(name);
    if (!field) {
      const hint = closest(name, byName.keys());
      fail(name, `unknown variable${hint ? `; did you mean ${hint}?` : ""}`);
    }
    out.push({ field, name, value: parseEnvValue(name, field, text) });
  }
  return out;
}

function parseEnvValue(name: string, field: EnvField, text: string): string | number | boolean {
  // Values are never echoed: a token variable holds a secret.
  if (text.trim() === "") fail(name, "is set but empty; unset it or give a value");
  switch (field.kind) {
    case "string":
      return text;
    case "int": {
      const n = Number(text.trim());
      if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) {
        fail(name, "is not an integer");
      }
      return n;
    }
    case "bool": {
      const t = text.trim().toLowerCase();
      if (t === "true" || t === "1") return true;
      if (t === "false" || t === "0") return false;
      return fail(name, "is not a boolean (true, false, 1 or 0)");
    }
  }
}

function fail(name: string, message: string): never {
  throw new ConfigError([{ key: name, message, source: "env" }]);
}
