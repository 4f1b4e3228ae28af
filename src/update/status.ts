import type { UpdateAttempt } from "../store/agent-updates.ts";
import { linkedVersion, type UpdateLayout } from "./layout.ts";

/** `update status --json`: what runs, what it would fall back to, and the last attempt. */
export interface UpdateStatus {
  current: string | null;
  previous: string | null;
  last_attempt: {
    id: number;
    version: string;
    from: string;
    target: string;
    step: string;
    reason: string | null;
    started: string;
    updated: string;
  } | null;
}

export function updateStatus(layout: UpdateLayout, last: UpdateAttempt | undefined): UpdateStatus {
  return {
    current: linkedVersion(layout.current) ?? null,
    previous: linkedVersion(layout.previous) ?? null,
    last_attempt:
      last === undefined
        ? null
        : {
            id: last.id,
            version: last.version,
            from: last.fromVersion,
            target: last.target,
            step: last.step,
            reason: last.reason,
            started: new Date(last.createdAt).toISOString(),
            updated: new Date(last.updatedAt).toISOString(),
          },
  };
}

export function updateStatusText(s: UpdateStatus): string {
  const lines = [
    `current:  ${s.current ?? "(no versions layout: not installed by install.sh)"}`,
    `previous: ${s.previous ?? "(none)"}`,
  ];
  const a = s.last_attempt;
  if (a === null) {
    lines.push("last update: (none)");
  } else {
    lines.push(
      `last update: ${a.from} -> ${a.version} (${a.target}), ${a.step}${a.reason ? `: ${a.reason}` : ""}`,
      `  started ${a.started}, last step ${a.updated}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
