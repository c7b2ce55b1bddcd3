/**
 * Blocked Cholesky factorisation, optionally fused with the inversion of its factor, in place on
 * a row-major float64 matrix. linalg.ts wraps it in the public API; this file holds the
 * algorithm and its small dense kernels.
 *
 * Right-looking block Cholesky (Golub & Van Loan, "Matrix Computations", 4th ed., §4.2.9): with
 * the current diagonal block K = [k, e), the trailing rows T = [e, n) and
 *
 *     S = [ S11  .  ]      S11 = L11 L11ᵀ        (float64, in JS: see factorDiagonal)
 *         [ S21 S22 ]      L21 = S21 L11⁻ᵀ        (a product with the small inverse L11⁻¹)
 *                          S22 ← S22 − L21 L21ᵀ   (the Schur complement: the O(n³) work)
 *
 * the last two are general matrix products handed to a MatMul engine. Only the lower triangle
 * of S is read or updated.
 *
 * Fused inversion: X = L⁻¹ solves L X = I. Forward substitution by block rows, run alongside the
 * factorisation, gives X[K, :] = L11⁻¹ (I − L[K, <k] X[<k, :])[K, :], and the part subtracted
 * can be accumulated right-looking, exactly like the Schur complement: after block K,
 *
 *     B[T, <e] ← B[T, <e] − L21 · X[K, <e]      (B = I − L X so far, rows T, columns before e)
 *
 * B[T, <e] and S22's lower triangle are side by side in row i of the same array (columns < e and
 * e..i), and both updates are L21 times a matrix with b rows, so one product per chunk of rows,
 * L21[rows] · [X[K, <e] | L21ᵀ], updates both: the columns S21 occupied are no longer needed once
 * L21 is formed, and B takes them over. The array ends as X, lower triangular, with no second
 * n×n buffer. Cost: n³/6 multiply-adds for the factor plus n³/6 for the inverse, as LAPACK's
 * potrf + trtri, nearly all of it in the engine's products.
 */
import { jsMatMul, type MatMul, type Matrix } from './matmul';

/** Thrown when a pivot is not positive: the leading principal submatrix up to it is not PD. */
export class NotPositiveDefiniteError extends Error {
  constructor(readonly column: number) {
    super(`matrix is not positive definite at column ${column}`);
    this.name = 'NotPositiveDefiniteError';
  }
}

/**
 * Block size of the factorisation. The engine's products write about n³/(3b) elements in all,
 * each of which JS then subtracts, so a larger block saves memory traffic; but the diagonal
 * blocks, factored in float64 JS, cost about n·b²/3 multiply-adds. At n = 4608 with ONNX Runtime
 * on 2 shared cores, 256 took the least CPU time: about 1.6 s, against 2.0 s for 128 and 1.75 s
 * for 512 (bench/linalg.ts --block; wall times were too noisy there to rank them).
 */
export const DEFAULT_BLOCK_SIZE = 256;

/** Diagonal blocks up to this size are factored unblocked (see factorDiagonal). */
const UNBLOCKED_MAX = 64;
const INNER_BLOCK = 32;

export interface FactorOptions {
  engine?: MatMul;
  blockSize?: number;
}

/**
 * Factors the n×n SPD matrix in `w` (row-major, lower triangle read) in place: afterwards its
 * lower triangle holds L (`invert` false) or L⁻¹ (`invert` true), the strict upper triangle zero.
 * Returns the inverses of L's diagonal blocks (blockSize square, the last one smaller), which
 * the triangular solves reuse. A non-positive pivot throws NotPositiveDefiniteError with its
 * column.
 */
export function factorInPlace(
  w: Float64Array,
  n: number,
  invert: boolean,
  options: FactorOptions = {},
): Promise<Float64Array[]> {
  return factor(w, n, invert, options.engine ?? jsMatMul, blockSizeOf(options), 0);
}

