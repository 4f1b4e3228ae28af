import type { z } from "zod";
import type { ConfigFs } from "./fs.ts";

/** How an env override's text is parsed. */
export type EnvKind = "string" | "int" | "bool";

/**
 * One env override. The variable name is derived from the path (see envName), so adding an
 * overridable field is one row in its section's table.
 */
export interface EnvField {
  /** Full config path, e.g. ["proxmox", "tls", "fingerprint"]. */
  readonly path: readonly string[];
  readonly kind: EnvKind;
  /**
   * Fields of one group are alternatives (token vs token_file; the TLS trust modes). When env
   * sets one of them, the file's value for the others is dropped, so env can switch the mode
   * instead of producing a conflict.
   */
  readonly group?: string;
  /** Only for a name fixed elsewhere that differs from the derived one. */
  readonly name?: string;
}

export const ENV_PREFIX = "FELHOM_AGENT_";

export function envName(field: EnvField): string {
  return field.name ?? ENV_PREFIX + field.path.join("_").toUpperCase();
}

/** What a section's resolver may use: files, and errors/warnings that name the right key. */
export interface ResolveContext {
  readonly fs: ConfigFs;
  /** Throws a ConfigError for `path`, named by its env var when env set it. */
  fail(path: readonly string[], message: string): never;
  warn(path: readonly string[], message: string): void;
  /** How to name `path` in a message: its env var when env set it, else the dotted path. */
  label(path: readonly string[]): string;
}

/**
 * A top-level config key: its strict zod schema (the file form), its env table, and how the
 * validated value becomes the resolved one. Other modules add their settings by defining a
 * section and listing it in src/daemon/agent-config.ts.
 */
export interface ConfigSection<K extends string, Raw, Resolved> {
  readonly key: K;
  /** Strict (unknown keys rejected); must accept `undefined` when the section is optional. */
  readonly schema: z.ZodType<Raw>;
  readonly env: readonly EnvField[];
  /** Cross-field rules and checks that need files; may read secrets from files. */
  resolve(raw: Raw, ctx: ResolveContext): Promise<Resolved> | Resolved;
  /** A plain value safe to print: secrets replaced with "<redacted>". */
  redact(value: Resolved): unknown;
  /** Every secret string in the value, for the logger's redaction. */
  secrets(value: Resolved): string[];
}

// biome-ignore lint/suspicious/noExplicitAny: the section list is heterogeneous by design
export type AnySection = ConfigSection<string, any, any>;

/** The resolved config type of a list of sections. */
export type ConfigOf<S extends readonly AnySection[]> = {
  [E in S[number] as E["key"]]: E extends ConfigSection<string, infer _Raw, infer R> ? R : never;
};

export function defineSection<K extends string, Raw, Resolved>(
  section: ConfigSection<K, Raw, Resolved>,
): ConfigSection<K, Raw, Resolved> {
  return section;
}

export const REDACTED = "<redacted>";
