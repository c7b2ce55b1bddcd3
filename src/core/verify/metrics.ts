/**
 * How far a compressed model's outputs are from the original's. Sums are accumulated in float64
 * over every output element of every sample, so no output tensor needs to be kept.
 *
 * - SQNR (dB) = 10·log10(Σ ref² / Σ (ref − test)²): Infinity when identical, −Infinity when the
 *   reference is all zeros but the test is not.
 * - Cosine similarity of all outputs flattened into one vector: 1 when both are all zeros.
 * - top-1 agreement: the fraction of rows (last axis of the first output) whose argmax agrees.
 * - With labels: top-1 (and top-5) accuracy of both models, McNemar's exact test of the change,
 *   and recall, confusion and Cohen's kappa of the compressed model.
 * A non-finite difference (NaN, or one side infinite) counts as an infinite error, so a model
 * that overflows never looks good; the same non-finite value on both sides counts as equal.
 * But outputs that are not finite anywhere prove nothing: SQNR and cosine are then NaN ("n/a"),
 * never "identical" (a broken original, e.g. a negative BatchNorm variance, gives NaN outputs).
 */

export class ErrorAccumulator {
  private ref2 = 0;
  private test2 = 0;
  private err2 = 0;
  private dot = 0;
  private maxAbs = 0;
  private finite = 0;
  private values = 0;

  add(ref: ArrayLike<number>, test: ArrayLike<number>): void {
    let ref2 = 0;
    let test2 = 0;
    let err2 = 0;
    let dot = 0;
    let maxAbs = this.maxAbs;
    let finite = 0;
    for (let i = 0; i < ref.length; i++) {
      const r = ref[i];
      const t = test[i];
      let d = r - t;
      if (!Number.isFinite(d)) d = Object.is(r, t) || r === t ? 0 : Infinity;
      err2 += d * d;
      if (Math.abs(d) > maxAbs) maxAbs = Math.abs(d);
      if (Number.isFinite(r) && Number.isFinite(t)) {
        finite++;
        ref2 += r * r;
        test2 += t * t;
        dot += r * t;
      }
    }
    this.ref2 += ref2;
    this.test2 += test2;
    this.err2 += err2;
    this.dot += dot;
    this.maxAbs = maxAbs;
    this.finite += finite;
    this.values += ref.length;
  }

  /** No output value was finite on both sides: nothing to measure. */
  private get unmeasurable(): boolean {
    return this.values > 0 && this.finite === 0;
  }

  get sqnrDb(): number {
    return this.unmeasurable ? NaN : sqnrDb(this.ref2, this.err2);
  }

  get maxAbsError(): number {
    return this.maxAbs;
  }

  get cosine(): number {
    if (this.unmeasurable) return NaN;
    if (this.ref2 === 0 && this.test2 === 0) return 1;
    if (this.ref2 === 0 || this.test2 === 0) return 0;
    // Rounding can push the ratio a hair past 1 for identical vectors.
    return Math.max(-1, Math.min(1, this.dot / Math.sqrt(this.ref2 * this.test2)));
  }
}

/** 10·log10(signal / noise), Infinity for no noise. */
export function sqnrDb(signal: number, noise: number): number {
  if (noise === 0) return Infinity;
  return 10 * Math.log10(signal / noise);
}

/** Argmax over the last axis of each row; a scalar output is one row of one class. */
export function argmaxRows(data: ArrayLike<number>, dims: readonly number[]): Int32Array {
  const classes = dims.length === 0 ? 1 : dims[dims.length - 1];
  if (classes === 0) return new Int32Array(0);
  const rows = Math.floor(data.length / classes);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    let best = 0;
    let bestValue = data[base];
    for (let c = 1; c < classes; c++) {
      const v = data[base + c];
      // NaN never wins, so a NaN row keeps class 0 rather than an arbitrary one.
      if (v > bestValue || (Number.isNaN(bestValue) && !Number.isNaN(v))) {
        best = c;
        bestValue = v;
      }
    }
    out[r] = best;
  }
  return out;
}

/** Below this many classes top-5 says little (5 of 6 classes is nearly every class). */
export const TOP5_MIN_CLASSES = 10;

/** How many best classes top-5 accuracy looks at. */
export const TOP_K = 5;

