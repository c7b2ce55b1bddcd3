/**
 * How an activation's calibrated values become the range its QuantizeLinear covers.
 *
 * - minmax: the observed min and max. Nothing is clipped; one outlier stretches the step for
 *   every other value.
 * - percentile: the range holds all but the outer (100 − p)% of the values: |x| at the p-th
 *   percentile for a symmetric (or non-negative) grid, each tail at (100 − p)/2 % for an
 *   asymmetric one. The default p = 99.999 is ONNX Runtime's PercentileCalibrater's, and one
 *   of the two best of the settings Wu et al. compare for TensorRT's histogram calibrator
 *   ("Integer Quantization for Deep Learning Inference", NVIDIA 2020: 99.9 … 99.9999, 99.99 or
 *   99.999 best by network); on fmnist_vgg and resnet18 99.999 kept 0.1–1.3 dB more output
 *   SQNR than 99.99, and 99.9 lost up to 8 dB.
 * - mse: the clipping that minimises E[(x − Q(x))²] on the very grid the tensor will get
 *   (activationParams: uint8 from 0 for a non-negative tensor, symmetric int8 otherwise, or the
 *   asymmetric grid), rounding noise inside the range plus clipping error outside, over the
 *   histogram (activationHistogram.ts). Values are taken as uniform within each bin, so the
 *   error of a bin is an exact integral (below); exact zeros cost nothing on any grid.
 *
 * The last two need real data: on random inputs the tails are the noise generator's, so
 * min/max is the default there (quantizeActivations.ts).
 */
import type { ActivationHistogram, HistogramBins } from './activationHistogram';
import type { TensorRange } from './calibrate';
import { channelParams, quantRange, type QuantScheme } from './quantizeMath';

export type RangeMethod = 'minmax' | 'percentile' | 'mse';

export const RANGE_METHODS: readonly RangeMethod[] = ['minmax', 'percentile', 'mse'];

export const DEFAULT_PERCENTILE = 99.999;

/** Clipping factors tried per range end: i/CANDIDATES of it, i = 1 … CANDIDATES. */
const CANDIDATES = 400;

/** Rounds of alternating search over the two ends of an asymmetric range. */
const ASYMMETRIC_ROUNDS = 3;

export function isRangeMethod(text: string): text is RangeMethod {
  return (RANGE_METHODS as readonly string[]).includes(text);
}

/**
 * The range to quantize an activation with. `scheme` is the grid it will get (its `signed` and
 * `symmetric` as activationParams decides them from the unclipped range); the result keeps the
 * sign of the observed range, so the same grid follows.
 */
export function chooseRange(
  histogram: ActivationHistogram,
  method: RangeMethod,
  scheme: QuantScheme,
  percentile = DEFAULT_PERCENTILE,
): TensorRange {
  const observed = { min: histogram.min, max: histogram.max };
  if (method === 'minmax' || histogram.count === 0) return observed;
  const bins = histogram.occupied();
  if (bins.counts.length === 0) return observed;
  const lo = Math.min(observed.min, 0);
  const hi = Math.max(observed.max, 0);
  // One clipping factor when both ends of the grid move together (symmetric, or anchored at 0);
  // two, searched in turn, for an asymmetric grid over a signed range.
  const oneFactor = scheme.symmetric || lo === 0;
  if (method === 'percentile') {
    if (!(percentile > 0 && percentile <= 100)) {
      throw new RangeError(`percentile must be in (0, 100], not ${percentile}`);
    }
    const range = oneFactor
      ? symmetricClip(observed, absPercentile(bins, histogram.count, percentile))
      : {
          min: Math.min(valuePercentile(bins, histogram.count, (100 - percentile) / 2), 0),
          max: Math.max(valuePercentile(bins, histogram.count, 100 - (100 - percentile) / 2), 0),
        };
    // A tensor that is almost all zeros has a zero percentile: its few values keep their range.
    return range.max - range.min > 0 ? range : observed;
  }
  if (oneFactor) {
    const factor = bestFactor((f) => squaredError(bins, { min: lo * f, max: hi * f }, scheme));
    return { min: observed.min * factor, max: observed.max * factor };
  }
  let low = 1;
  let high = 1;
  for (let round = 0; round < ASYMMETRIC_ROUNDS; round++) {
    high = bestFactor((f) => squaredError(bins, { min: lo * low, max: hi * f }, scheme));
    low = bestFactor((f) => squaredError(bins, { min: lo * f, max: hi * high }, scheme));
  }
  return { min: lo * low, max: hi * high };
}

/** [−t, t] within the observed range (the symmetric grid takes the larger end). */
function symmetricClip(observed: TensorRange, t: number): TensorRange {
  return { min: Math.max(observed.min, -t), max: Math.min(observed.max, t) };
}

