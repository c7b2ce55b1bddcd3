import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suggestBits, weightSqnr } from '../../../src/core/advisor/weightBits';
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
