import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyMask,
  checkNmPattern,
  maxNonzerosPerGroup,
  nmMask,
  parseNmPattern,
} from '../../../src/core/numerics/nmSparsity';
import {
  fromReductionMatrix,
  toReductionMatrix,
  type ReductionLayout,
} from '../../../src/core/cost/reductionLayout';
import { tightestPattern } from '../../../src/core/cost/weightSparsity';

test('2:4 keeps the two largest magnitudes of every group of four, ties to the lower column', () => {
  const w = Float32Array.from([
    // row 0: groups [0.125, -0.875, 0.5, 0.25] and [1, 1, 1, 1]
    0.125, -0.875, 0.5, 0.25, 1, 1, 1, 1,
    // row 1: groups [0, 0, 0, 3] and [-2, 2, -2, 0.5]
    0, 0, 0, 3, -2, 2, -2, 0.5,
  ]);
  const mask = nmMask(w, 2, 8, 2, 4);
  assert.deepEqual(Array.from(mask), [0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0]);
  applyMask(w, mask);
  assert.deepEqual(Array.from(w), [0, -0.875, 0.5, 0, 1, 1, 0, 0, 0, 0, 0, 3, -2, 2, 0, 0]);
});

test('a group never straddles two rows: each row is grouped from its own first column', () => {
  // 2 rows of 4: had the groups run over the flat array they would still align, so use m = 4 over
  // 2 rows of 8 with the largest values at the row boundary.
  const w = Float32Array.from([1, 1, 1, 9, 0, 0, 0, 0, 9, 1, 1, 1, 0, 0, 0, 0]);
  const mask = nmMask(w, 2, 8, 1, 4);
  assert.deepEqual(Array.from(mask), [0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
});

test('the criterion is pluggable: a score (row, col) replaces |w|, as a calibrated pruner needs', () => {
  const w = Float32Array.from([4, 3, 2, 1, 4, 3, 2, 1]);
  // Scores that prefer high columns: w² / h_kk² with h growing less than w shrinks, say.
  const h = [4, 2, 1, 0.25];
  const calls: [number, number][] = [];
  const mask = nmMask(w, 2, 4, 2, 4, (row, col) => {
    calls.push([row, col]);
    return (w[row * 4 + col] * w[row * 4 + col]) / (h[col] * h[col]);
  });
  assert.deepEqual(Array.from(mask), [0, 0, 1, 1, 0, 0, 1, 1]);
  assert.equal(calls.length, 8, 'one score per weight');
  assert.deepEqual(calls.slice(0, 4), [
    [0, 0],
    [0, 1],
    [0, 2],
    [0, 3],
  ]);
  // A NaN score ranks below every number.
  const nan = nmMask(Float32Array.from([NaN, 0.1, 0.2, 0.3]), 1, 4, 2, 4);
  assert.deepEqual(Array.from(nan), [0, 0, 1, 1]);
});

test('any N:M with M ≤ 16 selects exactly N per group', () => {
  const rows = 3;
  const cols = 48;
  const w = Float32Array.from(
    { length: rows * cols },
    (_, i) => (Math.sin(i * 12.9898) * 43758.5453) % 1,
  );
  for (const [n, m] of [
    [1, 2],
    [2, 4],
    [4, 8],
    [3, 6],
    [5, 16],
    [1, 3],
  ]) {
    const mask = nmMask(w, rows, cols, n, m);
    for (let g = 0; g < rows * cols; g += m) {
      const kept = Array.from(mask.subarray(g, g + m)).reduce((a, b) => a + b, 0);
      assert.equal(kept, n, `${n}:${m} group at ${g}`);
    }
    const pruned = Float32Array.from(w);
    applyMask(pruned, mask);
    assert.ok(checkNmPattern(pruned, rows, cols, n, m).ok, `${n}:${m}`);
    assert.equal(maxNonzerosPerGroup(pruned, rows, cols, m), n);
  }
});

test('checkNmPattern finds the first offending group, and refuses a shape that does not divide', () => {
  const w = Float32Array.from([1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1]);
  const check = checkNmPattern(w, 2, 8, 2, 4);
  assert.equal(check.ok, false);
  assert.equal(check.groups, 4);
  assert.equal(check.violations, 2);
  assert.deepEqual(check.first, { row: 0, col: 4, nonzeros: 3 });
  const odd = checkNmPattern(new Float32Array(27), 1, 27, 2, 4);
  assert.equal(odd.ok, false);
  assert.match(odd.reason ?? '', /27 columns do not divide into groups of 4/);
  assert.throws(() => nmMask(new Float32Array(27), 1, 27, 2, 4), RangeError);
});

test('parseNmPattern: N:M with 0 < N < M ≤ 16, anything else says why', () => {
  assert.deepEqual(parseNmPattern('2:4'), { n: 2, m: 4 });
  assert.deepEqual(parseNmPattern(' 4 : 8 '), { n: 4, m: 8 });
  assert.match((parseNmPattern('4:4') as { error: string }).error, /N must be from 1 to M − 1/);
  assert.match((parseNmPattern('0:4') as { error: string }).error, /N must be/);
  assert.match((parseNmPattern('2:32') as { error: string }).error, /M must be from 2 to 16/);
  assert.match((parseNmPattern('2:') as { error: string }).error, /not an N:M pattern/);
  assert.match((parseNmPattern('a:b') as { error: string }).error, /not an N:M pattern/);
});

test('a reduction layout with strided columns round-trips through the matrix', () => {
  // MatMul B [2, 4, 3]: 2 batches, K = 4, N = 3: rows (batch, n), columns k.
  const layout: ReductionLayout = { rows: 6, cols: 4, colsText: '4', outer: 2, inner: 3 };
  const stored = Float32Array.from({ length: 24 }, (_, i) => i);
  const matrix = toReductionMatrix(stored, layout);
  // Row (batch 0, n 1) is B[0, :, 1] = stored[1], [4], [7], [10].
  assert.deepEqual(Array.from(matrix.subarray(4, 8)), [1, 4, 7, 10]);
  assert.deepEqual(Array.from(fromReductionMatrix(matrix, layout)), Array.from(stored));
});

test('the tightest pattern of a weight is the lowest N/M, ties to the shorter group', () => {
  assert.deepEqual(tightestPattern({ 2: 2, 4: 2, 8: 4, 16: 8 }), { n: 2, m: 4 });
  assert.deepEqual(tightestPattern({ 2: 2, 4: 4, 8: 4 }), { n: 4, m: 8 });
  assert.deepEqual(tightestPattern({ 2: 2, 4: 1, 8: 2 }), { n: 1, m: 4 });
  assert.equal(tightestPattern({ 2: 2, 4: 4 }), undefined);
});
