/**
 * Bit-width hints from the weights alone (conventions.md "Suggested bit-widths").
 *
 * For each candidate width b we quantize the weight symmetrically per output channel with
 * scale = max|w| / (2^(b−1) − 1) and measure SQNR = 10·log10(Σw² / Σ(w − q(w))²). The suggestion
 * is the smallest width whose SQNR meets the error target. The output-level sensitivity measured
 * in ONNX Runtime (compression issue) plugs in beside this: it produces the same curve shape,
 * `sqnrDb` per width, from model outputs instead of weights.
 *
 * Cost: one pass over the weight finds the channel maxima and, on the way, keeps an evenly
 * strided sample of at most SAMPLE_LIMIT elements (every element for smaller tensors). The error
 * sums then run over the sample only. Quantization noise is close to uniform per element, so a
 * 32 k sample estimates the SQNR within a tenth of a dB (tested against the exact sum),
 * while a 100 M-parameter layer costs one streaming pass rather than six quantizations.
 */
import type { ExternalData } from '../onnx/externalData';
import { elementCount, halfToFloat } from '../onnx/tensorData';
import {
  scanChannels,
  scanChannelsBatch,
  type ChannelLayout,
  type ChannelScan,
  type ScanRequest,
} from './channelScan';
import type { Tensor } from '../onnx/types';
import { floatToHalf } from '../verify/inputs';
import { gridLevel, pow2MaxExponent, safeScale, TERNARY_THRESHOLD } from './gridLevels';

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
   * when asked (`formats: true`): a rounding or a log2 per value costs more than every integer
   * width together (about 0.3 s per analysis of a 5,000-node graph).
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

