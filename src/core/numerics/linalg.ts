/**
 * Dense symmetric positive-definite linear algebra for calibrated compression: GPTQ and
 * SparseGPT (which need the upper Cholesky factor of the inverse Hessian H = 2XXᵀ) and
 * least-squares reconstruction of pruned weights (W' = W H[:, S] H[S, S]⁻¹).
 *
 * Matrices are row-major Float64Array, square n×n unless said otherwise. The O(n³) work is done
 * by blocked algorithms (cholesky.ts) whose products go to a pluggable MatMul engine: the pure-JS
 * float64 engine by default, ONNX Runtime's float32 BLAS with matmulEngine.ts. Every
 * factorisation is therefore async, whichever the engine.
 */
import {
  blockSizeOf,
  copyBlock,
  factorInPlace,
  NotPositiveDefiniteError,
  type FactorOptions,
} from './cholesky';
import { jsMatMul, transpose, type Matrix } from './matmul';

export { DEFAULT_BLOCK_SIZE, NotPositiveDefiniteError } from './cholesky';
export { jsMatMul, multiplyJs, type MatMul, type Matrix, type MultiplyOptions } from './matmul';

/** The engine for the products (default the pure-JS float64 one) and the block size (default 256). */
export type LinalgOptions = FactorOptions;

export interface Dampened {
  h: Float64Array;
  /** Columns whose diagonal was 0, in increasing order. */
  dead: number[];
}

/**
 * GPTQ's conditioning of H before it is inverted (Frantar et al., "GPTQ", reference code
 * `fasterquant`): a dead column, whose input was always 0, has a zero diagonal (its row and
 * column of H = 2XXᵀ are zero), so its diagonal is set to 1 and the caller zeros that weight
 * column; then `percent` of the mean diagonal (taken after that) is added to every diagonal
 * entry. Returns a copy.
 */
export function dampen(h: ArrayLike<number>, n: number, percent = 0.01): Dampened {
  checkSquare(h, n, 'dampen');
  if (!(percent >= 0)) throw new Error(`dampening must be a non-negative fraction, not ${percent}`);
  const out = copyOf(h);
  const dead: number[] = [];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (out[i * n + i] === 0) {
      out[i * n + i] = 1;
      dead.push(i);
    }
    sum += out[i * n + i];
  }
  const damp = n > 0 ? (percent * sum) / n : 0;
  for (let i = 0; i < n; i++) out[i * n + i] += damp;
  return { h: out, dead };
}

/** H[S, S]: the rows and columns `indices` of the n×n matrix h, in that order. */
export function principalSubmatrix(
  h: ArrayLike<number>,
  n: number,
  indices: readonly number[],
): Float64Array {
  checkSquare(h, n, 'principalSubmatrix');
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      throw new Error(`principalSubmatrix: index ${i} is outside 0..${n - 1}`);
    }
  }
  const s = indices.length;
  const out = new Float64Array(s * s);
  for (let a = 0; a < s; a++) {
    const row = indices[a] * n;
    for (let b = 0; b < s; b++) out[a * s + b] = h[row + indices[b]];
  }
  return out;
}

/**
 * L, lower triangular with positive diagonal, such that A = L Lᵀ. Only A's lower triangle is
 * read. Throws NotPositiveDefiniteError ("matrix is not positive definite at column k") at the
 * first column k whose leading (k+1)×(k+1) submatrix is not positive definite.
 */
export async function choleskyLower(
  a: ArrayLike<number>,
  n: number,
  options: LinalgOptions = {},
): Promise<Float64Array> {
  checkSquare(a, n, 'choleskyLower');
  const w = copyOf(a);
  await factorInPlace(w, n, false, options);
  return w;
}

/**
 * U, upper triangular with positive diagonal, such that H⁻¹ = Uᵀ U: the "Hinv" of GPTQ and
 * SparseGPT, which PyTorch computes as cholesky(cholesky_inverse(cholesky(H)), upper=True).
 *
 * Here with one factorisation and one triangular inverse: with P the reversal permutation,
 * P H P = L Lᵀ gives H = R Rᵀ with R = P L P upper triangular, so H⁻¹ = R⁻ᵀ R⁻¹ and, the
 * upper Cholesky factor being unique, U = R⁻¹ = P L⁻¹ P. Reversing both the rows and the columns
 * of a row-major matrix is reversing its elements, so P H P and P X P cost one pass each.
 *
 * Only H's upper triangle is read (it is P H P's lower one). A failure throws
 * NotPositiveDefiniteError naming H's column c: the trailing submatrix H[c:, c:] is not positive
 * definite (dampen H first).
 */