/** The factor in (0, 1] with the smallest error; ties keep the wider range. */
function bestFactor(error: (factor: number) => number): number {
  let best = 1;
  let bestError = error(1);
  for (let i = CANDIDATES - 1; i >= 1; i--) {
    const f = i / CANDIDATES;
    const e = error(f);
    if (e < bestError) {
      best = f;
      bestError = e;
    }
  }
  return best;
}

/**
 * Σ over the values of (x − Q(x))² for the grid activationParams would give `range`
 * (channelParams), each bin's values spread uniformly over it.
 */
export function squaredError(bins: HistogramBins, range: TensorRange, scheme: QuantScheme): number {
  const { scale, zeroPoint } = channelParams(range.min, range.max, scheme);
  const { qmin, qmax } = quantRange(scheme);
  // The grid is the multiples of `scale` between these two (zeroPoint is an integer).
  const bottom = (qmin - zeroPoint) * scale;
  const top = (qmax - zeroPoint) * scale;
  let total = 0;
  for (let i = 0; i < bins.counts.length; i++) {
    const a = bins.lows[i];
    const b = bins.highs[i];
    const n = bins.counts[i];
    if (!(b > a)) {
      total += n * pointError(a, bottom, top, scale);
      continue;
    }
    let integral = 0;
    // Below the grid: clipped to its bottom.
    if (a < bottom) integral += (cube(Math.min(b, bottom) - bottom) - cube(a - bottom)) / 3;
    // Above: clipped to its top.
    if (b > top) integral += (cube(b - top) - cube(Math.max(a, top) - top)) / 3;
    // Inside: rounding to the nearest multiple of the scale.
    const from = Math.max(a, bottom);
    const to = Math.min(b, top);
    if (to > from) integral += roundingIntegral(to, scale) - roundingIntegral(from, scale);
    total += (n / (b - a)) * integral;
  }
  return total;
}

function cube(x: number): number {
  return x * x * x;
}

function pointError(x: number, bottom: number, top: number, scale: number): number {
  if (x < bottom) return (x - bottom) ** 2;
  if (x > top) return (x - top) ** 2;
  const e = x - scale * Math.round(x / scale);
  return e * e;
}

/**
 * ∫ e(t)² dt from −s/2 to x, e(t) = t − s·round(t/s) the rounding error, a sawtooth of period s
 * going from −s/2 to s/2: each whole period adds s³/12, and the part period from its start to
 * x, with r the fraction of it covered, ∫_{−s/2}^{(r−½)s} y² dy = s³((r − ½)³ + ⅛)/3.
 */
function roundingIntegral(x: number, s: number): number {
  const u = x / s + 0.5;
  const k = Math.floor(u);
  const r = u - k;
  return (k * s * s * s) / 12 + (s * s * s * (cube(r - 0.5) + 0.125)) / 3;
}

/** The smallest t with at least p % of the values at |x| ≤ t. */
function absPercentile(bins: HistogramBins, total: number, p: number): number {
  const top = Math.max(-bins.lows[0], bins.highs[bins.highs.length - 1], 0);
  const below = (t: number): number => {
    let n = bins.zeros;
    for (let i = 0; i < bins.counts.length; i++) {
      n +=
        bins.counts[i] *
        (fractionBelow(bins.lows[i], bins.highs[i], t) -
          fractionBelow(bins.lows[i], bins.highs[i], -t));
    }
    return n;
  };
  return solve(below, 0, top, (p / 100) * total);
}

/** The p-th percentile of the signed values. */
function valuePercentile(bins: HistogramBins, total: number, p: number): number {
  const bottom = Math.min(bins.lows[0], 0);
  const top = Math.max(bins.highs[bins.highs.length - 1], 0);
  const below = (t: number): number => {
    let n = t >= 0 ? bins.zeros : 0;
    for (let i = 0; i < bins.counts.length; i++) {
      n += bins.counts[i] * fractionBelow(bins.lows[i], bins.highs[i], t);
    }
    return n;
  };
  return solve(below, bottom, top, (p / 100) * total);
}

/** The share of a bin's values (uniform over [a, b]) at or below t. */
function fractionBelow(a: number, b: number, t: number): number {
  if (t >= b) return 1;
  if (t < a) return 0;
  return b > a ? (t - a) / (b - a) : 1;
}

/**
 * The smallest t in [lo, hi] with count(t) ≥ target, by bisection: count is the cumulative
 * count, non-decreasing, and the bins may overlap (|x| folds the two signs onto one axis).
 */
function solve(count: (t: number) => number, lo: number, hi: number, target: number): number {
  if (count(lo) >= target) return lo;
  for (let i = 0; i < 60 && hi - lo > 0; i++) {
    const mid = (lo + hi) / 2;
    if (count(mid) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}
