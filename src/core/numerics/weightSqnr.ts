/**
 * Bit-width hints from the weights alone (conventions.md "Suggested bit-widths").
 *
 * For each candidate width b we quantize the weight symmetrically per output channel with
 * scale = max|w| / (2^(b−1) − 1) and measure SQNR = 10·log10(Σw² / Σ(w − q(w))²). The suggestion
 * is the smallest width whose SQNR meets the error target. The output-level sensitivity measured
 * in ONNX Runtime (compression issue) plugs in beside this: it produces the same curve shape,
 * `sqnrDb` per width, from model outputs instead of weights.
 *
 * Cost: one pass over the weight (channelScan.ts) finds the channel maxima and, on the way, keeps
 * an evenly strided sample of at most SAMPLE_LIMIT elements (every element for smaller tensors). The error
 * sums then run over the sample only. Quantization noise is close to uniform per element, so a
 * 32 k sample estimates the SQNR within a tenth of a dB (tested against the exact sum),
 * while a 100 M-parameter layer costs one streaming pass rather than six quantizations.
 */
import type { ExternalData } from '../onnx/externalData';
import { elementCount } from '../onnx/tensorData';
import {
  scanChannels,
  scanChannelsBatch,
  type ChannelLayout,
  type ChannelScan,
  type ScanRequest,
} from './channelScan';
import type { Tensor } from '../onnx/types';
import {
  pow2Level,
  pow2Magnitude,
  pow2MaxExponent,
  pow2Thresholds,
  safeScale,
  TERNARY_THRESHOLD,
} from './gridLevels';
import { roundToHalf } from './halfRound';

export const CANDIDATE_BITS = [8, 6, 5, 4, 3, 2] as const;
export const DEFAULT_ERROR_TARGET_DB = 30;
/** fp16 and pow2 SQNR are estimated on at most this many of the sampled values. */
const FORMAT_SAMPLE_LIMIT = 1 << 12;
/** Sampled values a channel needs for its own pow2 scale fit in the estimate. */
const MIN_FIT_SAMPLES = 8;

export interface WeightSqnr {
  /** SQNR in dB per candidate width; Infinity when the weight is all zeros. */
  readonly sqnrDb: Readonly<Record<number, number>>;
  /**
   * SQNR in dB of the other number formats the compressor writes: fp16 (round to half, beyond
   * ±65504 saturates, as convertFloat does) and the multiplier-free grids of lowBitGrids.ts, per
   * output channel: pow2 at its default 8 bits, ternary, binary. Same sample as `sqnrDb`. Only
   * when asked (`formats: true`): they add about three quarters to the cost of every integer
   * width together.
   */
  readonly formats?: WeightFormatSqnr;
  /** True when the error sums used a strided sample (large tensors). */
  readonly sampled: boolean;
  /**
   * Exact zeros among the sampled values (all of them when not `sampled`). The sparse figures
   * (cost/weightSparsity.ts) count a weight's zeros exactly only when its sample has one: counting
   * in the scan above would slow it by a third on every dense weight.
   */
  readonly sampleZeros: number;
}

export const WEIGHT_FORMATS = ['fp16', 'pow2', 'ternary', 'binary'] as const;
export type WeightFormat = (typeof WEIGHT_FORMATS)[number];
export type WeightFormatSqnr = Readonly<Record<WeightFormat, number>>;
/** The pow2 width the advisor measures: the compressor's default (`--quantize pow2`). */
export const POW2_BITS = 8;
/** Bits per weight of each format (pow2 counts its storage width). */
export const WEIGHT_FORMAT_BITS: Readonly<Record<WeightFormat, number>> = {
  fp16: 16,
  pow2: POW2_BITS,
  ternary: 2,
  binary: 1,
};
const FP16_MAX = 65504;

/**
 * The integer levels 2^(b−1) − 1 of each candidate width, in CANDIDATE_BITS order; written out
 * as constants in widthErrorSums too (a tenth faster than reading them; x·1 is x).
 */
