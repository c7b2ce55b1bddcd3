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
import { elementCount, forEachNumberChunk, halfToFloat } from '../onnx/tensorData';
import type { Tensor } from '../onnx/types';
import { floatToHalf } from '../verify/inputs';
import { gridLevel, pow2MaxExponent, safeScale, TERNARY_THRESHOLD } from './gridLevels';

export const CANDIDATE_BITS = [8, 6, 5, 4, 3, 2] as const;
export const DEFAULT_ERROR_TARGET_DB = 30;
const SAMPLE_LIMIT = 1 << 15;
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
  options: { formats?: boolean } = {},
): WeightSqnr {
  const dims = tensor.dims;
  const channels = dims.length === 0 ? 1 : dims[channelAxis] || 1;
  const inner = dims.length === 0 ? 1 : elementCount(dims.slice(channelAxis + 1));
  const n = elementCount(dims);
  const scan = scanWeights(tensor, channels, inner, ext);
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
  return { sqnrDb, ...(formats ? { formats } : {}), sampled, sampleZeros };
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
 * One streaming pass: max|w| per output channel (channel = floor(index / inner) mod channels),
 * Σ|w| per channel (the grids' mean|w|), plus an evenly strided sample of the values with their
 * channels.
 */
function scanWeights(
  tensor: Tensor,
  channels: number,
  inner: number,
  ext: ExternalData | undefined,
) {
  const n = elementCount(tensor.dims);
  const stride = n > SAMPLE_LIMIT ? Math.ceil(n / SAMPLE_LIMIT) : 1;
  const sampleCount = Math.ceil(n / stride);
  const samples = new Float64Array(sampleCount);
  const sampleChannels = new Int32Array(sampleCount);
  const maxAbs = new Float64Array(channels);
  const sumAbs = new Float64Array(channels);
  let c = 0;
  let pos = 0;
  let taken = 0;
  let nextSample = 0;
  forEachNumberChunk(tensor, ext, (chunk, start) => {
    // Work on locals: captured variables written in a hot loop are much slower in V8.
    let channel = c;
    let position = pos;
    let m = maxAbs[channel];
    let sum = sumAbs[channel];
    const length = chunk.length;
    if (inner >= 16) {
      // Long runs of one channel (a Conv's or Gemm's output channels first): a tight loop per
      // run, without the per-element channel test (about twice as fast on VGG-16's FC weights).
      let i = 0;
      while (i < length) {
        const runEnd = Math.min(length, i + inner - position);
        position += runEnd - i;
        for (; i < runEnd; i++) {
          const a = Math.abs(chunk[i]);
          if (a > m) m = a;
          sum += a;
        }
        if (position === inner) {
          maxAbs[channel] = m;
          sumAbs[channel] = sum;
          position = 0;
          channel = channel + 1 === channels ? 0 : channel + 1;
          m = maxAbs[channel];
          sum = sumAbs[channel];
        }
      }
    } else {
      for (let i = 0; i < length; i++) {
        const a = Math.abs(chunk[i]);
        if (a > m) m = a;
        sum += a;
        if (++position === inner) {
          maxAbs[channel] = m;
          sumAbs[channel] = sum;
          position = 0;
          channel = channel + 1 === channels ? 0 : channel + 1;
          m = maxAbs[channel];
          sum = sumAbs[channel];
        }
      }
    }
    maxAbs[channel] = m;
    sumAbs[channel] = sum;
    // The strided sample, visited separately so the loop above stays branch-light.
    for (let i = nextSample - start; i < length; i += stride) {
      samples[taken] = chunk[i];
      sampleChannels[taken++] = Math.floor((start + i) / inner) % channels;
    }
    while (nextSample < start + length) nextSample += stride;
    c = channel;
    pos = position;
  });
  return {
    maxAbs,
    sumAbs,
    samples: samples.subarray(0, taken),
    sampleChannels: sampleChannels.subarray(0, taken),
    sampled: stride > 1,
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
