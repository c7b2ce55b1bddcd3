import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  channelIndexer,
  channelParams,
  packNibbles,
  quantRange,
  quantizeTensor,
  quantizeValue,
  roundHalfEven,
} from '../../../src/core/compress/quantizeMath';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType } from '../../../src/core/onnx/types';
import { makeTensor, seededRandom } from '../../helpers/modelBuilder';

const f32 = Math.fround;

test('per-channel symmetric int8: scale = max|w| / 127 per output channel', () => {
  // Channel 0: max |w| = 1.27 → scale 0.01; channel 1: max |w| = 2.54 → scale 0.02.
  const w = makeTensor('w', DataType.FLOAT, [2, 3], [1.27, -0.64, 0.3, 0.5, -2.54, 0]);
  const q = quantizeTensor(w, undefined, { bits: 8, signed: true, symmetric: true }, 0);
  assert.equal(q.dataType, DataType.INT8);
  assert.deepEqual([...q.scales], [f32(f32(1.27) / 127), f32(f32(2.54) / 127)]);
  assert.deepEqual([...q.zeroPoints], [0, 0]);
  const ints = tensorNumbers(makeTensor('q', DataType.INT8, [6], q.data));
  assert.deepEqual(ints, [127, -64, 30, 25, -127, 0]);
});

test('per-channel along axis 1 (MatMul [K,N]) groups by column', () => {
  // Columns: [2, -1.1] → scale 2/127; [0.5, 0.3] → scale 0.5/127.
  const w = makeTensor('w', DataType.FLOAT, [2, 2], [2, 0.5, -1.1, 0.3]);
  const q = quantizeTensor(w, undefined, { bits: 8, signed: true, symmetric: true }, 1);
  assert.deepEqual([...q.scales], [f32(2 / 127), f32(0.5 / 127)]);
  const ints = tensorNumbers(makeTensor('q', DataType.INT8, [4], q.data));
  assert.deepEqual(ints, [127, 127, -70, 76]); // −69.85 → −70, 76.2 → 76
});

test('asymmetric uint8: the range includes 0, zero point = round(−min / scale)', () => {
  // [-1, 3]: scale 4/255, zp round(63.75) = 64. [0.5, 2]: range [0, 2], zp 0.
  // [-2, -1]: range [-2, 0], scale 2/255, zp 255.
  const scheme = { bits: 8, signed: false, symmetric: false };
  assert.deepEqual(channelParams(-1, 3, scheme), { scale: f32(4 / 255), zeroPoint: 64 });
  assert.deepEqual(channelParams(0.5, 2, scheme), { scale: f32(2 / 255), zeroPoint: 0 });
  assert.deepEqual(channelParams(-2, -1, scheme), { scale: f32(2 / 255), zeroPoint: 255 });

  const w = makeTensor('w', DataType.FLOAT, [3, 2], [-1, 3, 0.5, 2, -2, -1.2]);
  const q = quantizeTensor(w, undefined, scheme, 0);
  assert.equal(q.dataType, DataType.UINT8);
  assert.deepEqual([...q.zeroPoints], [64, 0, 255]);
  // −1 → round(−63.75) + 64 = 0; 3 → round(191.25) + 64 = 255; 0.5 → 63.75 → 64;
  // −2 → −255 + 255 = 0; −1.2 → round(−153) + 255 = 102.
  assert.deepEqual([...q.data], [0, 255, 64, 255, 0, 102]);
});

test('symmetric uint8 centres on 128', () => {
  assert.deepEqual(channelParams(-1, 0.5, { bits: 8, signed: false, symmetric: true }), {
    scale: f32(1 / 127),
    zeroPoint: 128,
  });
});

test('int4 packs two values per byte, low nibble first, and decodes back', () => {
  const bytes = packNibbles([1, -2, 7, -8, 3]);
  assert.deepEqual([...bytes], [0xe1, 0x87, 0x03]);
  assert.deepEqual(tensorNumbers(makeTensor('p', DataType.INT4, [5], bytes)), [1, -2, 7, -8, 3]);

  // Per-tensor symmetric int4: scale = 0.7 / 7 = 0.1.
  const w = makeTensor('w', DataType.FLOAT, [5], [0.7, -0.7, 0.3, -0.12, 0.04]);
  const q = quantizeTensor(w, undefined, { bits: 4, signed: true, symmetric: true }, undefined);
  assert.equal(q.dataType, DataType.INT4);
  assert.equal(q.data.length, 3);
  assert.deepEqual([...q.scales], [f32(f32(0.7) / 7)]);
  const decoded = tensorNumbers(makeTensor('q', DataType.INT4, [5], q.data));
  assert.deepEqual(decoded, [7, -7, 3, -1, 0]);
});