const CANDIDATE_LEVELS = [127, 31, 15, 7, 3, 1] as const;

/** Per-channel symmetric quantization SQNR of `tensor` at every candidate width. */
export function weightSqnr(
  tensor: Tensor,
  channelAxis: number,
  ext?: ExternalData,
  options: { formats?: boolean; scan?: ChannelScan } = {},
): WeightSqnr {
  const known = remembered(tensor, channelAxis, options.formats);
  if (known) return known;
  const { channels, inner } = channelLayout(tensor.dims, channelAxis);
  const n = elementCount(tensor.dims);
  const scan = options.scan ?? scanChannels(tensor, { channels, inner }, ext);
  const { maxAbs, samples, sampleChannels, sampled } = scan;

  const grids = options.formats ? gridArrays(scan.sumAbs, n / channels) : NO_GRIDS;
  const sums = widthErrorSums(samples, sampleChannels, maxAbs, grids);
  const signal = sums[CANDIDATE_BITS.length];
  const sampleZeros = sums[CANDIDATE_BITS.length + 1];
  const sqnrDb: Record<number, number> = {};
  for (let j = 0; j < CANDIDATE_BITS.length; j++) {
    const levels = CANDIDATE_LEVELS[j];
    // The errors are in units of the step (max / levels); scale back to weight units.
    const noise = sums[j] / (levels * levels);
    sqnrDb[CANDIDATE_BITS[j]] = noise === 0 ? Infinity : 10 * Math.log10(signal / noise);
  }
  const formats = options.formats
    ? formatSqnr(samples, sampleChannels, maxAbs, grids, signal)
    : undefined;
  return remember(tensor, channelAxis, {
    sqnrDb,
    ...(formats ? { formats } : {}),
    sampled,
    sampleZeros,
  });
}

/**
 * Results by weight and channel axis. A tensor's values never change once loaded (an edit makes
 * new tensors; the editor's states share the unchanged ones), so a re-analysis (another device, a
 * quick fix elsewhere in the model) reuses them, and prefetchWeightSqnr fills them ahead of the
 * analysis. Only the few numbers of the result are kept, not the scan.
 */
const results = new WeakMap<Tensor, Map<number, WeightSqnr>>();

function remembered(tensor: Tensor, axis: number, formats = false): WeightSqnr | undefined {
  const known = results.get(tensor)?.get(axis);
  if (!known || (formats && !known.formats)) return undefined;
  if (formats || !known.formats) return known;
  const { formats: _, ...withoutFormats } = known;
  return withoutFormats;
}

function remember(tensor: Tensor, axis: number, result: WeightSqnr): WeightSqnr {
  let byAxis = results.get(tensor);
  if (!byAxis) results.set(tensor, (byAxis = new Map()));
  const known = byAxis.get(axis);
  if (!known?.formats || result.formats) byAxis.set(axis, result);
  return result;
}

/** The weights weightSqnr will be asked about, with their channel axes (prefetchWeightSqnr). */
export interface SqnrRequest {
  readonly tensor: Tensor;
  readonly channelAxis: number;
}

/**
 * Computes weightSqnr for many weights ahead of a synchronous analysis, reading them with several
 * block reads in flight (channelScan.ts) instead of one at a time; the analysis then finds the
 * results. A weight that cannot be read is left out: the analysis meets the error itself and
 * reports it as it always has.
 */
export async function prefetchWeightSqnr(
  requests: readonly SqnrRequest[],
  ext: ExternalData | undefined,
  options: { formats?: boolean } = {},
): Promise<void> {
  const todo = requests.filter((r) => !remembered(r.tensor, r.channelAxis, options.formats));
  const axes = new Map<ScanRequest, number>();
  const scans = todo.map((r) => {
    const request = { tensor: r.tensor, layout: channelLayout(r.tensor.dims, r.channelAxis) };
    axes.set(request, r.channelAxis);
    return request;
  });
  await scanChannelsBatch(scans, ext, (request, scan) => {
    if (scan instanceof Error) return;
    weightSqnr(request.tensor, axes.get(request)!, ext, { ...options, scan });
  });
}

