import { z } from "zod";
import { type EnvOverride, readEnvOverrides } from "./env.ts";
import { ConfigError, type ConfigIssue, type ConfigSource, type ConfigWarning } from "./errors.ts";
import { type ConfigFs, describeFsError, fsErrorCode, nodeConfigFs } from "./fs.ts";
import type { AnySection, ConfigOf, EnvField, ResolveContext } from "./section.ts";
import { envName } from "./section.ts";
import { closest } from "./suggest.ts";

export interface LoadConfigOptions {
  /** Config file; DEFAULT_CONFIG_PATH when absent. */
  path?: string;
  /** The path was asked for (`--config`): a missing file is then an error, not "env only". */
  pathExplicit?: boolean;
  env: Record<string, string | undefined>;
  fs?: ConfigFs;
  /** Receives each warning (e.g. insecure TLS); the logger does not exist yet at this point. */
  onWarning?: (warning: ConfigWarning) => void;
  /** FELHOM_AGENT_* names owned by other parts of the program. */
  allowEnv?: readonly string[];
  /**
   * No file at the default path means the defaults (for commands that need no Proxmox
   * connection, which is the one thing a host cannot run without).
   */
  fileOptional?: boolean;
}

export const DEFAULT_CONFIG_PATH = "/etc/felhom-agent/agent.json";

/**
 * Loads, validates and resolves agent.json plus FELHOM_AGENT_* overrides for a list of sections;
 * the agent's own list is assembled in src/daemon/agent-config.ts (docs/architecture.md#layers).
 */
export async function loadSections<S extends readonly AnySection[]>(
  sections: S,
  opts: LoadConfigOptions,
): Promise<ConfigOf<S>> {
  const path = opts.path ?? DEFAULT_CONFIG_PATH;
  const fs = opts.fs ?? nodeConfigFs;
  const table = sections.flatMap((s) => s.env);
  const overrides = readEnvOverrides(table, opts.env, opts.allowEnv);
  const file = await readConfigFile(path, opts.pathExplicit === true, fs);
  const fileFound = file !== undefined;
  if (!fileFound && !opts.fileOptional && !overrides.some((o) => o.field.path[0] === "proxmox")) {
    throw new ConfigError([
      {
        key: path,
        source: "none",
        message:
          `no config file at ${path} and FELHOM_AGENT_PROXMOX_* not set; create the file ` +
          "(see examples/agent.example.json) or set FELHOM_AGENT_PROXMOX_ENDPOINT, " +
          "FELHOM_AGENT_PROXMOX_NODE, FELHOM_AGENT_PROXMOX_TOKEN and one of " +
          "FELHOM_AGENT_PROXMOX_TLS_FINGERPRINT, FELHOM_AGENT_PROXMOX_CA_FILE",
      },
    ]);
  }
  const raw = applyOverrides(file ?? {}, overrides, table);
  const fromEnv = new Map(overrides.map((o) => [o.field.path.join("."), o.name]));
  const envHints = new Map(table.map((f) => [f.path.join("."), envName(f)]));
  const fileSource: ConfigSource = fileFound ? "file" : "none";
  const where = (p: readonly PropertyKey[]): { key: string; source: ConfigSource } => {
    const dotted = p.map(String).join(".");
    for (const [envPath, name] of fromEnv) {
      if (dotted === envPath || dotted.startsWith(`${envPath}.`))
        return { key: name, source: "env" };
    }
    return { key: dotted || "(top level)", source: fileSource };
  };
  const schema = z.strictObject(Object.fromEntries(sections.map((s) => [s.key, s.schema])));
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const missingFile = fileFound ? undefined : path;
    const issues = parsed.error.issues.flatMap((i) =>
      describeIssue(i, raw, schema, where, envHints, missingFile),
    );
    throw new ConfigError(issues as [ConfigIssue, ...ConfigIssue[]], fileFound ? path : undefined);
  }
  const ctx: ResolveContext = {
    fs,
    fail(p, message) {
      throw new ConfigError([{ ...where(p), message }], fileFound ? path : undefined);
    },
    warn(p, message) {
      opts.onWarning?.({ key: where(p).key, message });
    },
    label: (p) => where(p).key,
  };
  const out: Record<string, unknown> = {};
  const values = parsed.data as Record<string, unknown>;
  for (const section of sections)
    out[section.key] = await section.resolve(values[section.key], ctx);
  return out as ConfigOf<S>;
}

