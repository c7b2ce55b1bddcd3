/**
 * The general matrix multiply that the blocked factorisations of linalg.ts hand their O(n³) work
 * to, behind one small interface so that a faster engine can be plugged in (matmulEngine.ts runs
 * it on ONNX Runtime's multi-threaded float32 BLAS), and the pure-JS engine below, which computes
 * in float64 and is the default.
 *
 * Matrices are dense, row-major, without padding: element (i, j) of an r×c matrix is at i·c + j.
 */

/** A dense row-major matrix's elements. */
export type Matrix = Float32Array | Float64Array;

export interface MultiplyOptions {
  /** `b` is given transposed: n×k instead of k×n, and the product is A·Bᵀ. */
  transB?: boolean;
}

/**
 * C = A·B (or A·Bᵀ with `transB`), A m×k, B k×n (n×k), C m×n, all row-major. An engine may
 * compute in float32 and return a Float32Array (ONNX Runtime's product is not converted: on the
 * largest updates the conversion would be another pass over memory as long as the product
 * itself); callers read the elements as numbers either way. The result is the caller's to keep
 * or overwrite. m, k and n are at least 1.
 */
export interface MatMul {
  /**
   * The element type the engine converts its operands to, when not float64: a caller that
   * passes one operand to many products can then convert it once instead of at every product.
   */
  readonly operandType?: 'float32' | 'float64';
  multiply(
    a: Matrix,
    b: Matrix,
    m: number,
    k: number,
    n: number,
    options?: MultiplyOptions,
  ): Matrix | Promise<Matrix>;
}

/** The pure-JS engine: float64 throughout, synchronous. */
export const jsMatMul: MatMul = {
  operandType: 'float64',
  multiply: (a, b, m, k, n, options) => multiplyJs(a, b, m, k, n, options?.transB ?? false),
};

/** Column and depth tiles: a KB×JB tile of B (512 KiB in float64) stays in L2 while every row of A passes over it. */
const JB = 512;
const KB = 128;

/**
 * A·B (A·Bᵀ) in float64. The loop order is i-k-j (each row of C is updated by rows of B: the
 * innermost loop runs over contiguous memory), tiled over j and k for the cache, and unrolled to
 * two rows of A by four of B so that each element of B loaded serves eight multiply-adds. About
 * 1 G multiply-adds per second in V8 on one core. Groups of A's elements that are all zero are
 * skipped, which halves the work when A is triangular.
 */
export function multiplyJs(
  a: Matrix,
  b: Matrix,
  m: number,
  k: number,
  n: number,
  transB = false,
): Float64Array {
  checkSizes(a, b, m, k, n);
  // One element type keeps V8's element access monomorphic in the hot loop.
  const a64 = a instanceof Float64Array ? a : Float64Array.from(a);
  const b64 = transB ? transpose(b, n, k) : b instanceof Float64Array ? b : Float64Array.from(b);
  const c = new Float64Array(m * n);
  for (let j0 = 0; j0 < n; j0 += JB) {
    const j1 = Math.min(n, j0 + JB);
    for (let p0 = 0; p0 < k; p0 += KB) {
      const p1 = Math.min(k, p0 + KB);
      let i = 0;
      for (; i + 1 < m; i += 2) tileTwoRows(a64, b64, c, i, k, n, p0, p1, j0, j1);
      if (i < m) tileOneRow(a64, b64, c, i, k, n, p0, p1, j0, j1);
    }
  }
  return c;
}

/** Rows i and i+1 of C, columns [j0, j1), depth [p0, p1). */
function tileTwoRows(
  a: Float64Array,
  b: Float64Array,
  c: Float64Array,
  i: number,
  k: number,
  n: number,
  p0: number,
  p1: number,
  j0: number,
  j1: number,
): void {
  const c0 = i * n;
  const c1 = c0 + n;
  const r0 = i * k;
  const r1 = r0 + k;
  let p = p0;
  for (; p + 3 < p1; p += 4) {
    const a00 = a[r0 + p];
    const a01 = a[r0 + p + 1];
    const a02 = a[r0 + p + 2];
    const a03 = a[r0 + p + 3];
    const a10 = a[r1 + p];
    const a11 = a[r1 + p + 1];
    const a12 = a[r1 + p + 2];
    const a13 = a[r1 + p + 3];
    if (a00 === 0 && a01 === 0 && a02 === 0 && a03 === 0) {
      if (a10 === 0 && a11 === 0 && a12 === 0 && a13 === 0) continue;
    }
    const b0 = p * n;
    const b1 = b0 + n;
    const b2 = b1 + n;
    const b3 = b2 + n;
    for (let j = j0; j < j1; j++) {
      const x0 = b[b0 + j];
      const x1 = b[b1 + j];
      const x2 = b[b2 + j];
      const x3 = b[b3 + j];
      c[c0 + j] += a00 * x0 + a01 * x1 + a02 * x2 + a03 * x3;
      c[c1 + j] += a10 * x0 + a11 * x1 + a12 * x2 + a13 * x3;
    }
  }
  for (; p < p1; p++) {
    const a0 = a[r0 + p];
    const a1 = a[r1 + p];
    if (a0 === 0 && a1 === 0) continue;
    const bp = p * n;
    for (let j = j0; j < j1; j++) {
      const x = b[bp + j];
      c[c0 + j] += a0 * x;
      c[c1 + j] += a1 * x;
    }
  }
}

/** The last row of C when m is odd. */
function tileOneRow(
  a: Float64Array,
  b: Float64Array,
  c: Float64Array,
  i: number,
  k: number,
  n: number,
  p0: number,
  p1: number,
  j0: number,
  j1: number,
): void {
  const ci = i * n;
  const ri = i * k;
  for (let p = p0; p < p1; p++) {
    const av = a[ri + p];
    if (av === 0) continue;
    const bp = p * n;
    for (let j = j0; j < j1; j++) c[ci + j] += av * b[bp + j];
  }
}

/** The transpose of an r×c matrix, as a c×r float64 matrix. */
export function transpose(x: Matrix, r: number, c: number): Float64Array {
  const t = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    const row = i * c;
    for (let j = 0; j < c; j++) t[j * r + i] = x[row + j];
  }
  return t;
}

/** The sizes must describe the arrays exactly: a wrong n would otherwise read garbage silently. */
export function checkSizes(a: Matrix, b: Matrix, m: number, k: number, n: number): void {
  for (const d of [m, k, n]) {
    if (!Number.isInteger(d) || d < 1) {
      throw new Error(`matrix product: dimensions must be positive integers, not ${m}×${k}×${n}`);
    }
  }
  if (a.length !== m * k || b.length !== k * n) {
    throw new Error(
      `matrix product ${m}×${k} by ${k}×${n}: operands have ${a.length} and ${b.length} elements`,
    );
  }
}
