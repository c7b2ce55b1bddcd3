import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  argmaxRows,
  cohenKappa,
  ErrorAccumulator,
  labelledMetrics,
  sqnrDb,
} from '../../../src/core/verify';

describe('verify metrics', () => {
  it('SQNR, max error and cosine by hand', () => {
    const acc = new ErrorAccumulator();
    acc.add([3, 4], [3, 4.5]);
    acc.add([0], [0]);
    // Σref² = 25, Σerr² = 0.25 → 20 dB.
    assert.ok(Math.abs(acc.sqnrDb - 20) < 1e-12);
    assert.equal(acc.maxAbsError, 0.5);
    const cos = (3 * 3 + 4 * 4.5) / (5 * Math.sqrt(9 + 20.25));
    assert.ok(Math.abs(acc.cosine - cos) < 1e-12);
    assert.equal(sqnrDb(1, 0), Infinity);
  });

  it('treats a NaN in the compressed output as an infinite error', () => {
    const acc = new ErrorAccumulator();
    acc.add([1, 2], [1, NaN]);
    assert.equal(acc.maxAbsError, Infinity);
    assert.equal(acc.sqnrDb, -Infinity);
    const same = new ErrorAccumulator();
    same.add([Infinity, 1], [Infinity, 1]);
    assert.equal(same.sqnrDb, Infinity);
  });

  it('outputs that are NaN everywhere measure nothing: n/a, never "identical"', () => {
    const broken = new ErrorAccumulator();
    broken.add([NaN, NaN], [NaN, NaN]);
    assert.ok(Number.isNaN(broken.sqnrDb));
    assert.ok(Number.isNaN(broken.cosine));
  });

  it('argmax per row over the last axis', () => {
    assert.deepEqual(Array.from(argmaxRows([0, 2, 1, 5, 4, 3], [2, 3])), [1, 0]);
    assert.deepEqual(Array.from(argmaxRows([7], [])), [0]);
  });

  it("Cohen's kappa on the textbook example", () => {
    // Wikipedia: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no → p_o 0.7, p_e 0.5, κ 0.4.
    assert.ok(
      Math.abs(
        cohenKappa([
          [20, 5],
          [10, 15],
        ]) - 0.4,
      ) < 1e-12,
    );
    assert.equal(
      cohenKappa([
        [4, 0],
        [0, 0],
      ]),
      1,
    );
  });

  it('widens the confusion matrix for labels beyond the output classes; NaN recall for absent classes', () => {
    const m = labelledMetrics([0, 3], [0, 1], [0, 1], 2);
    assert.equal(m.confusion.length, 4);
    assert.equal(m.confusion[3][1], 1);
    assert.deepEqual(m.recall.slice(0, 1), [1]);
    assert.ok(Number.isNaN(m.recall[1]));
    assert.equal(m.recall[3], 0);
    assert.equal(m.accuracyOriginal, 0.5);
  });
});
