/**
 * Hex digits of the fractional part of pi, computed with Machin's formula in fixed point.
 * Blowfish's initial P-array and S-boxes are exactly these digits, so a test can prove the
 * constant tables without trusting any copy of them.
 */
export function piFractionHex(digits: number): string {
  const guard = 64n;
  const bits = BigInt(digits * 4) + guard;
  const one = 1n << bits;
  const atanInv = (x: bigint): bigint => {
    const x2 = x * x;
    let term = one / x;
    let sum = term;
    for (let k = 1n; term !== 0n; k++) {
      term /= x2;
      const t = term / (2n * k + 1n);
      sum += k % 2n === 1n ? -t : t;
    }
    return sum;
  };
  const pi = 16n * atanInv(5n) - 4n * atanInv(239n);
  const fraction = (pi - 3n * one) >> guard;
  return fraction.toString(16).padStart(digits, "0");
}

/** The first `count` 32-bit words of pi's fractional hex expansion. */
export function piWords(count: number): number[] {
  const hex = piFractionHex(count * 8);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16));
  return out;
}