export async function inverseCholeskyUpper(
  h: ArrayLike<number>,
  n: number,
  options: LinalgOptions = {},
): Promise<Float64Array> {
  checkSquare(h, n, 'inverseCholeskyUpper');
  const w = reversedCopy(h);
  try {
    await factorInPlace(w, n, true, options);
  } catch (e) {
    if (e instanceof NotPositiveDefiniteError) throw new NotPositiveDefiniteError(n - 1 - e.column);
    throw e;
  }
  return w.reverse();
}

/**
 * X = H⁻¹ B for SPD H (n×n) and B n×m (row-major, m right-hand sides), by Cholesky H = L Lᵀ
 * then the blocked triangular solves L Y = B and Lᵀ X = Y, whose products also go to the
 * engine. For least-squares reconstruction W' = W H[:, S] H[S, S]⁻¹, solve with H[S, S] and
 * B = (W H[:, S])ᵀ, and transpose the result.
 */
export async function solveSpd(
  h: ArrayLike<number>,
  n: number,
  b: ArrayLike<number>,
  m: number,
  options: LinalgOptions = {},
): Promise<Float64Array> {
  checkSquare(h, n, 'solveSpd');
  if (!Number.isInteger(m) || m < 0 || b.length !== n * m) {
    throw new Error(`solveSpd: right-hand side has ${b.length} elements, not ${n}×${m}`);
  }
  const l = copyOf(h);
  const inverses = await factorInPlace(l, n, false, options);
  const x = Float64Array.from(b);
  if (m === 0) return x;
  const engine = options.engine ?? jsMatMul;
  const bs = blockSizeOf(options);
  const starts = inverses.map((_, i) => i * bs);
  // Forward, L Y = B: Y[K] = L11⁻¹ B[K], then B[T] −= L[T, K] Y[K].
  for (const [index, k] of starts.entries()) {
    const kb = Math.min(bs, n - k);
    const e = k + kb;
    const yk = await engine.multiply(inverses[index], x.subarray(k * m, e * m), kb, kb, m);
    x.set(yk, k * m);
    if (e < n) {
      const update = await engine.multiply(copyBlock(l, n, e, k, n - e, kb), yk, n - e, kb, m);
      subtract(x, e * m, update);
    }
  }
  // Backward, Lᵀ X = Y: X[K] = L11⁻ᵀ Y[K], then Y[<k] −= L[K, <k]ᵀ X[K].
  for (const [index, k] of [...starts.entries()].reverse()) {
    const kb = Math.min(bs, n - k);
    const xk = await engine.multiply(
      transpose(inverses[index], kb, kb),
      x.subarray(k * m, (k + kb) * m),
      kb,
      kb,
      m,
    );
    x.set(xk, k * m);
    if (k > 0) {
      const lkd = transpose(copyBlock(l, n, k, 0, kb, k), kb, k);
      subtract(x, 0, await engine.multiply(lkd, xk, k, kb, m));
    }
  }
  return x;
}

/** A float64 copy (Float64Array.from would go through the iterator even for a typed array). */
function copyOf(a: ArrayLike<number>): Float64Array {
  return a instanceof Float64Array ? a.slice() : Float64Array.from(a);
}

/** P A P for the reversal P, of a row-major matrix: its elements in reverse order, in one pass. */
function reversedCopy(a: ArrayLike<number>): Float64Array {
  const last = a.length - 1;
  const out = new Float64Array(a.length);
  for (let i = 0; i <= last; i++) out[i] = a[last - i];
  return out;
}

/** x[at + i] −= d[i]. */
function subtract(x: Float64Array, at: number, d: Matrix): void {
  for (let i = 0; i < d.length; i++) x[at + i] -= d[i];
}

function checkSquare(a: ArrayLike<number>, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`${what}: size must be a natural number, not ${n}`);
  }
  if (a.length !== n * n) {
    throw new Error(`${what}: a ${n}×${n} matrix has ${n * n} elements, not ${a.length}`);
  }
}