function channelLayout(dims: readonly number[], channelAxis: number): ChannelLayout {
  return {
    channels: dims.length === 0 ? 1 : dims[channelAxis] || 1,
    inner: dims.length === 0 ? 1 : elementCount(dims.slice(channelAxis + 1)),
  };
}

/*
 * The loops over the sample are small functions of their own, each returning its sums in
 * `loopSums` (no allocation). V8 compiles a small function quickly, and after its first call
 * with complete type feedback: one large function with every loop in it takes long to compile
 * on the background thread while its loops run interpreted, then deoptimises again at the code
 * after them.
 */
const loopSums = new Float64Array(CANDIDATE_BITS.length + 2);

/**
 * Per-channel figures of the format estimate (formatSqnr): the ternary threshold Δ, the sums
 * for ternary's α (Σ|w| and count above Δ) and pow2's least-squares scale (Σ|w|·q, Σq², count),
 * and the scales. Reused between calls up to SCRATCH_CHANNELS channels (1.2 MB; the largest
 * weights allocate their own); NO_GRIDS, without channels, when the formats are not asked for.
 */
interface GridArrays {
  readonly deltas: Float64Array;
  readonly aboveSum: Float64Array;
  readonly aboveCount: Float64Array;
  readonly binaryScale: Float64Array;
  readonly ternaryScale: Float64Array;
  readonly pow2Scale: Float64Array;
  readonly wq: Float64Array;
  readonly qq: Float64Array;
  readonly taken: Float64Array;
}
const SCRATCH_CHANNELS = 1 << 14;
const makeGridArrays = (channels: number): GridArrays => ({
  deltas: new Float64Array(channels),
  aboveSum: new Float64Array(channels),
  aboveCount: new Float64Array(channels),
  binaryScale: new Float64Array(channels),
  ternaryScale: new Float64Array(channels),
  pow2Scale: new Float64Array(channels),
  wq: new Float64Array(channels),
  qq: new Float64Array(channels),
  taken: new Float64Array(channels),
});
const NO_GRIDS = makeGridArrays(0);
let gridScratch = NO_GRIDS;
/** pow2 levels of formatSqnr's subsample, kept between calls. */
const levelScratch = new Float64Array(FORMAT_SAMPLE_LIMIT);

/** Grid arrays for `sumAbs.length` channels: Δ and the binary scale set, the sums zeroed. */
function gridArrays(sumAbs: Float64Array, perChannel: number): GridArrays {
  const channels = sumAbs.length;
  let g = gridScratch;
  if (channels > SCRATCH_CHANNELS) g = makeGridArrays(channels);
  else if (g.deltas.length < channels) g = gridScratch = makeGridArrays(Math.max(channels, 256));
  for (const sums of [g.aboveSum, g.aboveCount, g.wq, g.qq, g.taken]) sums.fill(0, 0, channels);
  for (let c = 0; c < channels; c++) {
    const meanAbs = sumAbs[c] / perChannel;
    g.deltas[c] = TERNARY_THRESHOLD * meanAbs;
    g.binaryScale[c] = safeScale(meanAbs);
  }
  return g;
}

/**
 * The quantization error sums of every candidate width in one pass, each with its own running
 * sum (the same terms in the same order as a pass per width), then Σw² and the zero count; with
 * the formats (grids other than NO_GRIDS), also ternary's sums above Δ (see sumsAbove).
 *
 * Each sample is normalised by its channel's max once; every width then quantizes x = u·L to
 * the nearest level. With |u| ≤ 1, |x| ≤ L and that level, floor(x + 0.5), is within ±L (x + 0.5
 * ≤ L + 0.5 rounds to at most that): the clamp to ±L changes nothing. It is left to
 * clampedWidthErrorSums, which starts again on meeting a NaN sample (or one beyond its channel's
 * max, which the scan never gives). floor(x + 0.5) is Math.round's rounding, about 3× faster in
 * V8's optimised loops.
 */