/** `offset`: the column of the whole matrix this one starts at, for the error. */
async function factor(
  w: Float64Array,
  n: number,
  invert: boolean,
  engine: MatMul,
  b: number,
  offset: number,
): Promise<Float64Array[]> {
  const inverses: Float64Array[] = [];
  // Scratch for the right operand [X[K, <e] | L21ᵀ] stored transposed, n rows of b: reused, and
  // made in the engine's element type so that it is converted once per block, not per product.
  const f32 = engine.operandType === 'float32';
  const width = Math.min(b, n);
  const rhs = f32
    ? new Float32Array(invert ? n * width : 0)
    : new Float64Array(invert ? n * width : 0);
  for (let k = 0; k < n; k += b) {
    const kb = Math.min(b, n - k);
    const e = k + kb;
    const a11 = copyBlock(w, n, k, k, kb, kb);
    // Every mode needs L11⁻¹; the factor alone needs L11 too, and gets it by factoring the small
    // block a second time (b³/3 more multiply-adds) rather than by a second routine.
    const l11inv = await factorDiagonal(invert ? a11 : a11.slice(), kb, true, offset + k);
    inverses.push(l11inv);
    if (invert && k > 0) {
      // X[K, <k] = L11⁻¹ B[K, <k]
      const xkd = await engine.multiply(l11inv, copyBlock(w, n, k, 0, kb, k, f32), kb, kb, k);
      pasteBlock(w, n, k, 0, kb, k, xkd);
    }
    const diagonal = invert ? l11inv : await factorDiagonal(a11, kb, false, offset + k);
    pasteBlock(w, n, k, k, kb, kb, diagonal);
    const r = n - e;
    if (r === 0) break;
    // L21 = S21 L11⁻ᵀ
    const l21 = await engine.multiply(copyBlock(w, n, e, k, r, kb, f32), l11inv, r, kb, kb, {
      transB: true,
    });
    // The columns the update starts at, and the right operand's rows from there on.
    let from: number;
    let right: Matrix;
    if (invert) {
      from = 0;
      transposeInto(w, n, k, kb, e, rhs);
      rhs.set(l21, e * kb);
      // B[T, K] starts at I's zero; S21 is consumed.
      fillBlock(w, n, e, k, r, kb, 0);
      right = rhs;
    } else {
      from = e;
      pasteBlock(w, n, e, k, r, kb, l21);
      right = l21;
    }
    // One product per b rows of T: rows [a, a + rows) need the columns [from, a + rows).
    for (let a = e; a < n; a += b) {
      const rows = Math.min(b, n - a);
      const cols = a + rows - from;
      const product = await engine.multiply(
        l21.subarray((a - e) * kb, (a - e + rows) * kb),
        right.subarray(0, cols * kb),
        rows,
        kb,
        cols,
        { transB: true },
      );
      if (product instanceof Float32Array) subtractLower32(w, n, a, rows, from, cols, product);
      else subtractLower64(w, n, a, rows, from, cols, product);
    }
  }
  zeroStrictUpper(w, n);
  return inverses;
}

/**
 * L11 (or L11⁻¹) of a diagonal block, in place, always in float64: the pivots and the small
 * inverse every product of the step depends on keep full precision whatever the engine. A block
 * above UNBLOCKED_MAX is factored by `factor` itself with the JS engine and blocks of
 * INNER_BLOCK, whose unrolled product runs several times faster than the unblocked loops.
 */
async function factorDiagonal(
  d: Float64Array,
  nb: number,
  invert: boolean,
  offset: number,
): Promise<Float64Array> {
  if (nb > UNBLOCKED_MAX) {
    await factor(d, nb, invert, jsMatMul, INNER_BLOCK, offset);
    return d;
  }
  choleskyUnblocked(d, nb, offset);
  return invert ? invertLowerUnblocked(d, nb) : d;
}

export function blockSizeOf(options: FactorOptions): number {
  const b = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(b) || b < 1) {
    throw new Error(`block size must be a positive integer, not ${b}`);
  }
  return b;
}

/**
 * In-place Cholesky of a small dense block, row by row (Cholesky–Banachiewicz): each entry is a
 * dot product of two contiguous row prefixes. `offset` turns a failing local column into the
 * matrix's column for the error.
 */
function choleskyUnblocked(d: Float64Array, nb: number, offset = 0): Float64Array {
  for (let i = 0; i < nb; i++) {
    const ri = i * nb;
    for (let j = 0; j <= i; j++) {
      const rj = j * nb;
      let s = d[ri + j];
      for (let p = 0; p < j; p++) s -= d[ri + p] * d[rj + p];
      if (j < i) d[ri + j] = s / d[rj + j];
      else {
        // `!(s > 0)` also catches NaN, as LAPACK's potrf does.
        if (!(s > 0)) throw new NotPositiveDefiniteError(offset + i);
        d[ri + i] = Math.sqrt(s);
      }
    }
    d.fill(0, ri + i + 1, ri + nb);
  }
  return d;
}

