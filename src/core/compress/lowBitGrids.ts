/**
 * Multiplier-free weight grids (issue 15): power-of-two, ternary and binary weights, per output
 * channel, stored so that ONNX Runtime runs them (an integer initializer behind DequantizeLinear):
 *
 * - **pow2** (N bits, default 8): w ≈ ±2^k · s with k in 0..N−2, so an 8-bit container holds
 *   0, ±1, ±2, …, ±64. s = max|w| / 2^(N−2). Rounding is in the log domain: the nearest power of
 *   two of |w|/s (k = round(log2(|w|/s)), clipped to 0..N−2), and 0 below half the smallest level;
 *   the stored scale is then refitted by least squares over those levels (see quantizeToGrid).
 *   A multiply by ±2^k is a shift, so the analysis counts adds only.
 * - **ternary** (TWN, Li & Liu 2016): {−α, 0, +α} with threshold Δ = 0.7·mean|w| and α the mean of
 *   |w| over |w| > Δ.
 * - **binary** (XNOR-Net, Rastegari et al. 2016): {−α, +α} with α = mean|w| (w = 0 → +α).
 *
 * Ternary and binary values are stored as int2 (opset 25, which ONNX Runtime 1.30 runs) when the
 * model is at 25 or converts there (opsetConvert.ts `conversionRefusal`), else as int4 at 21, e.g.
 * when it holds an op ONNX Runtime has no opset-25 kernel for. pow2 uses int4 when its levels
 * fit (N ≤ 4: up to ±4), else int8. The logical width (2 bits ternary, 1 binary, N pow2) is
 * recorded in the quantized initializer's doc_string (weightGridDoc), which the analysis reads
 * to count memory at that width and BOPs/energy without multiplies (weightFormat.ts formatBits).
 */
import type { ExternalData } from '../onnx/externalData';
import { elementCount, forEachFloatChunk } from '../onnx/tensorData';
import { DataType, type Tensor } from '../onnx/types';
import { channelIndexer, packedLength, storeValue, type QuantizedWeight } from './quantizeMath';
import { CompressionRefusal } from './summary';
import {
  gridLevel,
  pow2Level,
  pow2MaxExponent,
  safeScale,
  TERNARY_THRESHOLD,
  WEIGHT_GRIDS,
  type WeightGrid,
} from '../numerics/gridLevels';

export { WEIGHT_GRIDS, type WeightGrid };
export { pow2Level, pow2MaxExponent, TERNARY_THRESHOLD };

/**
 * The container: ternary/binary in int2 when the quantized model will be at opset ≥ 25 (`int2`), else
 * int4; pow2 in int4 when its levels fit in [−8, 7], else int8.
 */
export function gridContainer(grid: WeightGrid, bits: number, int2 = false): DataType {
  if (grid !== 'pow2') return int2 ? DataType.INT2 : DataType.INT4;
  return 2 ** (bits - 2) <= 7 ? DataType.INT4 : DataType.INT8;
}

/** Per-channel statistics pass: Σ|w|, max|w| and count. */
function channelAbs(
  t: Tensor,
  ext: ExternalData | undefined,
  axis: number | undefined,
): { sum: Float64Array; max: Float64Array; count: Float64Array } {
  const channels = axis === undefined ? 1 : t.dims[axis];
  const sum = new Float64Array(channels);
  const max = new Float64Array(channels);
  const count = new Float64Array(channels);
  const channelOf = channelIndexer(t.dims, axis);
  forEachFloatChunk(t, ext, (chunk, start) => {
    for (let j = 0; j < chunk.length; j++) {
      const v = chunk[j];
      if (!Number.isFinite(v)) {
        throw new CompressionRefusal(`weight '${t.name}' holds a non-finite value (${v})`);
      }
      const c = channelOf(start + j);
      const a = Math.abs(v);
      sum[c] += a;
      count[c]++;
      if (a > max[c]) max[c] = a;
    }
  });
  return { sum, max, count };
}