function widthErrorSums(
  samples: Float64Array,
  sampleChannels: Int32Array,
  maxAbs: Float64Array,
  grids: GridArrays,
): Float64Array {
  const { deltas, aboveSum, aboveCount } = grids;
  const above = deltas.length > 0;
  let n0 = 0;
  let n1 = 0;
  let n2 = 0;
  let n3 = 0;
  let n4 = 0;
  let n5 = 0;
  let signal = 0;
  let zeros = 0;
  const count = samples.length;
  for (let i = 0; i < count; i++) {
    const w = samples[i];
    const c = sampleChannels[i];
    const m = maxAbs[c];
    const u = m > 0 ? w / m : 0;
    if (!(u <= 1 && u >= -1)) return clampedWidthErrorSums(samples, sampleChannels, maxAbs, grids);
    signal += w * w;
    if (w === 0) zeros++;
    if (above) {
      const a = Math.abs(w);
      const k = Number(a > deltas[c]);
      aboveSum[c] += a * k;
      aboveCount[c] += k;
    }
    let x = u * 127;
    let e = (x - Math.floor(x + 0.5)) * m;
    n0 += e * e;
    x = u * 31;
    e = (x - Math.floor(x + 0.5)) * m;
    n1 += e * e;
    x = u * 15;
    e = (x - Math.floor(x + 0.5)) * m;
    n2 += e * e;
    x = u * 7;
    e = (x - Math.floor(x + 0.5)) * m;
    n3 += e * e;
    x = u * 3;
    e = (x - Math.floor(x + 0.5)) * m;
    n4 += e * e;
    x = u; // · 1
    e = (x - Math.floor(x + 0.5)) * m;
    n5 += e * e;
  }
  return storeWidthSums(n0, n1, n2, n3, n4, n5, signal, zeros);
}

/** widthErrorSums with every level clamped to ±L, for samples beyond their channel's max. */
function clampedWidthErrorSums(
  samples: Float64Array,
  sampleChannels: Int32Array,
  maxAbs: Float64Array,
  grids: GridArrays,
): Float64Array {
  const noise = [0, 0, 0, 0, 0, 0];
  let signal = 0;
  let zeros = 0;
  for (let i = 0; i < samples.length; i++) {
    const w = samples[i];
    const m = maxAbs[sampleChannels[i]];
    const u = m > 0 ? w / m : 0;
    signal += w * w;
    if (w === 0) zeros++;
    for (let j = 0; j < CANDIDATE_LEVELS.length; j++) {
      const levels = CANDIDATE_LEVELS[j];
      const x = u * levels;
      let q = Math.floor(x + 0.5);
      if (q > levels) q = levels;
      else if (q < -levels) q = -levels;
      const e = (x - q) * m;
      noise[j] += e * e;
    }
  }
  // widthErrorSums may have added some of the sums above Δ before it came here: start again.
  if (grids.deltas.length > 0) {
    grids.aboveSum.fill(0);
    grids.aboveCount.fill(0);
    sumsAbove(samples, sampleChannels, grids);
  }
  return storeWidthSums(noise[0], noise[1], noise[2], noise[3], noise[4], noise[5], signal, zeros);
}

function storeWidthSums(
  n0: number,
  n1: number,
  n2: number,
  n3: number,
  n4: number,
  n5: number,
  signal: number,
  zeros: number,
): Float64Array {
  const out = loopSums;
  out[0] = n0;
  out[1] = n1;
  out[2] = n2;
  out[3] = n3;
  out[4] = n4;
  out[5] = n5;
  out[6] = signal;
  out[7] = zeros;
  return out;
}

/**
 * Per channel, Σ|w| and the count of the sampled |w| above Δ (ternary's α is their mean), as
 * widthErrorSums adds them on its way. Adding 0·|w| for the others changes no sum, except for
 * an infinite or NaN |w|, which makes the ternary figure NaN anyway, as before.
 */
