/**
 * The KL divergence of class distributions (src/core/verify/divergence.ts): zero for the same
 * scores, the textbook value for known distributions, probabilities recognised as such.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KlAccumulator, rowKind } from '../../../src/core/verify/divergence';

describe('KlAccumulator', () => {
  test('is zero for identical logits, and shift-invariant like softmax', () => {
    const kl = new KlAccumulator('logits');
    kl.add([1, 2, 3, 0, 0, 5], [11, 12, 13, 0, 0, 5], [2, 3]);
    assert.ok(Math.abs(kl.mean) < 1e-12);
  });

  test('matches KL(p ‖ q) of two known distributions, averaged over rows', () => {
    const p = [0.5, 0.25, 0.25];
    const q = [0.25, 0.5, 0.25];
    const expected = 0.5 * Math.log(2) + 0.25 * Math.log(0.5);
    const probs = new KlAccumulator('probabilities');
    probs.add([...p, ...p], [...q, ...p], [2, 3]);
    assert.ok(Math.abs(probs.mean - expected / 2) < 1e-12);
    const logits = new KlAccumulator('logits');
    logits.add(p.map(Math.log), q.map(Math.log), [1, 3]);
    assert.ok(Math.abs(logits.mean - expected) < 1e-12);
  });

  test('an output that turned NaN is an infinite divergence', () => {
    const kl = new KlAccumulator('logits');
    kl.add([1, 2], [NaN, 2], [1, 2]);
    assert.equal(kl.mean, Infinity);
  });
});

describe('rowKind', () => {
  test('rows that are distributions are probabilities; anything else logits', () => {
    assert.equal(rowKind([0.2, 0.8, 1, 0], [2, 2]), 'probabilities');
    assert.equal(rowKind([0.2, 0.7, 1, 0], [2, 2]), 'logits');
    assert.equal(rowKind([-1, 2], [1, 2]), 'logits');
  });
});
