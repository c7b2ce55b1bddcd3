/**
 * Error-compensating rounding of one weight matrix (GPTQ: Frantar et al. 2023, "GPTQ: Accurate
 * Post-Training Quantization for Generative Pre-trained Transformers", Algorithm 1; the Optimal
 * Brain Quantizer it simplifies).
 *
 * Columns are rounded one at a time. The rounding error of column i, scaled by the Cholesky
 * factor U of H⁻¹ (H⁻¹ = UᵀU), is pushed onto the columns not yet rounded:
 *   e = (w_i − q_i) / U_ii,    W[:, j] −= e · U_ij  for j > i,
 * which is the least-squares optimal update of the remaining weights for the layer output
 * ‖(W − Ŵ) Xᵀ‖² on the calibration inputs. Updates are applied lazily in blocks of columns (the
 * "lazy batch" of the paper): within a block column by column, and the block's accumulated
 * errors onto the columns after it in one matrix product.
 *
 * Columns are visited in decreasing order of H's diagonal ("act order"): the columns whose inputs
 * carry the most energy are rounded first, while the most columns remain to absorb their error.
 * A column whose input is always zero (H_ii = 0) cannot affect the output; its weights become 0.
 *
 * The quantizer of each row (its scale, zero point and integer range) is fixed before the loop:
 * the stored format is the same per-channel QDQ as nearest rounding writes.
 */
import { dampen, inverseCholeskyUpper } from '../numerics/linalg';

/** Rounds a value onto row r's integer grid (the stored integer, zero point included). */
export interface RowQuantizer {
  quantize(row: number, w: number): number;
  dequantize(row: number, q: number): number;
}

export interface GptqOptions {
  /** Dampening, as a fraction of H's mean diagonal (GPTQ's default 1%). */
  readonly damp?: number;
  /** Columns per lazy block. */
  readonly blockSize?: number;
}

export interface GptqResult {
  /** The stored integers, rows × columns. */
  readonly q: Int32Array;
}

/**
 * `w`: rows × columns (row-major), rounded in place to its dequantized values.
 * `h`: columns × columns, H = XᵀX (left untouched).
 */
export async function gptqRound(
  w: Float64Array,
  rows: number,
  columns: number,
  h: Float64Array,
  quantizer: RowQuantizer,
  options: GptqOptions = {},
): Promise<GptqResult> {
  const n = columns;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => h[b * n + b] - h[a * n + a]);
  // Permuted copies: H[order][order] and W[:, order].
  const hp = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const src = order[i] * n;
    for (let j = 0; j < n; j++) hp[i * n + j] = h[src + order[j]];
  }
  const wp = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) wp[r * n + j] = w[r * n + order[j]];
  }
  const { matrix, dead } = dampen(hp, n, options.damp ?? 0.01);
  for (const j of dead) for (let r = 0; r < rows; r++) wp[r * n + j] = 0;
  const u = await inverseCholeskyUpper(matrix, n);

  const qp = new Int32Array(rows * n);
  const block = options.blockSize ?? 128;
  const err = new Float64Array(rows * block);
  for (let i1 = 0; i1 < n; i1 += block) {
    const i2 = Math.min(i1 + block, n);
    const width = i2 - i1;
    for (let i = i1; i < i2; i++) {
      const d = u[i * n + i];
      for (let r = 0; r < rows; r++) {
        const row = r * n;
        const value = wp[row + i];
        const q = quantizer.quantize(r, value);
        qp[row + i] = q;
        const e = (value - quantizer.dequantize(r, q)) / d;
        err[r * block + (i - i1)] = e;
        // Within the block, column by column.
        const ui = i * n;
        for (let j = i + 1; j < i2; j++) wp[row + j] -= e * u[ui + j];
      }
    }
    if (i2 === n) break;
    // The block's errors onto every later column: W[:, i2:] −= E · U[i1:i2, i2:].
    for (let r = 0; r < rows; r++) {
      const row = r * n;
      for (let b = 0; b < width; b++) {
        const e = err[r * block + b];
        if (e === 0) continue;
        const ub = (i1 + b) * n;
        for (let j = i2; j < n; j++) wp[row + j] -= e * u[ub + j];
      }
    }
  }
  const q = new Int32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      const v = qp[r * n + j];
      q[r * n + order[j]] = v;
      w[r * n + order[j]] = quantizer.dequantize(r, v);
    }
  }
  return { q };
}
