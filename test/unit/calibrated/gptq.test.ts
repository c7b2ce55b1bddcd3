/**
 * Error-compensating rounding must beat rounding to nearest where it counts, on the layer's
 * output for the inputs H was built from, and keep every value on its row's grid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  gptqRound,
  sparseGptPrune,
  type RowQuantizer,
  type SparsityPattern,
} from '../../../src/core/calibrated/gptq';
import { seededRandom } from '../../helpers/modelBuilder';

/** Correlated inputs (a random mixing of fewer sources), as real activations are. */
function problem(rows: number, columns: number, samples: number, seed: number) {
  const random = seededRandom(seed);
  const normal = () => {
    const u = Math.max(random(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const sources = Math.ceil(columns / 2);
  const mix = Float64Array.from({ length: sources * columns }, normal);
  const x = new Float64Array(samples * columns);
  for (let s = 0; s < samples; s++) {
    const z = Array.from({ length: sources }, normal);
    for (let c = 0; c < columns; c++) {
      let v = 0.1 * normal();
      for (let k = 0; k < sources; k++) v += z[k] * mix[k * columns + c];
      x[s * columns + c] = v;
    }
  }
  const h = new Float64Array(columns * columns);
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < columns; i++) {
      for (let j = 0; j < columns; j++)
        h[i * columns + j] += x[s * columns + i] * x[s * columns + j];
    }
  }
  const w = Float64Array.from({ length: rows * columns }, normal);
  return { x, h, w };
}

function outputError(
  w: Float64Array,
  wq: Float64Array,
  x: Float64Array,
  rows: number,
  columns: number,
): number {
  let e = 0;
  for (let s = 0; s < x.length / columns; s++) {
    for (let r = 0; r < rows; r++) {
      let d = 0;
      for (let c = 0; c < columns; c++)
        d += (w[r * columns + c] - wq[r * columns + c]) * x[s * columns + c];
      e += d * d;
    }
  }
  return e;
}

/** Symmetric per-row grid of ±(2^(bits−1) − 1) steps. */
function rowGrid(
  w: Float64Array,
  rows: number,
  columns: number,
  bits: number,
): RowQuantizer & { scales: number[] } {
  const qmax = 2 ** (bits - 1) - 1;
  const scales = Array.from({ length: rows }, (_, r) => {
    let m = 0;
    for (let c = 0; c < columns; c++) m = Math.max(m, Math.abs(w[r * columns + c]));
    return m / qmax;
  });
  return {
    scales,
    quantize: (r, v) => Math.max(-qmax, Math.min(qmax, Math.round(v / scales[r]))),
    dequantize: (r, q) => q * scales[r],
  };
}

for (const bits of [2, 3, 4, 8]) {
  test(`GPTQ at ${bits} bits: lower output error than nearest, values on the grid`, async () => {
    const rows = 6;
    const columns = 40;
    const { x, h, w } = problem(rows, columns, 400, bits);
    const grid = rowGrid(w, rows, columns, bits);
    const nearest = w.map((v, i) =>
      grid.dequantize(Math.floor(i / columns), grid.quantize(Math.floor(i / columns), v)),
    );
    const rounded = new Float64Array(w);
    const { q } = await gptqRound(rounded, rows, columns, h, grid, { blockSize: 16 });
    const qmax = 2 ** (bits - 1) - 1;
    for (let i = 0; i < q.length; i++) {
      assert.ok(Number.isInteger(q[i]) && Math.abs(q[i]) <= qmax);
      assert.ok(rounded[i] === grid.dequantize(Math.floor(i / columns), q[i]));
    }
    const e0 = outputError(w, nearest, x, rows, columns);
    const e1 = outputError(w, rounded, x, rows, columns);
    assert.ok(
      e1 < 0.8 * e0,
      `${bits} bits: GPTQ ${e1.toExponential(3)} vs nearest ${e0.toExponential(3)}`,
    );
  });
}

test('block size does not change the result (the lazy update is exact)', async () => {
  const { h, w } = problem(3, 30, 200, 7);
  const grid = rowGrid(w, 3, 30, 3);
  const a = new Float64Array(w);
  const b = new Float64Array(w);
  const qa = (await gptqRound(a, 3, 30, h, grid, { blockSize: 1 })).q;
  const qb = (await gptqRound(b, 3, 30, h, grid, { blockSize: 128 })).q;
  assert.deepEqual([...qa], [...qb]);
});

test('a column whose input is always zero becomes zero', async () => {
  const { h, w } = problem(2, 8, 50, 5);
  for (let i = 0; i < 8; i++) {
    h[3 * 8 + i] = 0;
    h[i * 8 + 3] = 0;
  }
  const grid = rowGrid(w, 2, 8, 4);
  const rounded = new Float64Array(w);
  const { q } = await gptqRound(rounded, 2, 8, h, grid);
  assert.equal(q[3], 0);
  assert.equal(q[8 + 3], 0);
});

/** Magnitude pruning of the same pattern, the data-free baseline. */
function magnitude(
  w: Float64Array,
  rows: number,
  columns: number,
  pattern: SparsityPattern,
): Float64Array {
  const out = new Float64Array(w);
  if (pattern.kind === 'fraction') {
    const order = Array.from(out.keys()).sort((a, b) => Math.abs(out[a]) - Math.abs(out[b]));
    for (const i of order.slice(0, Math.round(pattern.sparsity * out.length))) out[i] = 0;
    return out;
  }
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < columns; g += pattern.m) {
      const group = Array.from({ length: pattern.m }, (_, k) => r * columns + g + k);
      group.sort((a, b) => Math.abs(out[a]) - Math.abs(out[b]));
      for (const i of group.slice(0, pattern.n)) out[i] = 0;
    }
  }
  return out;
}

const patterns: [string, SparsityPattern][] = [
  ['50%', { kind: 'fraction', sparsity: 0.5 }],
  ['70%', { kind: 'fraction', sparsity: 0.7 }],
  ['2:4', { kind: 'nm', n: 2, m: 4 }],
  ['4:8', { kind: 'nm', n: 4, m: 8 }],
];
for (const [name, pattern] of patterns) {
  test(`SparseGPT ${name}: the pattern holds, output error below magnitude pruning`, async () => {
    const rows = 8;
    const columns = 48;
    const { x, h, w } = problem(rows, columns, 400, 11);
    const pruned = new Float64Array(w);
    await sparseGptPrune(pruned, rows, columns, h, pattern, { blockSize: 16 });
    const zeros = pruned.filter((v) => v === 0).length;
    if (pattern.kind === 'fraction') {
      assert.equal(zeros, Math.round(pattern.sparsity * w.length));
    } else {
      for (let r = 0; r < rows; r++) {
        for (let g = 0; g < columns; g += pattern.m) {
          const group = pruned.subarray(r * columns + g, r * columns + g + pattern.m);
          assert.ok(group.filter((v) => v === 0).length >= pattern.n, `row ${r} group ${g}`);
        }
      }
    }
    const e0 = outputError(w, magnitude(w, rows, columns, pattern), x, rows, columns);
    const e1 = outputError(w, pruned, x, rows, columns);
    assert.ok(
      e1 < 0.7 * e0,
      `${name}: SparseGPT ${e1.toExponential(3)} vs magnitude ${e0.toExponential(3)}`,
    );
  });
}
