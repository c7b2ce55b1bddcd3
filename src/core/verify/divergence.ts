/**
 * How far a compressed classifier's class distribution moved from the original's: the mean over
 * rows of KL(P_original ‖ P_compressed), in nats, over the last axis of the first output (the
 * rows top-1 agreement compares). It is the distillation objective, and unlike accuracy on a few
 * dozen samples it is smooth: a perturbation that moves every row a little shows, where an
 * accuracy change is a multiple of 1/rows and mostly zero.
 *
 * The rows are logits (softmax taken here), unless the reference already holds probabilities
 * (every row non-negative and summing to 1: a model ending in Softmax), which are used as they
 * are: a softmax of probabilities would squash every difference.
 */

/** How a first output's rows become distributions. */
export type RowKind = 'logits' | 'probabilities';

/** Row sums within this of 1 count as probabilities (float32 Softmax over 1,000 classes: ~1e-6). */
const SUM_TOLERANCE = 1e-3;

/** Probabilities clipped below at this, so a zero where the other side isn't stays finite. */
const MIN_PROBABILITY = 1e-12;

/** 'probabilities' when every row of `data` (rows over the last axis) is a distribution. */
export function rowKind(data: ArrayLike<number>, dims: readonly number[]): RowKind {
  const classes = dims.length === 0 ? 1 : dims[dims.length - 1];
  if (classes < 2) return 'logits';
  const rows = Math.floor(data.length / classes);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const v = data[r * classes + c];
      if (!(v >= 0)) return 'logits';
      sum += v;
    }
    if (Math.abs(sum - 1) > SUM_TOLERANCE) return 'logits';
  }
  return rows > 0 ? 'probabilities' : 'logits';
}

/** Sums KL(P_ref ‖ P_test) over rows; `mean` divides by the rows seen. */
export class KlAccumulator {
  private sum = 0;
  private rows = 0;

  constructor(readonly kind: RowKind) {}

  add(ref: ArrayLike<number>, test: ArrayLike<number>, dims: readonly number[]): void {
    const classes = dims.length === 0 ? 1 : dims[dims.length - 1];
    if (classes < 2) return;
    const rows = Math.floor(ref.length / classes);
    const p = new Float64Array(classes);
    const q = new Float64Array(classes);
    for (let r = 0; r < rows; r++) {
      this.distribution(ref, r * classes, classes, p);
      this.distribution(test, r * classes, classes, q);
      let kl = 0;
      for (let c = 0; c < classes; c++) {
        if (p[c] > 0) kl += p[c] * Math.log(p[c] / Math.max(q[c], MIN_PROBABILITY));
      }
      // A non-finite row (NaN outputs) is an infinite divergence: such a model never looks good.
      this.sum += Number.isFinite(kl) ? Math.max(0, kl) : Infinity;
      this.rows++;
    }
  }

  /** Mean KL per row, in nats; 0 with no rows. */
  get mean(): number {
    return this.rows === 0 ? 0 : this.sum / this.rows;
  }

  private distribution(
    data: ArrayLike<number>,
    start: number,
    classes: number,
    out: Float64Array,
  ): void {
    if (this.kind === 'probabilities') {
      let sum = 0;
      for (let c = 0; c < classes; c++) {
        out[c] = Math.max(data[start + c], 0);
        sum += out[c];
      }
      for (let c = 0; c < classes; c++) out[c] = sum > 0 ? out[c] / sum : 1 / classes;
      return;
    }
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, data[start + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      out[c] = Math.exp(data[start + c] - max);
      sum += out[c];
    }
    for (let c = 0; c < classes; c++) out[c] /= sum;
  }
}
