/**
 * How far a compressed model's outputs are from the original's. Sums are accumulated in float64
 * over every output element of every sample, so no output tensor needs to be kept.
 *
 * - SQNR (dB) = 10·log10(Σ ref² / Σ (ref − test)²): Infinity when identical, −Infinity when the
 *   reference is all zeros but the test is not.
 * - Cosine similarity of all outputs flattened into one vector: 1 when both are all zeros.
 * - top-1 agreement: the fraction of rows (last axis of the first output) whose argmax agrees.
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

export interface LabelledMetrics {
  accuracyOriginal: number;
  accuracyCompressed: number;
  /** Per class, of the compressed model: TP / (TP + FN); NaN for a class with no labelled row. */
  recall: number[];
  /** confusion[label][predicted] of the compressed model. */
  confusion: number[][];
  /** Cohen's kappa between the compressed model's predictions and the labels. */
  kappa: number;
}

/**
 * Accuracy of both models, and recall, confusion and Cohen's kappa of the compressed one.
 * `classes` is the size of the first output's last axis; labels beyond it widen the matrix.
 */
export function labelledMetrics(
  labels: readonly number[],
  predictedOriginal: ArrayLike<number>,
  predictedCompressed: ArrayLike<number>,
  classes: number,
): LabelledMetrics {
  const n = labels.length;
  let k = classes;
  for (const l of labels) k = Math.max(k, l + 1);
  for (let i = 0; i < n; i++) k = Math.max(k, predictedCompressed[i] + 1);
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let rightOriginal = 0;
  let rightCompressed = 0;
  for (let i = 0; i < n; i++) {
    confusion[labels[i]][predictedCompressed[i]]++;
    if (predictedOriginal[i] === labels[i]) rightOriginal++;
    if (predictedCompressed[i] === labels[i]) rightCompressed++;
  }
  const recall = confusion.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? NaN : row[c] / total;
  });
  return {
    accuracyOriginal: n === 0 ? NaN : rightOriginal / n,
    accuracyCompressed: n === 0 ? NaN : rightCompressed / n,
    recall,
    confusion,
    kappa: cohenKappa(confusion),
  };
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