test('uint4 asymmetric keeps nibbles unsigned', () => {
  const w = makeTensor('w', DataType.FLOAT, [4], [0, 1.5, 0.8, 0.1]);
  const q = quantizeTensor(w, undefined, { bits: 4, signed: false, symmetric: false }, undefined);
  assert.equal(q.dataType, DataType.UINT4);
  assert.deepEqual([...q.scales], [f32(1.5 / 15)]);
  assert.deepEqual(tensorNumbers(makeTensor('q', DataType.UINT4, [4], q.data)), [0, 15, 8, 1]);
});

test('3-bit is stored in int8 and clipped to ±3', () => {
  const scheme = { bits: 3, signed: true, symmetric: true };
  assert.deepEqual(quantRange(scheme), { qmin: -3, qmax: 3 });
  // scale = 0.9 / 3 = 0.3
  const w = makeTensor('w', DataType.FLOAT, [4], [0.9, -0.9, 0.6, 0.1]);
  const q = quantizeTensor(w, undefined, scheme, undefined);
  assert.equal(q.dataType, DataType.INT8);
  assert.deepEqual([...q.scales], [f32(f32(0.9) / 3)]);
  assert.deepEqual(tensorNumbers(makeTensor('q', DataType.INT8, [4], q.data)), [3, -3, 2, 0]);
  // Asymmetric signed 3 bits use the full [−4, 3].
  assert.deepEqual(quantRange({ bits: 3, signed: true, symmetric: false }), { qmin: -4, qmax: 3 });
});

test('rounding is half to even, as QuantizeLinear specifies', () => {
  assert.deepEqual(
    [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven),
    [0, 2, 2, -0, -2, -2, 2, -3],
  );
});

test('an all-zero channel gets scale 1 and quantizes to zeros; non-finite weights are refused', () => {
  const w = makeTensor('w', DataType.FLOAT, [2, 2], [0, 0, 1, -1]);
  const q = quantizeTensor(w, undefined, { bits: 8, signed: true, symmetric: true }, 0);
  assert.deepEqual([...q.scales], [1, f32(1 / 127)]);
  assert.deepEqual(tensorNumbers(makeTensor('q', DataType.INT8, [4], q.data)), [0, 0, 127, -127]);
  const bad = makeTensor('bad', DataType.FLOAT, [2], [1, NaN]);
  assert.throws(
    () => quantizeTensor(bad, undefined, { bits: 8, signed: true, symmetric: true }, undefined),
    { name: 'CompressionRefusal', message: "weight 'bad' holds a non-finite value (NaN)" },
  );
});

test('quantizeTensor stores exactly what quantizeValue gives, per channel on any axis, int8 and int4', () => {
  const random = seededRandom(5);
  const dims = [3, 4, 5];
  const values = Array.from({ length: 60 }, () => (random() - 0.5) * 4);
  values[7] = 0.5; // ties, to the even level
  values[8] = -1.5;
  const t = makeTensor('w', DataType.FLOAT, dims, values);
  for (const bits of [8, 4]) {
    for (const axis of [0, 1, 2, undefined]) {
      for (const symmetric of [true, false]) {
        const scheme = { bits, signed: true, symmetric };
        const q = quantizeTensor(t, undefined, scheme, axis);
        const channelOf = channelIndexer(dims, axis);
        const range = quantRange(scheme);
        const expected = values.map((v, i) =>
          quantizeValue(v, q.scales[channelOf(i)], q.zeroPoints[channelOf(i)], range),
        );
        const packed = bits === 4;
        const got = expected.map((_, i) => {
          const byte = q.data[packed ? i >> 1 : i];
          const raw = packed ? (byte >> ((i & 1) * 4)) & 0x0f : byte;
          const width = packed ? 4 : 8;
          return raw >= 2 ** (width - 1) ? raw - 2 ** width : raw;
        });
        assert.deepEqual(got, expected, `${bits} bits, axis ${axis}, symmetric ${symmetric}`);
      }
    }
  }
});
