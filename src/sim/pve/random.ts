/** A seeded pseudo-random source, so fault injection and generated MACs are reproducible. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
}

/** mulberry32: tiny, fast and good enough for test fault decisions. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return {
    next() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** A locally administered unicast MAC in the form PVE writes (`BC:24:11:…` style, uppercase). */
export function randomMac(rng: Random): string {
  const bytes = [0xbc, 0x24, 0x11, 0, 0, 0].map((b, i) =>
    i < 3 ? b : Math.floor(rng.next() * 256),
  );
  return bytes.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join(":");
}
