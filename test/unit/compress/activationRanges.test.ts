import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ActivationHistogram } from '../../../src/core/compress/activationHistogram';
import {
  chooseRange,
  DEFAULT_PERCENTILE,
  squaredError,
} from '../../../src/core/compress/activationRanges';
import type { TensorRange } from '../../../src/core/compress/calibrate';
import { activationParams, activationScheme } from '../../../src/core/compress/quantizeActivations';
import { quantRange } from '../../../src/core/compress/quantizeMath';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
}

/** Laplace(0, 1) samples by inverse CDF: heavy enough tails that min/max wastes levels. */
function laplace(n: number, seed: number): Float32Array {
  const u = seeded(seed);
  return Float32Array.from({ length: n }, () => {
    const v = u() - 0.5;
    return -Math.sign(v) * Math.log(1 - 2 * Math.abs(v));
  });
}

function histogramOf(...batches: Float32Array[]): ActivationHistogram {
  const h = new ActivationHistogram();
  for (const b of batches) h.add(b);
  return h;
}

/** The mean squared error of quantizing `values` with the grid activationParams gives `range`. */
function measuredMse(values: Float32Array, range: TensorRange, bits: 8 | 16 = 8): number {
  const { scheme } = activationScheme(range, { bits });
  const { scale, zeroPoint } = activationParams(range, { bits });
  const { qmin, qmax } = quantRange(scheme);
  let sum = 0;
  for (const v of values) {
    const q = Math.min(qmax, Math.max(qmin, Math.round(v / scale) + zeroPoint));
    sum += (v - (q - zeroPoint) * scale) ** 2;
  }
  return sum / values.length;
}

describe('activation range methods', () => {
  const samples = laplace(200_000, 11);
  const h = histogramOf(samples.subarray(0, 100_000), samples.subarray(100_000));
  const observed = { min: h.min, max: h.max };
  const { scheme } = activationScheme(observed);

  test('minmax is the observed range', () => {
    assert.deepEqual(chooseRange(h, 'minmax', scheme), observed);
  });

  test('mse on Laplace samples: well inside max, and the least error of a brute-force sweep', () => {
    const mse = chooseRange(h, 'mse', scheme);
    const top = Math.max(-observed.min, observed.max);
    const t = Math.max(-mse.min, mse.max);
    // For Laplace(b = 1) at 8 bits the optimal clip is near 9.9·b (Banner et al., ACIQ), about
    // 80% of the max of 200 k samples (≈ 12); "well inside" means clearly below the max.
    assert.ok(t < 0.9 * top, `clip ${t} vs max ${top}`);
    assert.ok(t > 6, `clip ${t} must not cut into the body of the distribution`);
    const chosen = measuredMse(samples, mse);
    assert.ok(chosen < 0.85 * measuredMse(samples, observed), 'clearly better than min/max');
    let best = Infinity;
    for (let i = 40; i <= 100; i++) {
      const f = i / 100;
      best = Math.min(best, measuredMse(samples, { min: observed.min * f, max: observed.max * f }));
    }
    assert.ok(chosen <= best * 1.02, `mse ${chosen} vs brute-force best ${best}`);
  });

  test('mse on a non-negative tensor picks a uint8 range from 0, and at 16 bits clips nothing', () => {
    const relu = samples.map((v) => Math.max(v, 0));
    const r = histogramOf(relu);
    const unsigned = activationScheme({ min: r.min, max: r.max }).scheme;
    assert.equal(unsigned.signed, false);
    const range = chooseRange(r, 'mse', unsigned);
    assert.equal(range.min, 0);
    assert.ok(range.max < 0.9 * r.max);
    assert.ok(measuredMse(relu, range) < measuredMse(relu, { min: 0, max: r.max }));
    // 65,536 levels: rounding noise is negligible, any clipping costs more.
    const wide = activationScheme({ min: r.min, max: r.max }, { bits: 16 }).scheme;
    const range16 = chooseRange(r, 'mse', wide);
    assert.ok(range16.max > 0.99 * r.max, `${range16.max} vs ${r.max}`);
  });

  test('asymmetric grids search each end: a skewed tensor keeps its short side', () => {
    // Mostly positive with a short negative tail, on a uint8 grid with a zero point.
    const skewed = samples.map((v) => (v < 0 ? v / 8 : v));
    const s = histogramOf(skewed);
    const grid = activationScheme({ min: s.min, max: s.max }, { mode: 'uint8' }).scheme;
    assert.equal(grid.symmetric, false);
    const range = chooseRange(s, 'mse', grid);
    assert.ok(range.min < 0 && range.max < s.max);
    assert.ok(measuredMse(skewed, range) < measuredMse(skewed, { min: s.min, max: s.max }));
  });

  test('percentile: |x| for a symmetric grid, each tail apart for an asymmetric one', () => {
    const u = seeded(5);
    const uniform = Float32Array.from({ length: 100_000 }, () => 2 * u() - 1);
    const hu = histogramOf(uniform);
    const symmetric = activationScheme({ min: hu.min, max: hu.max }).scheme;
    const r = chooseRange(hu, 'percentile', symmetric, 99);
    // 99% of |x| below 0.99; the clipped range is [−0.99, 0.99].
    assert.ok(Math.abs(r.max - 0.99) < 0.003, `${r.max}`);
    assert.ok(Math.abs(r.min + 0.99) < 0.003, `${r.min}`);
    const asym = activationScheme({ min: hu.min, max: hu.max }, { mode: 'uint8' }).scheme;
    const a = chooseRange(hu, 'percentile', asym, 99);
    // 0.5% in each tail.
    assert.ok(Math.abs(a.max - 0.99) < 0.003, `${a.max}`);
    assert.ok(Math.abs(a.min + 0.99) < 0.003, `${a.min}`);
    assert.equal(DEFAULT_PERCENTILE, 99.999);
    const d = chooseRange(hu, 'percentile', symmetric);
    assert.ok(d.max > 0.9998 && d.max <= hu.max);
  });

  test('percentile counts the zeros of a ReLU output, and falls back when nothing is left', () => {
    const values = new Float32Array(1000);
    values.set([1, 2, 3, 4, 5], 0);
    const hz = histogramOf(values);
    const grid = activationScheme({ min: 0, max: 5 }).scheme;
    // 99.5% of the values are zeros: the percentile range would be empty, so min/max stays.
    assert.deepEqual(chooseRange(hz, 'percentile', grid, 99), { min: 0, max: 5 });
    assert.deepEqual(chooseRange(histogramOf(new Float32Array(4)), 'mse', grid), {
      min: 0,
      max: 0,
    });
  });

  test('the histogram error is the exact integral for uniform data', () => {
    const u = seeded(9);
    const uniform = Float32Array.from({ length: 400_000 }, () => 4 * u());
    const hu = histogramOf(uniform);
    const grid = activationScheme({ min: 0, max: 4 }).scheme;
    for (const range of [
      { min: 0, max: 4 },
      { min: 0, max: 2.5 },
    ]) {
      const modelled = squaredError(hu.occupied(), range, grid) / hu.count;
      const measured = measuredMse(uniform, range);
      assert.ok(
        Math.abs(modelled - measured) / measured < 0.02,
        `${range.max}: ${modelled} vs ${measured}`,
      );
    }
  });
});
