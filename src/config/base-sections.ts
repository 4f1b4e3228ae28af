import { z } from "zod";
import { defineSection, type ResolveContext } from "./section.ts";

export type PrivilegedMode = "sudo" | "direct";

export interface PrivilegedConfig {
  /** `sudo`: non-root service user + sudoers allowlist (intended); `direct`: already root. */
  mode: PrivilegedMode;
  sudo_path: string;
}

export type LogLevelSetting = "debug" | "info" | "warn" | "error";

function absolute(ctx: ResolveContext, path: readonly string[], value: string): string {
  if (!value.startsWith("/") || value.includes("\0")) ctx.fail(path, "must be an absolute path");
  return value;
}

export const privilegedSection = defineSection({
  key: "privileged",
  schema: z
    .strictObject({
      mode: z.enum(["sudo", "direct"]).default("sudo"),
      sudo_path: z.string().default("/usr/bin/sudo"),
    })
    .prefault({}),
  env: [
    { path: ["privileged", "mode"], kind: "string" },
    { path: ["privileged", "sudo_path"], kind: "string" },
  ],
  resolve: (raw, ctx): PrivilegedConfig => ({
    mode: raw.mode,
    // A fixed absolute path: sudo found through PATH could be anyone's binary.
    sudo_path: absolute(ctx, ["privileged", "sudo_path"], raw.sudo_path),
  }),
  redact: (c: PrivilegedConfig) => ({ ...c }),
  secrets: () => [],
});

export const stateDirSection = defineSection({
  key: "state_dir",
  schema: z.string().default("/var/lib/felhom-agent"),
  env: [{ path: ["state_dir"], kind: "string" }],
  resolve: (raw, ctx): string => absolute(ctx, ["state_dir"], raw),
  redact: (c: string) => c,
  secrets: () => [],
});

export interface LogConfig {
  level: LogLevelSetting;
  /** Minutes between the daemon's health summaries at info; 0 turns them off. */
  summary_interval_min: number;
}

export const logSection = defineSection({
  key: "log",
  schema: z
    .strictObject({
      level: z.enum(["debug", "info", "warn", "error"]).default("info"),
      // An hour: a quiet day is a couple of dozen lines, and a dead agent shows within one.
      summary_interval_min: z.number().int().min(0).max(1440).default(60),
    })
    .prefault({}),
  env: [
    { path: ["log", "level"], kind: "string" },
    { path: ["log", "summary_interval_min"], kind: "int" },
  ],
  resolve: (raw): LogConfig => ({
    level: raw.level,
    summary_interval_min: raw.summary_interval_min,
  }),
  redact: (c: LogConfig) => ({ ...c }),
  secrets: () => [],
});
