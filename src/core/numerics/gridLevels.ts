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

/** Entries of a pow2Thresholds table: enough for pow2 grids of up to 10 bits. */
export const POW2_THRESHOLDS = 8;
/** How far either side of √2·2^k pow2Thresholds checks Math.log2 (ulps). */
const THRESHOLD_WINDOW = 128;
const thresholdCache = new Map<number, Float64Array | null>();

/**
 * The magnitudes where pow2Level steps up, found with Math.log2 itself so that comparisons give
 * exactly its levels (pow2LevelFromThresholds): entry k is the smallest a with
 * Math.round(Math.log2(a)) ≥ k + 1, for k = 0 … maxExponent − 1, then NaN up to POW2_THRESHOLDS
 * (no r is ≥ NaN). That is not simply the double above √2·2^k: from k = 2 on, log2 of the doubles
 * just below it rounds to k + ½ exactly and Math.round takes that up (1 ulp below √2·2^k at
 * k = 2, 2 ulps at k = 4 in V8). Each step is located by scanning ±THRESHOLD_WINDOW ulps around
 * √2·2^k and checking there is exactly one; beyond that window log2 is more than 2e-14 away
 * from k + ½, far more than its rounding error. Undefined (use pow2Level) when a step does not
 * check out or maxExponent is outside 0 … POW2_THRESHOLDS.
 */
export function pow2Thresholds(maxExponent: number): Float64Array | undefined {
  if (!Number.isInteger(maxExponent) || maxExponent < 0 || maxExponent > POW2_THRESHOLDS) {
    return undefined;
  }
  const cached = thresholdCache.get(maxExponent);
  if (cached !== undefined) return cached ?? undefined;
  let table: Float64Array | null = new Float64Array(POW2_THRESHOLDS).fill(NaN);
  const bits = new BigInt64Array(1);
  const value = new Float64Array(bits.buffer);
  for (let k = 0; k < maxExponent; k++) {
    // The doubles from THRESHOLD_WINDOW ulps below √2·2^k to as many above: below the step up
    // to some value (not the first), above it from there on.
    value[0] = Math.SQRT2 * 2 ** k;
    bits[0] -= BigInt(THRESHOLD_WINDOW);
    let first = -1;
    let monotone = true;
    for (let i = 0; i <= 2 * THRESHOLD_WINDOW; i++, bits[0]++) {
      const up = Math.round(Math.log2(value[0])) >= k + 1;
      if (up && first < 0) {
        first = i;
        table[k] = value[0];
      } else if (!up && first >= 0) monotone = false;
    }
    if (!monotone || first <= 0) {
      table = null;
      break;
    }
  }
  thresholdCache.set(maxExponent, table);
  return table ?? undefined;
}

/**
 * |pow2Level(r, maxExponent)| for r ≥ 0 (or NaN; −r gives the same) from
 * pow2Thresholds(maxExponent), without a log2 or a branch: 0 below ½, else 2^k for the k
 * thresholds at or below r, added up as 1 + 1 + 2 + 4 + … (they are increasing). `Number(a ≥ b)`
 * is a compare's 0 or 1, branch-free in V8's optimised code: a branch per level would be
 * mispredicted about once per weight.
 */
export function pow2Magnitude(r: number, t: Float64Array): number {
  const low = Number(r >= t[0]) + 2 * Number(r >= t[1]) + 4 * Number(r >= t[2]);
  const mid = 8 * Number(r >= t[3]) + 16 * Number(r >= t[4]) + 32 * Number(r >= t[5]);
  const high = 64 * Number(r >= t[6]) + 128 * Number(r >= t[7]);
  return (1 + low + mid + high) * Number(r >= 0.5);
}

/** pow2Level(r, maxExponent) from pow2Thresholds(maxExponent). */
export function pow2LevelFromThresholds(r: number, thresholds: Float64Array): number {
  const level = pow2Magnitude(Math.abs(r), thresholds);
  return r < 0 ? 0 - level : level; // 0, not −0, below ½ as pow2Level
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