function sumsAbove(samples: Float64Array, sampleChannels: Int32Array, grids: GridArrays): void {
  const { deltas, aboveSum, aboveCount } = grids;
  for (let i = 0; i < samples.length; i++) {
    const a = Math.abs(samples[i]);
    const c = sampleChannels[i];
    const k = Number(a > deltas[c]);
    aboveSum[c] += a * k;
    aboveCount[c] += k;
  }
}

const toDb = (signal: number, noise: number): number =>
  noise === 0 ? Infinity : 10 * Math.log10(signal / noise);

/**
 * fp16 and the lowBitGrids.ts grids over the sample. The per-channel max and mean|w| come from
 * the full streaming pass; the parameters that need a second look at the weights (ternary α, the
 * mean |w| above the threshold; pow2's least-squares scale) come from the sample, so they are
 * exact for an unsampled tensor.
 *
 * The per-value rules are gridLevels.ts's, written out to give exactly the same sums without a
 * branch per value that the CPU cannot predict (about half of the weights are above Δ, half are
 * negative). Every grid and fp16 is symmetric: the error of −w is minus that of w, exactly, so
 * the sums take |w| with its level's magnitude. `Number(a > b)` is the 0/1 of a compare without a
 * branch in V8's optimised code.
 */
function formatSqnr(
  samples: Float64Array,
  sampleChannels: Int32Array,
  maxAbs: Float64Array,
  grids: GridArrays,
  signal: number,
): WeightFormatSqnr {
  const count = samples.length;
  const channels = maxAbs.length;
  const { aboveSum, aboveCount, ternaryScale, pow2Scale, wq, qq, taken } = grids;

  // Ternary and binary cost a compare per value: measured over the whole sample.
  for (let c = 0; c < channels; c++)
    ternaryScale[c] = safeScale(aboveCount[c] > 0 ? aboveSum[c] / aboveCount[c] : 0);
  const signNoise = signGridNoise(samples, sampleChannels, grids);
  const ternaryNoise = signNoise[0];
  const binaryNoise = signNoise[1];

  // pow2 and fp16 are estimated on a subsample of at most FORMAT_SAMPLE_LIMIT values (exact for
  // smaller tensors; from when they cost a log2 or a rounding call per value). pow2's
  // least-squares scale is refitted for channels with enough of them, as the compressor does.
  // pow2Scale holds the level scales first, then the refitted ones.
  const maxExponent = pow2MaxExponent(POW2_BITS);
  const step = Math.max(1, Math.ceil(count / FORMAT_SAMPLE_LIMIT));
  for (let c = 0; c < channels; c++) pow2Scale[c] = safeScale(maxAbs[c] / 2 ** maxExponent);
  const thresholds = pow2Thresholds(maxExponent);
  const sub = thresholds
    ? pow2Fp16Sums(samples, sampleChannels, step, grids, thresholds)
    : pow2Fp16SumsLog2(samples, sampleChannels, step, grids, maxExponent);
  const subSignal = sub[0];
  const fp16Noise = sub[1];
  const exact = step === 1;
  for (let c = 0; c < channels; c++)
    if (qq[c] > 0 && (exact || taken[c] >= MIN_FIT_SAMPLES))
      pow2Scale[c] = safeScale(wq[c] / qq[c]);
  const pow2Noise = pow2NoiseSum(samples, sampleChannels, step, pow2Scale);
  return {
    fp16: toDb(subSignal, fp16Noise),
    pow2: toDb(subSignal, pow2Noise),
    ternary: toDb(signal, ternaryNoise),
    binary: toDb(signal, binaryNoise),
  };
}

/**
 * Ternary and binary noise: levels ±1 beyond Δ (else 0) for ternary, always ±1 for binary. The
 * scales are finite, so 0·scale is 0 and |w| − 0 is |w|.
 */
