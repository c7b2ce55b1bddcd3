/**
 * Error-compensating rounding and pruning of one weight matrix: the Optimal Brain Surgeon
 * update as GPTQ (Frantar et al. 2023, "GPTQ: Accurate Post-Training Quantization for
 * Generative Pre-trained Transformers", Algorithm 1) and SparseGPT (Frantar & Alistarh 2023,
 * "SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot", Algorithm 1) apply
 * it.
 *
 * Columns are fixed one at a time: rounded onto the grid (GPTQ) or set to zero where the mask
 * says (SparseGPT). The change of column i, scaled by the Cholesky factor U of H⁻¹
 * (H⁻¹ = UᵀU), is pushed onto the columns not yet fixed:
 *   e = (w_i − ŵ_i) / U_ii,    W[:, j] −= e · U_ij  for j > i,
 * the least-squares optimal update of the remaining weights for the layer output
 * ‖(W − Ŵ) Xᵀ‖² on the calibration inputs. Updates are applied lazily in blocks of columns (the
 * papers' "lazy batch"): within a block column by column, and the block's accumulated changes
 * onto the columns after it in one matrix product.
 *
 * A column whose input is always zero (H_ii = 0) cannot affect the output; its weights become 0.
 */
import { dampen, inverseCholeskyUpper, type MatMul } from '../numerics/linalg';

/** Rounds a value onto row r's integer grid (the stored integer, zero point included). */
export interface RowQuantizer {
  quantize(row: number, w: number): number;
  dequantize(row: number, q: number): number;
}

export interface SweepOptions {
  /** Dampening, as a fraction of H's mean diagonal (the papers' default 1%). */
  readonly damp?: number;
  /** Columns per lazy block. */
  readonly blockSize?: number;
  /**
   * Runs the large products (the factorisation's and the lazy block updates); default JS. The
   * ONNX Runtime engine (numerics/matmulEngine.ts) is an order of magnitude faster at K ≥ 1000.
   */
  readonly engine?: MatMul;
  /**
   * Keeps the factorisation of each H for further sweeps with the same H and dampening (the
   * advisor rounds and prunes one layer at many settings: the O(n³) factorisation is then done
   * once per layer instead of once per setting).
   */
  readonly factors?: FactorCache;
}

/** The dampened H's inverse Cholesky factor and its dead columns. */
interface Factor {
  readonly u: Float64Array;
  readonly dead: readonly number[];
}

/** Factorisations by H (the caller's array, unpermuted) and column order; see SweepOptions. */
export class FactorCache {
  private readonly entries = new WeakMap<Float64Array, Map<string, Promise<Factor>>>();

  get(h: Float64Array, key: string, make: () => Promise<Factor>): Promise<Factor> {
    let byKey = this.entries.get(h);
    if (!byKey) this.entries.set(h, (byKey = new Map()));
    let factor = byKey.get(key);
    if (!factor) byKey.set(key, (factor = make()));
    return factor;
  }
}

async function factorOf(
  h: Float64Array,
  n: number,
  options: SweepOptions,
  cacheKey?: { h: Float64Array; order: string },
): Promise<Factor> {
  const make = async (): Promise<Factor> => {
    const { h: matrix, dead } = dampen(h, n, options.damp ?? 0.01);
    return { u: await inverseCholeskyUpper(matrix, n, { engine: options.engine }), dead };
  };
  if (!options.factors || !cacheKey) return make();
  return options.factors.get(cacheKey.h, `${cacheKey.order}:${options.damp ?? 0.01}`, make);
}

/**
 * What the sweep does with the columns: `beginBlock` sees the block's current weights (rows ×
 * n, row-major, only columns from..to are the block) and U's diagonal before the block is
 * fixed; `fix` returns the fixed value of (row, column) given its current value.
 */
interface ColumnRule {
  beginBlock?(w: Float64Array, from: number, to: number, uDiagonal: Float64Array): void;
  fix(row: number, column: number, value: number): number;
}

