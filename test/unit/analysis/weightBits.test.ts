import { test } from 'node:test';
import assert from 'node:assert/strict';
import { POW2_BITS, suggestBits, weightSqnr } from '../../../src/core/numerics/weightSqnr';
import { floatToHalfBits } from '../../../src/core/compress/convertFloat';
import { quantizeToGrid, WEIGHT_GRIDS } from '../../../src/core/compress/lowBitGrids';
import { halfToFloat } from '../../../src/core/onnx/tensorData';
import { DataType } from '../../../src/core/onnx/types';
import { makeTensor, seededRandom } from '../../helpers/modelBuilder';

test('per-channel symmetric SQNR matches a hand computation at 2 bits', () => {
  // Channel 0: [1, 0.5], scale 1 at 2 bits (levels ±1): q = [1, 1], error 0.5.
  // Channel 1: [0.25, -0.25], scale 0.25: exact. Signal 1.375, noise 0.25.
  const t = makeTensor('w', DataType.FLOAT, [2, 2], [1, 0.5, 0.25, -0.25]);
  const s = weightSqnr(t, 0);
  assert.ok(Math.abs(s.sqnrDb[2] - 10 * Math.log10(1.375 / 0.25)) < 1e-9);
  assert.equal(s.sampled, false);
});

test('channel axis 1 (MatMul [K,N]) takes maxima per column', () => {
  // Columns: [1, 0.5] and [0.25, -0.25] laid out as rows [[1, .25], [.5, -.25]].
  const t = makeTensor('w', DataType.FLOAT, [2, 2], [1, 0.25, 0.5, -0.25]);
  const s = weightSqnr(t, 1);
  assert.ok(Math.abs(s.sqnrDb[2] - 10 * Math.log10(1.375 / 0.25)) < 1e-9);
});

test('uniform weights follow the 6 dB per bit law, and the suggestion meets the target', () => {
  const rand = seededRandom(7);
  const values = Array.from({ length: 64 * 512 }, () => rand() * 2 - 1);
  const s = weightSqnr(makeTensor('w', DataType.FLOAT, [64, 512], values), 0);
  // For uniform weights SQNR ≈ 20·log10(2·(2^(b−1) − 1)): 48.1 dB at 8 bits, 35.8 at 6.
  assert.ok(Math.abs(s.sqnrDb[8] - 48.1) < 0.5, `8-bit ${s.sqnrDb[8]}`);
  assert.ok(Math.abs(s.sqnrDb[6] - 35.8) < 0.5, `6-bit ${s.sqnrDb[6]}`);
  assert.equal(suggestBits(s, 30, 32), 6);
  assert.equal(suggestBits(s, 40, 32), 8);
  assert.equal(suggestBits(s, 60, 32), 32, 'no width meets 60 dB: keep float');
});

test('a large tensor is sampled and the estimate stays within 0.1 dB of the exact one', () => {
  const rand = seededRandom(3);
  const channels = 256;
  const n = 1 << 21;
  const inner = n / channels;
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = (rand() + rand() + rand() - 1.5) * 0.1;
  const s = weightSqnr(makeTensor('w', DataType.FLOAT, [channels, inner], values), 0);
  assert.equal(s.sampled, true);
  // Exact 4-bit SQNR over every element, written out plainly.
  let signal = 0;
  let noise = 0;
  for (let c = 0; c < channels; c++) {
    let max = 0;
    for (let i = 0; i < inner; i++) max = Math.max(max, Math.abs(values[c * inner + i]));
    const scale = max / 7;
    for (let i = 0; i < inner; i++) {
      const w = values[c * inner + i];
      const q = Math.max(-7, Math.min(7, Math.round(w / scale))) * scale;
      signal += w * w;
      noise += (w - q) ** 2;
    }
  }
  const exact = 10 * Math.log10(signal / noise);
  assert.ok(Math.abs(s.sqnrDb[4] - exact) < 0.1, `sampled ${s.sqnrDb[4]} dB, exact ${exact} dB`);
});

test('fp16, pow2, ternary and binary SQNR match the compressor exactly on a small tensor', () => {
  const rand = seededRandom(11);
  // Channels of different spread, a zero channel and a value beyond fp16's range.
  const base = Array.from({ length: 6 * 40 }, (_, i) => {
    const c = Math.floor(i / 40);
    return c === 4 ? 0 : (rand() * 2 - 1) * 10 ** (c - 2);
  });
  const outlier = [...base];
  outlier[5] = 70000;
  for (const [axis, values] of [
    [0, base],
    [1, base],
    [0, outlier],
  ] as const) {
    const dims = axis === 0 ? [6, 40] : [40, 6];
    const t = makeTensor('w', DataType.FLOAT, dims, values);
    const s = weightSqnr(t, axis, undefined, { formats: true });
    assert.equal(s.sampled, false);
    for (const grid of WEIGHT_GRIDS) {
      const q = quantizeToGrid(t, undefined, grid, POW2_BITS, axis);
      const exact = 10 * Math.log10(q.signal / q.noise);
      assert.ok(
        Math.abs(s.formats![grid] - exact) < 1e-9,
        `${grid}: ${s.formats![grid]} vs ${exact}`,
      );
    }
    // fp16: what convertFloat writes (round to nearest even, saturating at ±65504), read back.
    let signal = 0;
    let noise = 0;
    for (const v of Float32Array.from(values)) {
      const h = halfToFloat(floatToHalfBits(v));
      signal += v * v;
      noise += (v - h) ** 2;
    }
    const exact = 10 * Math.log10(signal / noise);
    assert.ok(Math.abs(s.formats!.fp16 - exact) < 1e-9, `fp16: ${s.formats!.fp16} vs ${exact}`);
  }
});

test('the format SQNRs of uniform weights are in their expected order', () => {
  const rand = seededRandom(5);
  const values = Array.from({ length: 32 * 256 }, () => rand() * 2 - 1);
  const s = weightSqnr(makeTensor('w', DataType.FLOAT, [32, 256], values), 0, undefined, {
    formats: true,
  });
  assert.ok(s.formats!.fp16 > 60, `fp16 ${s.formats!.fp16}`);
  assert.ok(s.formats!.fp16 > s.sqnrDb[8]);
  assert.ok(s.formats!.pow2 > s.formats!.ternary, `pow2 ${s.formats!.pow2}`);
  assert.ok(s.formats!.ternary > s.formats!.binary, `ternary ${s.formats!.ternary}`);
  assert.ok(s.formats!.binary > 0);
});
