/**
 * forEachNumberChunk visits integer weights as numbers a chunk at a time: int8 through a typed
 * view, int16/int32 aligned or not (a TFLite buffer may start anywhere), and ONNX's decoded
 * int32_data; a payload shorter than the shape is an error, not garbage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachNumberChunk } from '../../../src/core/onnx/tensorData';
import { DataType, type Tensor } from '../../../src/core/onnx/types';

function tensor(dataType: DataType, dims: number[], fields: Partial<Tensor>): Tensor {
  return {
    name: 't',
    dataType,
    dims,
    externalEntries: [],
    dataLocation: 0,
    docString: '',
    extra: [],
    ...fields,
  };
}

function visited(t: Tensor): number[] {
  const out: number[] = [];
  forEachNumberChunk(t, undefined, (chunk, start) => {
    assert.equal(start, out.length);
    out.push(...chunk);
  });
  return out;
}

test('int8, int16 and int32 payloads, aligned or not, and int32_data', () => {
  const values = [-128, -1, 0, 1, 127, 5];
  assert.deepEqual(
    visited(tensor(DataType.INT8, [6], { rawData: Uint8Array.from(new Int8Array(values)) })),
    values,
  );
  const wide = [-32768, -300, 0, 300, 32767, 7];
  // One byte in, so the int16 payload is unaligned.
  const shifted = new Uint8Array(1 + 12);
  new DataView(shifted.buffer).setInt16(1, 0);
  wide.forEach((v, i) => new DataView(shifted.buffer).setInt16(1 + 2 * i, v, true));
  assert.deepEqual(visited(tensor(DataType.INT16, [2, 3], { rawData: shifted.subarray(1) })), wide);
  const big = [-2_000_000, 0, 2_000_000];
  assert.deepEqual(
    visited(tensor(DataType.INT32, [3], { rawData: new Uint8Array(new Int32Array(big).buffer) })),
    big,
  );
  assert.deepEqual(visited(tensor(DataType.INT32, [3], { int32Data: big })), big);
});

test('more values than one chunk keep their order; a short payload is an error', () => {
  const n = (1 << 16) + 5;
  const raw = Uint8Array.from({ length: n }, (_, i) => i % 251);
  const out = visited(tensor(DataType.INT8, [n], { rawData: raw }));
  assert.equal(out.length, n);
  assert.equal(out[n - 1], new Int8Array(raw.buffer)[n - 1]);
  assert.throws(
    () => visited(tensor(DataType.INT16, [4], { rawData: new Uint8Array(6) })),
    /holds 6 bytes, its shape needs 8/,
  );
  // Floats still go through forEachFloatChunk.
  assert.deepEqual(
    visited(
      tensor(DataType.FLOAT, [2], { rawData: new Uint8Array(new Float32Array([1.5, -2]).buffer) }),
    ),
    [1.5, -2],
  );
});