/** Per-channel symmetric quantization SQNR of `tensor` at every candidate width. */
export function weightSqnr(
  tensor: Tensor,
  channelAxis: number,
  ext?: ExternalData,
  options: { formats?: boolean; scan?: ChannelScan } = {},
): WeightSqnr {
  const { channels, inner } = channelLayout(tensor.dims, channelAxis);
  const n = elementCount(tensor.dims);
  const known = remembered(tensor, channelAxis, options.formats);
  if (known) return known;
  const scan = options.scan ?? scanChannels(tensor, { channels, inner }, ext);
  const { maxAbs, samples, sampleChannels, sampled } = scan;

  // Normalise each sample by its channel's max once; every width then quantizes u·L.
  const count = samples.length;
  const normalized = new Float64Array(count);
  const channelMax = new Float64Array(count);
  let signal = 0;
  for (let i = 0; i < count; i++) {
    const m = maxAbs[sampleChannels[i]];
    channelMax[i] = m;
    normalized[i] = m > 0 ? samples[i] / m : 0;
    signal += samples[i] * samples[i];
  }
  const sqnrDb: Record<number, number> = {};
  for (const b of CANDIDATE_BITS) {
    const levels = 2 ** (b - 1) - 1;
    let noise = 0;
    for (let i = 0; i < count; i++) {
      const x = normalized[i] * levels;
      // floor(x + 0.5) is Math.round's rounding, about 3× faster in V8's optimised loops.
      let q = Math.floor(x + 0.5);
      if (q > levels) q = levels;
      else if (q < -levels) q = -levels;
      const e = (x - q) * channelMax[i];
      noise += e * e;
    }
    // e above is in units of the step (max / levels); scale back to weight units.
    noise /= levels * levels;
    sqnrDb[b] = noise === 0 ? Infinity : 10 * Math.log10(signal / noise);
  }
  const meanAbs = scan.sumAbs.map((v) => v / (n / channels));
  const formats = options.formats
    ? formatSqnr(samples, sampleChannels, maxAbs, meanAbs)
    : undefined;
  let sampleZeros = 0;
  for (let i = 0; i < count; i++) if (samples[i] === 0) sampleZeros++;
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

const toDb = (signal: number, noise: number): number =>
  noise === 0 ? Infinity : 10 * Math.log10(signal / noise);

/**
 * fp16 and the lowBitGrids.ts grids over the sample. The per-channel max and mean|w| come from
 * the full streaming pass; the parameters that need a second look at the weights (ternary α, the
 * mean |w| above the threshold; pow2's least-squares scale) come from the sample, so they are
 * exact for an unsampled tensor.
 */
function formatSqnr(
  samples: Float64Array,
  sampleChannels: Int32Array,
  maxAbs: Float64Array,
  meanAbs: Float64Array,
): WeightFormatSqnr {
  const count = samples.length;
  const channels = maxAbs.length;
  const maxExponent = pow2MaxExponent(POW2_BITS);
  const deltas = meanAbs.map((m) => TERNARY_THRESHOLD * m);

  // Ternary and binary cost a compare per value: measured over the whole sample.
  const aboveSum = new Float64Array(channels);
  const aboveCount = new Float64Array(channels);
  let signal = 0;
  for (let i = 0; i < count; i++) {
    const w = samples[i];
    const c = sampleChannels[i];
    signal += w * w;
    const a = Math.abs(w);
    if (a > deltas[c]) {
      aboveSum[c] += a;
      aboveCount[c]++;
    }
  }
  const ternaryScale = Float32Array.from(aboveSum, (s, c) =>
    safeScale(aboveCount[c] > 0 ? s / aboveCount[c] : 0),
  );
  const binaryScale = Float32Array.from(meanAbs, safeScale);
  let ternaryNoise = 0;
  let binaryNoise = 0;
  for (let i = 0; i < count; i++) {
    const w = samples[i];
    const c = sampleChannels[i];
    const e3 = w - gridLevel('ternary', w, 0, deltas[c], maxExponent) * ternaryScale[c];
    const e1 = w - gridLevel('binary', w, 0, 0, maxExponent) * binaryScale[c];
    ternaryNoise += e3 * e3;
    binaryNoise += e1 * e1;
  }

  // pow2 (a log2 per value) and fp16 (a rounding per value) cost far more: estimated on a
  // subsample of at most FORMAT_SAMPLE_LIMIT values (exact for smaller tensors). pow2's
  // least-squares scale is refitted for channels with enough of them, as the compressor does.
  const step = Math.max(1, Math.ceil(count / FORMAT_SAMPLE_LIMIT));
  const levelScales = Float32Array.from(maxAbs, (m) => safeScale(m / 2 ** maxExponent));
  const wq = new Float64Array(channels);
  const qq = new Float64Array(channels);
  const taken = new Float64Array(channels);
  const levels = new Float64Array(Math.ceil(count / step));
  let subSignal = 0;
  let fp16Noise = 0;
  for (let i = 0, j = 0; i < count; i += step, j++) {
    const w = samples[i];
    const c = sampleChannels[i];
    subSignal += w * w;
    const q = gridLevel('pow2', w, levelScales[c], 0, maxExponent);
    levels[j] = q;
    wq[c] += w * q;
    qq[c] += q * q;
    taken[c]++;
    const h = halfToFloat(floatToHalf(Math.max(-FP16_MAX, Math.min(FP16_MAX, w))));
    fp16Noise += (w - h) * (w - h);
  }
  const exact = step === 1;
  const pow2Scale = levelScales.map((s, c) =>
    qq[c] > 0 && (exact || taken[c] >= MIN_FIT_SAMPLES) ? safeScale(wq[c] / qq[c]) : s,
  );
  let pow2Noise = 0;
  for (let i = 0, j = 0; i < count; i += step, j++) {
    const e = samples[i] - levels[j] * pow2Scale[sampleChannels[i]];
    pow2Noise += e * e;
  }
  return {
    fp16: toDb(subSignal, fp16Noise),
    pow2: toDb(subSignal, pow2Noise),
    ternary: toDb(signal, ternaryNoise),
    binary: toDb(signal, binaryNoise),
  };
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
