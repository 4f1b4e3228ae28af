import type { Privileged } from "../proxmox/privileged.ts";
import type { Temperature } from "./types.ts";

// The kernel reports a missing NVMe limit as 65261.85 °C and a missing minimum as -273.15
// (docs/proxmox-behaviour.md#smartctl-and-sensors-json); no real limit lies outside this.
const plausible = (c: number | undefined) => c !== undefined && c > 0 && c < 150;

/** The sensors collector: every temperature `sensors -j` shows, with plausible limits only. */
export async function collectSensors(p: Pick<Privileged, "sensors">): Promise<Temperature[]> {
  const r = await p.sensors();
  return r.temperatures.map((t) => ({
    chip: t.chip,
    feature: t.feature,
    celsius: t.celsius,
    ...(plausible(t.max) ? { max: t.max } : {}),
    ...(plausible(t.crit) ? { crit: t.crit } : {}),
  }));
}
