/**
 * A histogram of one activation's values, built while calibration streams samples through it,
 * in bounded memory whatever the number of samples: the percentile and MSE range methods
 * (activationRanges.ts) read their tails from it.
 *
 * The bins are a window of `bins` consecutive cells of the grid [k·w, (k+1)·w), k an integer.
 * When a sample holds a value outside the window, the window moves over the grid, or, when the
 * values seen no longer fit in `bins` cells, the width doubles (as many times as needed):
 * every old cell then lies inside exactly one new cell (k → ⌊k / 2^d⌋), so rebinning moves
 * counts without splitting any, and the total is kept exactly. This is the idea of ONNX
 * Runtime's HistogramCalibrater (a histogram whose range grows with the data, 2048 bins by
 * default), with aligned cells instead of re-spreading counts over a new range.
 *
 * Exact zeros are counted apart: after ReLU they are often half of the values, and every
 * quantization grid holds zero exactly, so they must not be smeared over the first bin.
 * NaN and ±Infinity are left out, as the min/max fold does.
 */
import type { TensorArray } from '../verify';

/** ONNX Runtime's and TensorRT's histogram calibrators use 2048 bins. */
export const HISTOGRAM_BINS = 2048;

/** The occupied bins as intervals, the first and last clipped to the exact min and max. */
export interface HistogramBins {
  readonly lows: Float64Array;
  readonly highs: Float64Array;
  readonly counts: Float64Array;
  /** Values exactly 0 (not in any bin). */
  readonly zeros: number;
}

export class ActivationHistogram {
  private counts: Float64Array;
  /** Cell width; 0 while no non-zero value was seen. */
  private width = 0;
  /** Grid index of counts[0]. */
  private start = 0;
  private zeroCount = 0;
  private minSeen = Infinity;
  private maxSeen = -Infinity;
  private total = 0;

  constructor(readonly bins: number = HISTOGRAM_BINS) {
    if (!Number.isInteger(bins) || bins < 4) throw new RangeError(`bins must be ≥ 4, not ${bins}`);
    this.counts = new Float64Array(bins);
  }

  /** Finite values added so far. */
  get count(): number {
    return this.total;
  }

  get min(): number {
    return this.minSeen;
  }

  get max(): number {
    return this.maxSeen;
  }

  /** The cell width now (grows by doubling). */
  get binWidth(): number {
    return this.width;
  }

  add(data: TensorArray | Float32Array): void {
    let lo = Infinity;
    let hi = -Infinity;
    let finite = 0;
    for (let i = 0; i < data.length; i++) {
      const v = Number(data[i]);
      if (!Number.isFinite(v)) continue;
      finite++;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (finite === 0) return;
    this.total += finite;
    this.minSeen = Math.min(this.minSeen, lo);
    this.maxSeen = Math.max(this.maxSeen, hi);
    if (this.width === 0) {
      if (lo === 0 && hi === 0) {
        this.zeroCount += finite;
        return;
      }
      this.firstWidth(lo, hi);
    }
    this.cover(lo, hi);
    const inv = 1 / this.width;
    const last = this.bins - 1;
    const counts = this.counts;
    const start = this.start;
    for (let i = 0; i < data.length; i++) {
      const v = Number(data[i]);
      if (v === 0) {
        this.zeroCount++;
        continue;
      }
      if (!Number.isFinite(v)) continue;
      // cover() made every value's cell part of the window; the clamp only absorbs rounding.
      const b = Math.floor(v * inv) - start;
      counts[b < 0 ? 0 : b > last ? last : b]++;
    }
  }

  /** The occupied bins, in increasing order (empty when only zeros were seen). */
  occupied(): HistogramBins {
    const lows: number[] = [];
    const highs: number[] = [];
    const counts: number[] = [];
    for (let i = 0; i < this.bins; i++) {
      const n = this.counts[i];
      if (n === 0) continue;
      const k = this.start + i;
      lows.push(Math.max(k * this.width, this.minSeen));
      highs.push(Math.min((k + 1) * this.width, this.maxSeen));
      counts.push(n);
    }
    return {
      lows: Float64Array.from(lows),
      highs: Float64Array.from(highs),
      counts: Float64Array.from(counts),
      zeros: this.zeroCount,
    };
  }

  /**
   * The first width: the first values with room to spare (bins − 2 cells, so that alignment to
   * the grid cannot push them out of the window at once).
   */
  private firstWidth(lo: number, hi: number): void {
    const span = Math.max(hi, 0) - Math.min(lo, 0);
    this.width = span / (this.bins - 2);
    this.start = Math.floor(Math.min(lo, 0) / this.width);
  }

  /** Moves and, if needed, widens the window so that it holds [lo, hi] and all seen so far. */
  private cover(lo: number, hi: number): void {
    const inv = 1 / this.width;
    const kLo = Math.floor(lo * inv);
    const kHi = Math.floor(hi * inv);
    if (kLo >= this.start && kHi < this.start + this.bins) return;
    let first = kLo;
    let last = kHi;
    for (let i = 0; i < this.bins; i++) {
      if (this.counts[i] === 0) continue;
      first = Math.min(first, this.start + i);
      last = Math.max(last, this.start + i);
    }
    let factor = 1;
    while (Math.floor(last / factor) - Math.floor(first / factor) + 1 > this.bins) factor *= 2;
    const start = Math.floor(first / factor);
    const counts = new Float64Array(this.bins);
    for (let i = 0; i < this.bins; i++) {
      const n = this.counts[i];
      if (n !== 0) counts[Math.floor((this.start + i) / factor) - start] += n;
    }
    this.counts = counts;
    this.start = start;
    this.width *= factor;
  }
}