/** The level below which McNemar's p-value calls the change in top-1 significant. */
export const SIGNIFICANCE_LEVEL = 0.05;

/** McNemar's test on the rows where exactly one of the two models is right. */
export interface McNemarTest {
  /** Rows the original model gets right and the compressed one wrong. */
  b: number;
  /** Rows the compressed model gets right and the original one wrong. */
  c: number;
  /** Exact two-sided p-value of b against c (mcnemarExactP). */
  p: number;
  /** p < SIGNIFICANCE_LEVEL. */
  significant: boolean;
}

export interface LabelledMetrics {
  accuracyOriginal: number;
  accuracyCompressed: number;
  /** Per class, of the compressed model: TP / (TP + FN); NaN for a class with no labelled row. */
  recall: number[];
  /** confusion[label][predicted] of the compressed model. */
  confusion: number[][];
  /** Cohen's kappa between the compressed model's predictions and the labels. */
  kappa: number;
  // Optional so that hand-made metrics (tests, older callers) still fit.
  /** Top-5 accuracy of each model, when the first output has TOP5_MIN_CLASSES classes or more. */
  top5Original?: number;
  top5Compressed?: number;
  /** Whether the change in top-1 accuracy is more than chance. */
  mcnemar?: McNemarTest;
}

/** Each model's TOP_K best classes per row (topKRows), for top-5 accuracy. */
export interface TopKPredictions {
  original: ArrayLike<number>;
  compressed: ArrayLike<number>;
}

/**
 * Accuracy of both models, McNemar's test of the change, and recall, confusion and Cohen's kappa
 * of the compressed one. `classes` is the size of the first output's last axis; labels beyond it
 * widen the matrix. `topK`, TOP_K classes per row as topKRows gives them, adds top-5 accuracy.
 */
export function labelledMetrics(
  labels: readonly number[],
  predictedOriginal: ArrayLike<number>,
  predictedCompressed: ArrayLike<number>,
  classes: number,
  topK?: TopKPredictions,
): LabelledMetrics {
  const n = labels.length;
  let k = classes;
  for (const l of labels) k = Math.max(k, l + 1);
  for (let i = 0; i < n; i++) k = Math.max(k, predictedCompressed[i] + 1);
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let rightOriginal = 0;
  let rightCompressed = 0;
  let b = 0;
  let c = 0;
  for (let i = 0; i < n; i++) {
    confusion[labels[i]][predictedCompressed[i]]++;
    const original = predictedOriginal[i] === labels[i];
    const compressed = predictedCompressed[i] === labels[i];
    if (original) rightOriginal++;
    if (compressed) rightCompressed++;
    if (original && !compressed) b++;
    if (compressed && !original) c++;
  }
  const recall = confusion.map((row, cls) => {
    const total = row.reduce((x, y) => x + y, 0);
    return total === 0 ? NaN : row[cls] / total;
  });
  const p = mcnemarExactP(b, c);
  return {
    accuracyOriginal: n === 0 ? NaN : rightOriginal / n,
    accuracyCompressed: n === 0 ? NaN : rightCompressed / n,
    recall,
    confusion,
    kappa: cohenKappa(confusion),
    ...(topK
      ? {
          top5Original: topKAccuracy(labels, topK.original, TOP_K),
          top5Compressed: topKAccuracy(labels, topK.compressed, TOP_K),
        }
      : {}),
    mcnemar: { b, c, p, significant: p < SIGNIFICANCE_LEVEL },
  };
}

/**
 * The `k` best classes of each row over the last axis, best first, `k` entries per row (−1 pads
 * rows of fewer than `k` classes). Ordered as argmaxRows decides: the first of equal values wins
 * and NaN never beats a number, so the first entry of a row is always its argmax.
 */
