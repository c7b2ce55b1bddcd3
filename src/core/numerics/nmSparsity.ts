/**
 * N:M semi-structured sparsity (Mishra et al., "Accelerating Sparse Deep Neural Networks", 2021;
 * NVIDIA's Ampere sparse tensor cores): in every group of M consecutive weights along a layer's
 * reduction (input) dimension, at most N are nonzero. The hardware stores the N kept values and
 * a small index per value, and multiplies only those, so a 2:4 layer runs at half its MACs.
 *
 * Everything here works on a weight seen as a row-major matrix [rows, cols], one row per output
 * and the reduction along `cols` (cost/reductionLayout.ts maps each layer's weight onto it), so
 * that a group never straddles two outputs. The pruner picks the kept weights with `nmMask`, whose
 * score is pluggable: magnitude by default, or a calibrated criterion such as SparseGPT's
 * w² / [H⁻¹]ₖₖ² (Frantar and Alistarh, 2023), which scores column k of every row with the inverse
 * Hessian of that layer's inputs. `checkNmPattern` verifies a stored weight, and
 * `maxNonzerosPerGroup` is what the analysis and the device rules compare a pattern against.
 */

export interface NmPattern {
  /** Nonzeros kept per group, 0 < n < m. */
  readonly n: number;
  /** Group length along the reduction dimension, 2 ≤ m ≤ MAX_NM_GROUP. */
  readonly m: number;
}

/**
 * The longest group accepted. Hardware N:M formats use M = 4 (NVIDIA 2:4) or 8; 16 bounds the
 * per-group selection cost (M² compares) and the patterns the analysis looks for.
 */
export const MAX_NM_GROUP = 16;

export function formatNm(p: NmPattern): string {
  return `${p.n}:${p.m}`;
}

/**
 * "2:4" → {n: 2, m: 4}, or why the text is no N:M pattern (one clause, for the CLI's usage
 * errors and the device profile problems to embed).
 */
export function parseNmPattern(text: string): NmPattern | { readonly error: string } {
  const match = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(text);
  if (!match) return { error: `'${text}' is not an N:M pattern such as 2:4` };
  const n = Number(match[1]);
  const m = Number(match[2]);
  if (m < 2 || m > MAX_NM_GROUP) {
    return { error: `${n}:${m}: M must be from 2 to ${MAX_NM_GROUP}` };
  }
  if (n < 1 || n >= m) return { error: `${n}:${m}: N must be from 1 to M − 1` };
  return { n, m };
}

/** How each weight is scored; larger is kept first. */
export type NmScore = (row: number, col: number) => number;

function checkShape(values: ArrayLike<number>, rows: number, cols: number, m: number): void {
  if (!(Number.isInteger(rows) && Number.isInteger(cols) && rows >= 0 && cols >= 0)) {
    throw new RangeError(`a ${rows}×${cols} matrix has no integer shape`);
  }
  if (values.length !== rows * cols) {
    throw new RangeError(`${values.length} values are not a ${rows}×${cols} matrix`);
  }
  if (cols % m !== 0) throw new RangeError(`${cols} columns do not divide into groups of ${m}`);
}

/**
 * The keep mask (1 = kept) of an N:M selection over a row-major [rows, cols] matrix: in each group
 * of `m` consecutive columns of a row, the `n` weights of highest score, ties to the lower
 * column. The default score is |w|. A NaN score ranks below every number, so a NaN weight is
 * dropped before any real one. Throws a RangeError when `cols` is not a multiple of `m` (the
 * callers check first and refuse with the layer's name).
 */
export function nmMask(
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  n: number,
  m: number,
  score?: NmScore,
): Uint8Array {
  if (!(Number.isInteger(n) && Number.isInteger(m) && n >= 0 && n <= m && m >= 1)) {
    throw new RangeError(`${n}:${m} is no N:M pattern`);
  }
  checkShape(values, rows, cols, m);
  const mask = new Uint8Array(rows * cols);
  const scores = new Float64Array(m);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += m) {
      const base = r * cols + g;
      for (let j = 0; j < m; j++) {
        const s = score ? score(r, g + j) : Math.abs(values[base + j]);
        scores[j] = Number.isNaN(s) ? -Infinity : s;
      }
      // Weight j is kept when fewer than n weights of the group rank above it. Ranking by
      // counting keeps ties stable (lower column first) with no sort, and M ≤ 16 keeps it cheap.
      for (let j = 0; j < m; j++) {
        let above = 0;
        const s = scores[j];
        for (let k = 0; k < m && above < n; k++) {
          if (scores[k] > s || (scores[k] === s && k < j)) above++;
        }
        if (above < n) mask[base + j] = 1;
      }
    }
  }
  return mask;
}

/** Zeroes, in place, the weights an N:M mask drops. */
export function applyMask(values: Float32Array, mask: Uint8Array): void {
  for (let i = 0; i < values.length; i++) if (mask[i] === 0) values[i] = 0;
}

/**
 * The most nonzeros any group of `m` consecutive columns of a row holds: a weight follows n:m
 * when this is at most n. (An integer weight is passed as stored value − zero point, so that its
 * zeros are 0.)
 */
export function maxNonzerosPerGroup(
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  m: number,
): number {
  checkShape(values, rows, cols, m);
  let max = 0;
  for (let start = 0; start < values.length && max < m; start += m) {
    let count = 0;
    for (let j = 0; j < m; j++) if (values[start + j] !== 0) count++;
    if (count > max) max = count;
  }
  return max;
}

export interface NmCheck {
  readonly ok: boolean;
  /** Groups of m checked (rows × cols / m). */
  readonly groups: number;
  /** Groups holding more than n nonzeros. */
  readonly violations: number;
  /** The first of them: row, first column of the group, and its nonzeros. */
  readonly first?: { readonly row: number; readonly col: number; readonly nonzeros: number };
  /** Why no group could be checked (the columns do not divide into groups of m). */
  readonly reason?: string;
}

/**
 * Whether a row-major [rows, cols] weight follows n:m along its columns: at most n nonzeros in
 * every group of m. Pure; a shape that does not divide is a failed check with the reason, never
 * an exception, since it verifies what a file stores. (An integer weight is passed as stored
 * value − zero point.)
 */
export function checkNmPattern(
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  n: number,
  m: number,
): NmCheck {
  if (m < 1 || cols % m !== 0 || values.length !== rows * cols) {
    return {
      ok: false,
      groups: 0,
      violations: 0,
      reason:
        values.length !== rows * cols
          ? `${values.length} values are not a ${rows}×${cols} matrix`
          : `${cols} columns do not divide into groups of ${m}`,
    };
  }
  let violations = 0;
  let first: NmCheck['first'];
  for (let start = 0; start < values.length; start += m) {
    let count = 0;
    for (let j = 0; j < m; j++) if (values[start + j] !== 0) count++;
    if (count > n) {
      violations++;
      first ??= { row: Math.floor(start / cols), col: start % cols, nonzeros: count };
    }
  }
  return {
    ok: violations === 0,
    groups: values.length / m,
    violations,
    ...(first ? { first } : {}),
  };
}