/**
 * L⁻¹ of a small lower-triangular block by forward substitution on rows:
 * X[i, :] = (e_i − Σ_{p<i} L[i][p] X[p, :]) / L[i][i], where row p of X is zero beyond p.
 */
function invertLowerUnblocked(l: Float64Array, nb: number): Float64Array {
  const x = new Float64Array(nb * nb);
  for (let i = 0; i < nb; i++) {
    const ri = i * nb;
    for (let p = 0; p < i; p++) {
      const lip = l[ri + p];
      if (lip === 0) continue;
      const rp = p * nb;
      for (let j = 0; j <= p; j++) x[ri + j] -= lip * x[rp + j];
    }
    x[ri + i] = 1;
    const inv = 1 / l[ri + i];
    for (let j = 0; j <= i; j++) x[ri + j] *= inv;
  }
  return x;
}

/**
 * The rows×cols block of the n-wide matrix w at (row, col), as a contiguous copy, in float32
 * when the engine would convert it anyway.
 */
export function copyBlock(
  w: Float64Array,
  n: number,
  row: number,
  col: number,
  rows: number,
  cols: number,
): Float64Array;
export function copyBlock(
  w: Float64Array,
  n: number,
  row: number,
  col: number,
  rows: number,
  cols: number,
  float32: boolean,
): Matrix;
export function copyBlock(
  w: Float64Array,
  n: number,
  row: number,
  col: number,
  rows: number,
  cols: number,
  float32 = false,
): Matrix {
  const out = float32 ? new Float32Array(rows * cols) : new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const at = (row + i) * n + col;
    out.set(w.subarray(at, at + cols), i * cols);
  }
  return out;
}

function pasteBlock(
  w: Float64Array,
  n: number,
  row: number,
  col: number,
  rows: number,
  cols: number,
  block: Matrix,
): void {
  for (let i = 0; i < rows; i++) {
    w.set(block.subarray(i * cols, (i + 1) * cols), (row + i) * n + col);
  }
}

function fillBlock(
  w: Float64Array,
  n: number,
  row: number,
  col: number,
  rows: number,
  cols: number,
  value: number,
): void {
  for (let i = 0; i < rows; i++) {
    const at = (row + i) * n + col;
    w.fill(value, at, at + cols);
  }
}

/**
 * out[j][p] = w[k + p][j] for j < e: X[K, <e] transposed, kb wide. In tiles of 32 columns, so
 * that the rows of `out` being written stay in cache.
 */
function transposeInto(
  w: Float64Array,
  n: number,
  k: number,
  kb: number,
  e: number,
  out: Matrix,
): void {
  for (let j0 = 0; j0 < e; j0 += 32) {
    const j1 = Math.min(e, j0 + 32);
    for (let p = 0; p < kb; p++) {
      const row = (k + p) * n;
      for (let j = j0; j < j1; j++) out[j * kb + p] = w[row + j];
    }
  }
}

/**
 * w[a + i][from + j] −= product[i][j] for the lower triangle only (from + j ≤ a + i): entries
 * above the diagonal are never read, so the product's corner beyond it is dropped. One copy per
 * element type keeps each loop monomorphic (V8 runs a loop that sees both at about 2/3 speed),
 * and this loop touches every element the products write.
 */
function subtractLower32(
  w: Float64Array,
  n: number,
  a: number,
  rows: number,
  from: number,
  width: number,
  product: Float32Array,
): void {
  for (let i = 0; i < rows; i++) {
    const row = (a + i) * n + from;
    const p = i * width;
    const count = a + i + 1 - from;
    for (let j = 0; j < count; j++) w[row + j] -= product[p + j];
  }
}

function subtractLower64(
  w: Float64Array,
  n: number,
  a: number,
  rows: number,
  from: number,
  width: number,
  product: Float64Array,
): void {
  for (let i = 0; i < rows; i++) {
    const row = (a + i) * n + from;
    const p = i * width;
    const count = a + i + 1 - from;
    for (let j = 0; j < count; j++) w[row + j] -= product[p + j];
  }
}

function zeroStrictUpper(w: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) w.fill(0, i * n + i + 1, (i + 1) * n);
}