function signGridNoise(
  samples: Float64Array,
  sampleChannels: Int32Array,
  grids: GridArrays,
): Float64Array {
  const { deltas, ternaryScale, binaryScale } = grids;
  let ternaryNoise = 0;
  let binaryNoise = 0;
  const count = samples.length;
  for (let i = 0; i < count; i++) {
    const a = Math.abs(samples[i]);
    const c = sampleChannels[i];
    const e3 = a - ternaryScale[c] * Number(a > deltas[c]);
    const e1 = a - binaryScale[c];
    ternaryNoise += e3 * e3;
    binaryNoise += e1 * e1;
  }
  loopSums[0] = ternaryNoise;
  loopSums[1] = binaryNoise;
  return loopSums;
}

/**
 * Over every `step`-th sample: the pow2 level magnitudes at the level scales (grids.pow2Scale)
 * into levelScratch, with the per-channel least-squares sums Σ|w|·q, Σq² and counts; then Σw²
 * and the fp16 noise (saturating beyond ±65504, as convertFloat does) in loopSums.
 */
function pow2Fp16Sums(
  samples: Float64Array,
  sampleChannels: Int32Array,
  step: number,
  grids: GridArrays,
  thresholds: Float64Array,
): Float64Array {
  const { pow2Scale, wq, qq, taken } = grids;
  const levels = levelScratch;
  let subSignal = 0;
  let fp16Noise = 0;
  const count = samples.length;
  for (let i = 0, j = 0; i < count; i += step, j++) {
    const w = samples[i];
    const a = Math.abs(w);
    const c = sampleChannels[i];
    subSignal += w * w;
    const q = pow2Magnitude(a / pow2Scale[c], thresholds);
    levels[j] = q;
    wq[c] += a * q;
    qq[c] += q * q;
    taken[c]++;
    const e = a - roundToHalf(Math.min(FP16_MAX, a));
    fp16Noise += e * e;
  }
  loopSums[0] = subSignal;
  loopSums[1] = fp16Noise;
  return loopSums;
}

/** pow2Fp16Sums with Math.log2 levels, should pow2Thresholds have no table. */
function pow2Fp16SumsLog2(
  samples: Float64Array,
  sampleChannels: Int32Array,
  step: number,
  grids: GridArrays,
  maxExponent: number,
): Float64Array {
  const { pow2Scale, wq, qq, taken } = grids;
  const levels = levelScratch;
  let subSignal = 0;
  let fp16Noise = 0;
  const count = samples.length;
  for (let i = 0, j = 0; i < count; i += step, j++) {
    const w = samples[i];
    const a = Math.abs(w);
    const c = sampleChannels[i];
    subSignal += w * w;
    const q = pow2Level(a / pow2Scale[c], maxExponent);
    levels[j] = q;
    wq[c] += a * q;
    qq[c] += q * q;
    taken[c]++;
    const e = a - roundToHalf(Math.min(FP16_MAX, a));
    fp16Noise += e * e;
  }
  loopSums[0] = subSignal;
  loopSums[1] = fp16Noise;
  return loopSums;
}

/** Σ(|w| − q·scale)² over every `step`-th sample with levelScratch's pow2 levels. */
function pow2NoiseSum(
  samples: Float64Array,
  sampleChannels: Int32Array,
  step: number,
  pow2Scale: Float64Array,
): number {
  const levels = levelScratch;
  let noise = 0;
  const count = samples.length;
  for (let i = 0, j = 0; i < count; i += step, j++) {
    const e = Math.abs(samples[i]) - levels[j] * pow2Scale[sampleChannels[i]];
    noise += e * e;
  }
  return noise;
}

/**
 * The smallest candidate width whose SQNR meets `targetDb`; `fallbackBits` (the stored
 * precision) when even 8 bits does not, meaning "keep this layer as it is".
 */
export function suggestBits(sqnr: WeightSqnr, targetDb: number, fallbackBits: number): number {
  let best = fallbackBits;
  for (const b of CANDIDATE_BITS) if (sqnr.sqnrDb[b] >= targetDb) best = b;
  return best;
}