export function topKRows(data: ArrayLike<number>, dims: readonly number[], k: number): Int32Array {
  const classes = dims.length === 0 ? 1 : dims[dims.length - 1];
  if (classes === 0) return new Int32Array(0);
  const rows = Math.floor(data.length / classes);
  const out = new Int32Array(rows * k).fill(-1);
  const best = new Float64Array(k);
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const at = r * k;
    let kept = 0;
    for (let cls = 0; cls < classes; cls++) {
      const v = data[base + cls];
      // Insertion into the sorted short list: k is 5, so this beats any heap.
      let i = kept;
      while (i > 0 && beats(v, best[i - 1])) i--;
      if (i >= k) continue;
      for (let j = Math.min(kept, k - 1); j > i; j--) {
        best[j] = best[j - 1];
        out[at + j] = out[at + j - 1];
      }
      best[i] = v;
      out[at + i] = cls;
      if (kept < k) kept++;
    }
  }
  return out;
}

/** Strictly better, as argmaxRows ranks: a larger value, or any number against NaN. */
function beats(v: number, w: number): boolean {
  return v > w || (Number.isNaN(w) && !Number.isNaN(v));
}

/** Fraction of rows whose label is among the row's `k` entries of `topK`; NaN without rows. */
export function topKAccuracy(
  labels: readonly number[],
  topK: ArrayLike<number>,
  k: number,
): number {
  if (labels.length === 0) return NaN;
  let hits = 0;
  for (let r = 0; r < labels.length; r++) {
    for (let j = 0; j < k; j++) {
      if (topK[r * k + j] === labels[r]) {
        hits++;
        break;
      }
    }
  }
  return hits / labels.length;
}

/**
 * Exact (binomial) McNemar test: under "both models are equally accurate" each of the b + c rows
 * where exactly one model is right is b or c with probability ½, so the two-sided p-value is
 * min(1, 2·P(X ≤ min(b, c))) with X ~ Binomial(b + c, ½) (McNemar 1947; the exact form rather than
 * the χ² approximation, which is poor for small b + c). 1 when no row differs.
 *
 * P(X ≤ k) = 2^−n·Σ_{i≤k} C(n, i). C(n, i) overflows a double from n ≈ 1030 on and 2^−n
 * underflows from n = 1075, which a 2-bit model on a thousand labelled images reaches, so the sum
 * is kept as `sum`·2^`exponent` (log2 space for the exponent only). Below 2^53 the terms are
 * exact integers, so small cases are exact: b = 0, c = 6 gives 2·1/64 = 0.03125 to the last bit.
 */
export function mcnemarExactP(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  let term = 1; // C(n, i)·2^−exponent
  let sum = 1;
  let exponent = 0;
  for (let i = 0; i < k; i++) {
    term = (term * (n - i)) / (i + 1);
    sum += term;
    if (sum > RESCALE) {
      // Dividing by a power of two is exact.
      term /= RESCALE;
      sum /= RESCALE;
      exponent += RESCALE_BITS;
    }
  }
  // p = 2·sum·2^(exponent − n); sum ≥ 1, so a shift ≥ 0 means p ≥ 1.
  const shift = exponent + 1 - n;
  if (shift >= 0 || Math.log2(sum) + shift >= 0) return 1;
  return timesPowerOfTwo(sum, shift);
}

const RESCALE_BITS = 512;
const RESCALE = 2 ** RESCALE_BITS;

/** x·2^shift for shift < 0, in steps so that 2^shift itself never underflows to 0 early. */
function timesPowerOfTwo(x: number, shift: number): number {
  let value = x;
  let left = shift;
  while (left < -1000) {
    value *= 2 ** -1000;
    left += 1000;
  }
  return value * 2 ** left;
}

/**
 * κ = (p_o − p_e) / (1 − p_e), p_o the observed agreement, p_e the agreement expected by chance
 * from the row and column totals. When chance agreement is already total (one class only on
 * both sides) κ is undefined; we return 1, since agreement is then perfect.
 */
export function cohenKappa(confusion: readonly (readonly number[])[]): number {
  const k = confusion.length;
  let n = 0;
  let agree = 0;
  const rows = new Array<number>(k).fill(0);
  const cols = new Array<number>(k).fill(0);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const v = confusion[i][j];
      n += v;
      rows[i] += v;
      cols[j] += v;
      if (i === j) agree += v;
    }
  }
  if (n === 0) return NaN;
  const po = agree / n;
  let pe = 0;
  for (let i = 0; i < k; i++) pe += (rows[i] * cols[i]) / (n * n);
  if (pe === 1) return 1;
  return (po - pe) / (1 - pe);
}
