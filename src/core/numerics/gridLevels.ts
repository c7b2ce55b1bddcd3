/**
 * The per-element rules of the multiplier-free weight grids (compress/lowBitGrids.ts), below both
 * the figures and the compressor so the weight SQNR estimate (weightSqnr.ts) measures exactly the
 * grids the compressor writes without importing the compressor.
 */

/** Multiplier-free weight grids (compress/lowBitGrids.ts). */
export const WEIGHT_GRIDS = ['pow2', 'ternary', 'binary'] as const;
export type WeightGrid = (typeof WEIGHT_GRIDS)[number];

/** TWN's threshold factor: Δ = 0.7 · mean|w|. */
export const TERNARY_THRESHOLD = 0.7;

/** Largest exponent of an N-bit pow2 grid (N−2: 8 bits → ±64). */
export function pow2MaxExponent(bits: number): number {
  return bits - 2;
}

/** The pow2 integer level (0 or ±2^k) of r = w / scale. */
export function pow2Level(r: number, maxExponent: number): number {
  const a = Math.abs(r);
  if (!(a >= 0.5)) return 0;
  const k = Math.min(maxExponent, Math.max(0, Math.round(Math.log2(a))));
  return Math.sign(r) * 2 ** k;
}

/**
 * The integer level of weight `w` in its channel: pow2 rounds w / levelScale in the log domain;
 * ternary is ±1 beyond the threshold `delta` (0.7·mean|w|), else 0; binary is the sign (0 → +1).
 */
export function gridLevel(
  grid: WeightGrid,
  w: number,
  levelScale: number,
  delta: number,
  maxExponent: number,
): number {
  if (grid === 'pow2') return pow2Level(w / levelScale, maxExponent);
  if (grid === 'ternary') return Math.abs(w) > delta ? Math.sign(w) : 0;
  return w < 0 ? -1 : 1;
}

/** A stored float32 scale: positive and finite, else 1. */
export function safeScale(s: number): number {
  const f = Math.fround(s);
  return f > 0 && Number.isFinite(f) ? f : 1;
}
