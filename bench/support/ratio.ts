/**
 * Same-run comparison: the agent and its floor or peer measured alternately in one process, so
 * a noisy neighbour slows both alike, and the ratio of the medians is the figure to read
 * (absolute times on a shared machine are not).
 */
export interface Spread {
  min: number;
  median: number;
  max: number;
}

export function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  return {
    min: s[0] ?? Number.NaN,
    median: s[Math.floor(s.length / 2)] ?? Number.NaN,
    max: s[s.length - 1] ?? Number.NaN,
  };
}

export function formatSpread(s: Spread, unit: string, digits = 1): string {
  return `min ${s.min.toFixed(digits)} / median ${s.median.toFixed(digits)} / max ${s.max.toFixed(digits)} ${unit}`;
}

/** Runs every measurement `rounds` times, taking turns, and returns each one's samples. */
export async function alternate<K extends string, V = number>(
  rounds: number,
  measures: Record<K, () => V | Promise<V>>,
): Promise<Record<K, V[]>> {
  const keys = Object.keys(measures) as K[];
  const out = Object.fromEntries(keys.map((k) => [k, [] as V[]])) as Record<K, V[]>;
  for (let i = 0; i < rounds; i++) {
    // Swap the order every round so neither side always runs first.
    const order = i % 2 === 0 ? keys : [...keys].reverse();
    for (const k of order) out[k].push(await measures[k]());
  }
  return out;
}

/** `agent / floor` of the medians, with the goal beside it. */
export function ratioLine(
  label: string,
  agent: number[],
  floor: number[],
  goal: string,
  unit: string,
): string {
  const a = spread(agent);
  const f = spread(floor);
  return [
    `${label}`,
    `  agent: ${formatSpread(a, unit)}`,
    `  floor: ${formatSpread(f, unit)}`,
    `  ratio of medians: ${(a.median / f.median).toFixed(2)}x (goal ${goal})`,
  ].join("\n");
}