/**
 * The sweep itself: `w` (rows × n, row-major) is fixed in place column by column in the given
 * order of columns (already permuted by the caller), compensating as in the header.
 */
async function sweep(
  w: Float64Array,
  rows: number,
  n: number,
  h: Float64Array,
  rule: ColumnRule,
  options: SweepOptions,
  cacheKey?: { h: Float64Array; order: string },
): Promise<void> {
  const { u, dead } = await factorOf(h, n, options, cacheKey);
  for (const j of dead) for (let r = 0; r < rows; r++) w[r * n + j] = 0;
  const diagonal = new Float64Array(n);
  for (let i = 0; i < n; i++) diagonal[i] = u[i * n + i];
  const block = options.blockSize ?? 128;
  const err = new Float64Array(rows * block);
  for (let i1 = 0; i1 < n; i1 += block) {
    const i2 = Math.min(i1 + block, n);
    rule.beginBlock?.(w, i1, i2, diagonal);
    for (let i = i1; i < i2; i++) {
      const d = diagonal[i];
      const ui = i * n;
      for (let r = 0; r < rows; r++) {
        const row = r * n;
        const value = w[row + i];
        const fixed = rule.fix(r, i, value);
        w[row + i] = fixed;
        const e = (value - fixed) / d;
        err[r * block + (i - i1)] = e;
        if (e === 0) continue;
        for (let j = i + 1; j < i2; j++) w[row + j] -= e * u[ui + j];
      }
    }
    if (i2 === n) break;
    // The block's changes onto every later column: W[:, i2:] −= E · U[i1:i2, i2:].
    await applyBlock(w, rows, n, u, err, block, i1, i2, options.engine);
  }
}

/** W[:, i2:] −= E[:, 0:width] · U[i1:i2, i2:], in the engine when there is one. */
async function applyBlock(
  w: Float64Array,
  rows: number,
  n: number,
  u: Float64Array,
  err: Float64Array,
  block: number,
  i1: number,
  i2: number,
  engine: MatMul | undefined,
): Promise<void> {
  const width = i2 - i1;
  const rest = n - i2;
  if (engine) {
    const e = new Float64Array(rows * width);
    for (let r = 0; r < rows; r++) e.set(err.subarray(r * block, r * block + width), r * width);
    const ub = new Float64Array(width * rest);
    for (let b = 0; b < width; b++)
      ub.set(u.subarray((i1 + b) * n + i2, (i1 + b + 1) * n), b * rest);
    const product = await engine.multiply(e, ub, rows, width, rest);
    for (let r = 0; r < rows; r++) {
      const row = r * n + i2;
      const from = r * rest;
      for (let j = 0; j < rest; j++) w[row + j] -= product[from + j];
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const row = r * n;
    for (let b = 0; b < width; b++) {
      const e = err[r * block + b];
      if (e === 0) continue;
      const ub = (i1 + b) * n;
      for (let j = i2; j < n; j++) w[row + j] -= e * u[ub + j];
    }
  }
}

/**
 * GPTQ: `w` (rows × columns, row-major) is rounded in place to its dequantized values; returns
 * the stored integers. `h` (columns × columns, H = XᵀX) is left untouched.
 *
 * Columns are visited in decreasing order of H's diagonal ("act order"): the columns whose
 * inputs carry the most energy are rounded first, while the most columns remain to absorb their
 * error. The quantizer of each row is fixed beforehand, so the stored format is the same
 * per-channel QDQ as nearest rounding writes.
 */
export async function gptqRound(
  w: Float64Array,
  rows: number,
  columns: number,
  h: Float64Array,
  quantizer: RowQuantizer,
  options: SweepOptions = {},
): Promise<{ q: Int32Array }> {
  const n = columns;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => h[b * n + b] - h[a * n + a]);
  const { hp, wp } = permuted(w, rows, n, h, order);
  const qp = new Int32Array(rows * n);
  await sweep(
    wp,
    rows,
    n,
    hp,
    {
      fix(r, i, value) {
        const q = quantizer.quantize(r, value);
        qp[r * n + i] = q;
        return quantizer.dequantize(r, q);
      },
    },
    options,
    { h, order: 'act-order' },
  );
  const q = new Int32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      q[r * n + order[j]] = qp[r * n + j];
      w[r * n + order[j]] = wp[r * n + j];
    }
  }
  return { q };
}

