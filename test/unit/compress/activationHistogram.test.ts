import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ActivationHistogram,
  HISTOGRAM_BINS,
} from '../../../src/core/compress/activationHistogram';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function binnedTotal(h: ActivationHistogram): number {
  const { counts, zeros } = h.occupied();
  return counts.reduce((a, b) => a + b, 0) + zeros;
}

/** The occupied bin holding `value`'s mass (the bins are disjoint apart from shared edges). */
function countNear(h: ActivationHistogram, value: number): number {
  const { lows, highs, counts } = h.occupied();
  let n = 0;
  for (let i = 0; i < counts.length; i++) if (lows[i] <= value && value <= highs[i]) n += counts[i];
  return n;
}

describe('ActivationHistogram', () => {
  test('rebinning as the range grows keeps every count, in a bin that holds its value', () => {
    const h = new ActivationHistogram(64);
    h.add(new Float32Array(1000).fill(0.5));
    h.add(Float32Array.from({ length: 64 }, (_, i) => i / 64));
    const width = h.binWidth;
    // Far outside the first window, both ways: the width doubles several times.
    h.add(Float32Array.from([-37.25, 1000.5, 3]));
    assert.ok(h.binWidth > width * 16, `${h.binWidth} vs ${width}`);
    assert.equal(h.count, 1000 + 64 + 3);
    assert.equal(binnedTotal(h), h.count);
    assert.ok(countNear(h, 0.5) >= 1000);
    assert.ok(countNear(h, -37.25) >= 1);
    assert.ok(countNear(h, 1000.5) >= 1);
    assert.equal(h.min, -37.25);
    assert.equal(h.max, 1000.5);
    // Cells only ever double: the width is the first one times a power of two.
    const ratio = h.binWidth / width;
    assert.equal(ratio, 2 ** Math.round(Math.log2(ratio)));
  });

  test('memory is bounded: a million spread values still fit in the fixed bins', () => {
    const h = new ActivationHistogram();
    const random = seeded(3);
    for (let batch = 0; batch < 10; batch++) {
      // Each batch reaches further out, as a growing range across samples does.
      const scale = 10 ** batch;
      h.add(Float32Array.from({ length: 100_000 }, () => (random() - 0.3) * scale));
    }
    const { counts } = h.occupied();
    assert.ok(counts.length <= HISTOGRAM_BINS, `${counts.length} bins`);
    assert.equal(binnedTotal(h), 1_000_000);
    assert.equal(h.count, 1_000_000);
  });

  test('zeros are counted apart; NaN and ±Infinity are left out', () => {
    const h = new ActivationHistogram();
    h.add(new Float32Array(10));
    assert.equal(h.binWidth, 0, 'no width from zeros alone');
    h.add(Float32Array.from([0, 0, 1, 2, NaN, Infinity, -Infinity]));
    assert.equal(h.count, 14);
    const { zeros, counts, lows, highs } = h.occupied();
    assert.equal(zeros, 12);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      2,
    );
    assert.equal(lows[0], 1, 'the first bin is clipped to the exact min of the non-zeros');
    assert.equal(highs[highs.length - 1], 2, 'the last to the exact max');
  });

  test('a constant tensor gets a bin of its own', () => {
    const h = new ActivationHistogram();
    h.add(new Float32Array(5).fill(-3));
    assert.equal(h.min, -3);
    assert.equal(h.max, -3);
    assert.equal(binnedTotal(h), 5);
    assert.equal(countNear(h, -3), 5);
  });
});
