import { type Say, SetupError, UNIT } from "./names.ts";
import type { SetupRunner } from "./runner.ts";

/**
 * `systemctl is-enabled` and `is-active` print one word (`enabled`, `active`, …) and exit
 * non-zero when the answer is no (docs/proxmox-behaviour.md#systemctl-answers).
 */
export async function ensureService(
  runner: SetupRunner,
  restartNeeded: boolean,
  changed: Say,
  same: Say,
): Promise<void> {
  const must = async (args: string[]) => {
    const r = await runner.run("systemctl", args);
    if (r.code !== 0) {
      throw new SetupError(
        `systemctl ${args.join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}; see systemctl status ${UNIT}`,
      );
    }
  };
  const enabled = await runner.run("systemctl", ["is-enabled", UNIT]);
  if (enabled.stdout.trim() === "enabled") same(`${UNIT} enabled`);
  else {
    await must(["enable", UNIT]);
    changed(`enabled    ${UNIT}`);
  }
  const active = await runner.run("systemctl", ["is-active", UNIT]);
  if (active.stdout.trim() !== "active") {
    await must(["start", UNIT]);
    changed(`started    ${UNIT}`);
  } else if (restartNeeded) {
    await must(["restart", UNIT]);
    changed(`restarted  ${UNIT} (new token or configuration)`);
  } else {
    same(`${UNIT} running`);
  }
}
