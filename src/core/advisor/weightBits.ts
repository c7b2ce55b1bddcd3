/**
 * Bit-width hints from the weights alone (conventions.md "Suggested bit-widths").
 *
 * For each candidate width b we quantize the weight symmetrically per output channel with
 * scale = max|w| / (2^(b−1) − 1) and measure SQNR = 10·log10(Σw² / Σ(w − q(w))²). The suggestion
 * is the smallest width whose SQNR meets the error target. The output-level sensitivity measured
 * in ONNX Runtime (compression issue) plugs in beside this: it produces the same curve shape,
 * `sqnrDb` per width, from model outputs instead of weights.
 *
 * Cost: the channel maxima need one full pass. The error sums then use every element for tensors
 * up to EXACT_LIMIT elements and an evenly strided sample beyond (≥ EXACT_LIMIT elements spread
 * over every channel), which keeps a 100 M-parameter layer to one pass plus a sample while the
 * estimate stays within a few hundredths of a dB (quantization noise is near-uniform per element).
 */
import type { ExternalData } from '../onnx/externalData';
import { elementCount, forEachFloatChunk } from '../onnx/tensorData';
import type { Tensor } from '../onnx/types';

export const CANDIDATE_BITS = [8, 6, 5, 4, 3, 2] as const;
export const DEFAULT_ERROR_TARGET_DB = 30;
const EXACT_LIMIT = 1 << 20;

export interface WeightSqnr {
  /** SQNR in dB per candidate width; Infinity when the weight is all zeros. */
  readonly sqnrDb: Readonly<Record<number, number>>;
  /** True when the error sums used a strided sample (large tensors). */
  readonly sampled: boolean;
}

/** Per-channel symmetric quantization SQNR of `tensor` at every candidate width. */
export function weightSqnr(tensor: Tensor, channelAxis: number, ext?: ExternalData): WeightSqnr {
  const dims = tensor.dims;
  const n = elementCount(dims);
  const channels = dims.length === 0 ? 1 : dims[channelAxis] || 1;
  const inner = dims.length === 0 ? 1 : elementCount(dims.slice(channelAxis + 1));
  const maxAbs = channelMaxima(tensor, channels, inner, ext);

  const stride = n > EXACT_LIMIT ? Math.ceil(n / EXACT_LIMIT) : 1;
  const bits = CANDIDATE_BITS;
  const levels = bits.map((b) => 2 ** (b - 1) - 1);
  const noise = new Float64Array(bits.length);
  let signal = 0;
  // Per-channel 1/scale and scale for each width, so the inner loop only multiplies.
  const inv = bits.map((_, k) => Float64Array.from(maxAbs, (m) => (m > 0 ? levels[k] / m : 0)));
  const scale = bits.map((_, k) => Float64Array.from(maxAbs, (m) => m / levels[k]));
  forEachFloatChunk(tensor, ext, (chunk, start) => {
    // First sampled index in this chunk.
    let i = stride === 1 ? 0 : (stride - (start % stride)) % stride;
    for (; i < chunk.length; i += stride) {
      const w = chunk[i];
      const c = Math.floor((start + i) / inner) % channels;
      signal += w * w;
      for (let k = 0; k < bits.length; k++) {
        let q = Math.round(w * inv[k][c]);
        const l = levels[k];
        if (q > l) q = l;
        else if (q < -l) q = -l;
        const e = w - q * scale[k][c];
        noise[k] += e * e;
      }
    }
  });
  const sqnrDb: Record<number, number> = {};
  bits.forEach((b, k) => {
    sqnrDb[b] = noise[k] === 0 ? Infinity : 10 * Math.log10(signal / noise[k]);
  });
  return { sqnrDb, sampled: stride > 1 };
}

/** max|w| per output channel, in one pass over the whole tensor. */
function channelMaxima(
  tensor: Tensor,
  channels: number,
  inner: number,
  ext: ExternalData | undefined,
): Float64Array {
  const maxAbs = new Float64Array(channels);
  if (inner * channels === elementCount(tensor.dims) && channels === 1) {
    let m = 0;
    forEachFloatChunk(tensor, ext, (chunk) => {
      for (let i = 0; i < chunk.length; i++) {
        const a = Math.abs(chunk[i]);
        if (a > m) m = a;
      }
    });
    maxAbs[0] = m;
    return maxAbs;
  }
  // Walk element positions incrementally: channel = floor(index / inner) mod channels.
  let c = 0;
  let pos = 0;
  forEachFloatChunk(tensor, ext, (chunk) => {
    let m = maxAbs[c];
    for (let i = 0; i < chunk.length; i++) {
      const a = Math.abs(chunk[i]);
      if (a > m) m = a;
      if (++pos === inner) {
        maxAbs[c] = m;
        pos = 0;
        c = c + 1 === channels ? 0 : c + 1;
        m = maxAbs[c];
      }
    }
    maxAbs[c] = m;
  });
  return maxAbs;
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