async function readConfigFile(
  path: string,
  explicit: boolean,
  fs: ConfigFs,
): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path);
  } catch (err) {
    if (fsErrorCode(err) === "ENOENT" && !explicit) return undefined;
    throw new ConfigError([
      { key: path, source: "file", message: `config file ${describeFsError(err)}` },
    ]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // The parser's message quotes the text near the error, which may be the token.
    throw new ConfigError([
      {
        key: path,
        source: "file",
        message: "is not valid JSON (check quotes, commas and braces; comments are not allowed)",
      },
    ]);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError([{ key: path, source: "file", message: "must hold a JSON object" }]);
  }
  return data as Record<string, unknown>;
}

function applyOverrides(
  file: Record<string, unknown>,
  overrides: readonly EnvOverride[],
  table: readonly EnvField[],
): Record<string, unknown> {
  const root = structuredClone(file);
  const envFields = new Set(overrides.map((o) => o.field));
  // Env choosing one alternative drops the file's other alternatives (see EnvField.group).
  for (const o of overrides) {
    if (!o.field.group || o.value === false) continue;
    for (const f of table) {
      if (f.group === o.field.group && !envFields.has(f)) deletePath(root, f.path);
    }
  }
  for (const o of overrides) setPath(root, o.field.path, o.value);
  return root;
}

function setPath(root: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node: Record<string, unknown> = root;
  for (const seg of path.slice(0, -1)) {
    const next = node[seg];
    if (next === undefined) node[seg] = {};
    else if (next === null || typeof next !== "object" || Array.isArray(next)) return; // zod reports it
    node = node[seg] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function deletePath(root: Record<string, unknown>, path: readonly string[]): void {
  let node: unknown = root;
  for (const seg of path.slice(0, -1)) {
    if (node === null || typeof node !== "object") return;
    node = (node as Record<string, unknown>)[seg];
  }
  if (node !== null && typeof node === "object")
    delete (node as Record<string, unknown>)[path[path.length - 1] as string];
}

type Where = (p: readonly PropertyKey[]) => { key: string; source: ConfigSource };

/** Turns a zod issue into messages that name the key and never quote a value. */
function describeIssue(
  issue: z.core.$ZodIssue,
  raw: unknown,
  schema: z.ZodType,
  where: Where,
  envHints: Map<string, string>,
  missingFile: string | undefined,
): ConfigIssue[] {
  const path = issue.path;
  switch (issue.code) {
    case "unrecognized_keys": {
      const known = knownKeysAt(schema, path);
      return issue.keys.map((k) => {
        const hint = closest(k, known);
        return {
          key: [...path, k].map(String).join("."),
          source: where([...path, k]).source,
          message: `unknown key${hint ? `; did you mean ${hint}?` : ""}`,
        };
      });
    }
    case "invalid_type": {
      const value = valueAt(raw, path);
      if (value === undefined) {
        const env = envHints.get(path.map(String).join("."));
        return [
          {
            ...where(path),
            message: `is required${
              missingFile
                ? ` (no config file at ${missingFile}${env ? `; set ${env}` : ""})`
                : env
                  ? ` (in the file, or set ${env})`
                  : ""
            }`,
          },
        ];
      }
      const got = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
      const expected = issue.expected === "int" ? "an integer" : `a ${issue.expected}`;
      return [{ ...where(path), message: `must be ${expected}, got ${got}` }];
    }
    case "invalid_value":
      return [
        {
          ...where(path),
          message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`,
        },
      ];
    case "too_small":
      return [{ ...where(path), message: `must be at least ${String(issue.minimum)}` }];
    case "too_big":
      return [{ ...where(path), message: `must be at most ${String(issue.maximum)}` }];
    default:
      return [{ ...where(path), message: issue.message }];
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const seg of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[seg];
  }
  return node;
}

interface SchemaDef {
  type?: string;
  shape?: Record<string, { _zod: { def: SchemaDef } }>;
  innerType?: { _zod: { def: SchemaDef } };
}

/** The keys an object schema accepts at `path`, for "did you mean" hints. */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let def = schema._zod.def as SchemaDef;
  const unwrap = () => {
    while (def.innerType) def = def.innerType._zod.def;
  };
  unwrap();
  for (const seg of path) {
    const next = def.shape?.[String(seg)];
    if (!next) return [];
    def = next._zod.def;
    unwrap();
  }
  return Object.keys(def.shape ?? {});
}
