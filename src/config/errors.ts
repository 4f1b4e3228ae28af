/** Where a rejected setting came from. */
export type ConfigSource = "file" | "env" | "none";

/** One problem with the configuration. `key` is a config path or an env var name. */
export interface ConfigIssue {
  key: string;
  message: string;
  source: ConfigSource;
}

/**
 * The configuration cannot be used. The message names the key (or env var) and the fix; it
 * never contains a secret value, because config errors are printed and logged.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly key: string;
  readonly source: ConfigSource;
  /** The config file involved, when there is one. */
  readonly file: string | undefined;
  /** Every problem found; the first is also in key/source. */
  readonly issues: ConfigIssue[];

  constructor(issues: [ConfigIssue, ...ConfigIssue[]], file?: string) {
    const where = (i: ConfigIssue) => (i.source === "file" && file ? ` (in ${file})` : "");
    super(issues.map((i) => `${i.key}: ${i.message}${where(i)}`).join("; "));
    this.key = issues[0].key;
    this.source = issues[0].source;
    this.file = file;
    this.issues = issues;
  }
}

/** Something that works but should be fixed (e.g. a group-readable token file). */
export interface ConfigWarning {
  key: string;
  message: string;
}