/** Ternary α per channel: mean |w| over |w| > Δ (a third pass). */
function ternaryAlphas(
  t: Tensor,
  ext: ExternalData | undefined,
  axis: number | undefined,
  deltas: Float64Array,
): Float64Array {
  const sum = new Float64Array(deltas.length);
  const count = new Float64Array(deltas.length);
  const channelOf = channelIndexer(t.dims, axis);
  forEachFloatChunk(t, ext, (chunk, start) => {
    for (let j = 0; j < chunk.length; j++) {
      const c = channelOf(start + j);
      const a = Math.abs(chunk[j]);
      if (a > deltas[c]) {
        sum[c] += a;
        count[c]++;
      }
    }
  });
  return sum.map((s, c) => (count[c] > 0 ? s / count[c] : 0));
}

/** Least-squares scales Σw·q / Σq² for the pow2 levels q taken at `levelScales` (in place). */
function refitScales(
  t: Tensor,
  ext: ExternalData | undefined,
  axis: number | undefined,
  levelScales: Float32Array,
  maxExponent: number,
  out: Float32Array,
): void {
  const wq = new Float64Array(out.length);
  const qq = new Float64Array(out.length);
  const channelOf = channelIndexer(t.dims, axis);
  forEachFloatChunk(t, ext, (chunk, start) => {
    for (let j = 0; j < chunk.length; j++) {
      const c = channelOf(start + j);
      const q = pow2Level(chunk[j] / levelScales[c], maxExponent);
      wq[c] += chunk[j] * q;
      qq[c] += q * q;
    }
  });
  for (let c = 0; c < out.length; c++) if (qq[c] > 0) out[c] = safeScale(wq[c] / qq[c]);
}

/** int2: four values per byte, element 4k in bits 0–1 of byte k (ONNX's low-first packing). */
function storeCrumb(out: Uint8Array, i: number, v: number): void {
  out[i >> 2] |= (v & 0x03) << ((i & 3) * 2);
}

/**
 * Quantizes a float tensor to a grid, per channel along `axis` (per tensor when undefined):
 * integer levels in the grid's container, float32 scales, no zero point.
 */
export function quantizeToGrid(
  t: Tensor,
  ext: ExternalData | undefined,
  grid: WeightGrid,
  bits: number,
  axis: number | undefined,
  int2 = false,
): QuantizedWeight {
  const stats = channelAbs(t, ext, axis);
  const channels = stats.sum.length;
  const mean = stats.sum.map((s, c) => (stats.count[c] > 0 ? s / stats.count[c] : 0));
  const deltas = mean.map((m) => TERNARY_THRESHOLD * m);
  const maxExponent = pow2MaxExponent(bits);
  let raw: Float64Array;
  if (grid === 'pow2') raw = stats.max.map((m) => m / 2 ** maxExponent);
  else if (grid === 'ternary') raw = ternaryAlphas(t, ext, axis, deltas);
  else raw = mean;
  const scales = Float32Array.from(raw, safeScale);
  // pow2: the levels come from s0 = max|w|/2^(N−2); the stored scale is then refitted by least
  // squares (Σw·q / Σq²), which removes the gain that log-domain rounding adds (uniform |w|
  // rounds up more often than down: +6%, compounding over a deep model's layers).
  const levelScales = Float32Array.from(scales);
  if (grid === 'pow2') refitScales(t, ext, axis, levelScales, maxExponent, scales);
  const level = (w: number, c: number): number =>
    gridLevel(grid, w, levelScales[c], deltas[c], maxExponent);
  const dataType = gridContainer(grid, bits, int2);
  const packed = dataType === DataType.INT4;
  const crumbs = dataType === DataType.INT2;
  const n = elementCount(t.dims);
  const data = new Uint8Array(crumbs ? Math.ceil(n / 4) : packedLength(dataType, n));
  const channelOf = channelIndexer(t.dims, axis);
  let signal = 0;
  let noise = 0;
  forEachFloatChunk(t, ext, (chunk, start) => {
    for (let j = 0; j < chunk.length; j++) {
      const c = channelOf(start + j);
      const q = level(chunk[j], c);
      if (crumbs) storeCrumb(data, start + j, q);
      else storeValue(data, packed, start + j, q);
      const err = chunk[j] - q * scales[c];
      signal += chunk[j] * chunk[j];
      noise += err * err;
    }
  });
  return {
    dataType,
    data,
    scales,
    zeroPoints: new Int32Array(channels),
    axis,
    signal,
    noise,
  };
}