/** How many weights of a block go: a fraction of them, or N of every M along each row. */
export type SparsityPattern =
  | { readonly kind: 'fraction'; readonly sparsity: number }
  | { readonly kind: 'nm'; readonly n: number; readonly m: number };

/**
 * SparseGPT: `w` (rows × columns) is pruned in place, the survivors updated to compensate.
 * The mask is chosen block by block (adaptive mask selection) by the OBS saliency
 * w² / [H⁻¹]_ii² = (w / U_ii)², on the weights as already updated by the blocks before:
 * - a fraction: the smallest saliencies of the whole block (all rows together, so rows whose
 *   weights matter less lose more), which gives the layer its sparsity overall;
 * - N:M: in every group of M consecutive columns of a row, the N least salient (the block size
 *   is a multiple of M, so groups never straddle blocks).
 * Columns keep their order: an N:M group is M neighbours in the stored layout.
 */
export async function sparseGptPrune(
  w: Float64Array,
  rows: number,
  columns: number,
  h: Float64Array,
  pattern: SparsityPattern,
  options: SweepOptions = {},
): Promise<void> {
  const n = columns;
  const mask = new Uint8Array(rows * n);
  let masked = 0;
  const blockSize =
    pattern.kind === 'nm'
      ? pattern.m * Math.max(1, Math.floor((options.blockSize ?? 128) / pattern.m))
      : options.blockSize;
  await sweep(
    w,
    rows,
    n,
    h,
    {
      beginBlock(current, from, to, diagonal) {
        const saliency = (r: number, i: number): number => {
          const v = current[r * n + i] / diagonal[i];
          return v * v;
        };
        if (pattern.kind === 'nm') {
          for (let r = 0; r < rows; r++) {
            for (let g = from; g < to; g += pattern.m) {
              const group = Array.from({ length: Math.min(pattern.m, to - g) }, (_, k) => g + k);
              group.sort((a, b) => saliency(r, a) - saliency(r, b) || a - b);
              for (let k = 0; k < pattern.n && k < group.length; k++) mask[r * n + group[k]] = 1;
            }
          }
          return;
        }
        const count = rows * (to - from);
        const scores = new Float64Array(count);
        for (let r = 0; r < rows; r++) {
          for (let i = from; i < to; i++) scores[r * (to - from) + i - from] = saliency(r, i);
        }
        // Cumulative rounding, so the layer's total is round(sparsity · size) exactly.
        const prune = Math.round(pattern.sparsity * rows * to) - masked;
        masked += prune;
        if (prune <= 0) return;
        const threshold = Float64Array.from(scores).sort()[prune - 1];
        // Ties at the threshold: take them in order until the count is reached.
        let taken = 0;
        for (let k = 0; k < count && taken < prune; k++) {
          if (scores[k] < threshold) {
            mask[Math.floor(k / (to - from)) * n + from + (k % (to - from))] = 1;
            taken++;
          }
        }
        for (let k = 0; k < count && taken < prune; k++) {
          if (scores[k] === threshold) {
            mask[Math.floor(k / (to - from)) * n + from + (k % (to - from))] = 1;
            taken++;
          }
        }
      },
      fix: (r, i, value) => (mask[r * n + i] ? 0 : value),
    },
    { ...options, blockSize },
    { h, order: 'stored' },
  );
}

function permuted(
  w: Float64Array,
  rows: number,
  n: number,
  h: Float64Array,
  order: readonly number[],
): { hp: Float64Array; wp: Float64Array } {
  const hp = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const src = order[i] * n;
    for (let j = 0; j < n; j++) hp[i * n + j] = h[src + order[j]];
  }
  const wp = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) wp[r * n + j] = w[r * n + order[j]];
  }
  return { hp, wp };
}
