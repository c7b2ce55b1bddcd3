import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { buildGraphView } from '../../../src/core/graph/graph';
import { inferShapes, type ShapeInference } from '../../../src/core/shapes/infer';
import { DataType } from '../../../src/core/onnx/types';

function infer(b: ModelBuilder): ShapeInference {
  return inferShapes(buildGraphView(b.load().model.graph), { opsets: new Map([['', b.opset]]) });
}

test('NonZero gets a named count symbol, and the exact count for a constant input', () => {
  const b = new ModelBuilder({ opset: 13 });
  const [nz] = b.node('NonZero', [b.input('x', DataType.FLOAT, [2, 'N'])], {}, { name: 'nz' });
  const [c] = b.node('NonZero', [b.ints('k', [0, 3, 0, 1], [2, 2])]);
  const r = infer(b);
  const shape = r.types.get(nz)?.shape;
  assert.equal(shape?.[0], 2);
  assert.match(String(shape?.[1]), /^nz_/);
  assert.deepEqual(r.types.get(c), { dtype: DataType.INT64, shape: [2, 2] });
});

test('two data-dependent nodes get different symbols', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [4]);
  const [a] = b.node('NonZero', [x]);
  const [c] = b.node('NonZero', [x]);
  const r = infer(b);
  assert.notEqual(r.types.get(a)?.shape?.[1], r.types.get(c)?.shape?.[1]);
});

test('NonMaxSuppression selects [count, 3]', () => {
  const b = new ModelBuilder({ opset: 11 });
  const [sel] = b.node('NonMaxSuppression', [
    b.input('boxes', DataType.FLOAT, [1, 100, 4]),
    b.input('scores', DataType.FLOAT, [1, 80, 100]),
  ]);
  const s = infer(b).types.get(sel)?.shape;
  assert.equal(s?.length, 2);
  assert.equal(typeof s?.[0], 'string');
  assert.equal(s?.[1], 3);
});

test('Unique: four outputs, with and without axis, sharing one count symbol', () => {
  const b = new ModelBuilder({ opset: 11 });
  const x = b.input('x', DataType.FLOAT, [3, 'N']);
  const outs = b.node('Unique', [x], {}, { outputs: 4 });
  const axisOuts = b.node('Unique', [x], { axis: 0 }, { outputs: 4 });
  const [folded] = b.node('Unique', [b.ints('k', [2, 1, 2, 3])]);
  const r = infer(b);
  const [y, idx, inv, counts] = outs.map((o) => r.types.get(o));
  const count = y?.shape?.[0];
  assert.equal(typeof count, 'string');
  assert.deepEqual(idx?.shape, [count]);
  assert.deepEqual(inv, { dtype: DataType.INT64, shape: ['N*3'] });
  assert.deepEqual(counts?.shape, [count]);
  const ay = r.types.get(axisOuts[0]);
  assert.equal(ay?.dtype, DataType.FLOAT);
  assert.equal(ay?.shape?.[1], 'N');
  assert.equal(typeof ay?.shape?.[0], 'string');
  assert.deepEqual(r.types.get(axisOuts[2])?.shape, [3]);
  assert.deepEqual(r.types.get(folded)?.shape, [3]);
});

test('TopK: K from a constant input, from the attribute before opset 10, or a symbol', () => {
  const b = new ModelBuilder({ opset: 11 });
  const x = b.input('x', DataType.FLOAT, ['N', 100]);
  const [v, i] = b.node('TopK', [x, b.ints('k', [5])], {}, { outputs: 2 });
  const [dv] = b.node('TopK', [x, b.input('kk', DataType.INT64, [1])], { axis: 0 }, { outputs: 2 });
  const r = infer(b);
  assert.deepEqual(r.types.get(v), { dtype: DataType.FLOAT, shape: ['N', 5] });
  assert.deepEqual(r.types.get(i), { dtype: DataType.INT64, shape: ['N', 5] });
  const k = r.types.get(dv)?.shape?.[0];
  assert.equal(typeof k, 'string');
  assert.notEqual(k, 'N');

  const b1 = new ModelBuilder({ opset: 1 });
  const [v1] = b1.node('TopK', [b1.input('x', DataType.FLOAT, [4, 10])], { k: 3 }, { outputs: 2 });
  assert.deepEqual(infer(b1).types.get(v1)?.shape, [4, 3]);
});

test('TopK with K larger than the axis is an error', () => {
  const b = new ModelBuilder({ opset: 11 });
  b.node('TopK', [b.input('x', DataType.FLOAT, [4]), b.ints('k', [9])], {}, { outputs: 2 });
  assert.match(infer(b).diagnostics[0]?.message ?? '', /K 9 exceeds/);
});

test('Compress counts a constant condition and names a runtime one', () => {
  const b = new ModelBuilder({ opset: 11 });
  const x = b.input('x', DataType.FLOAT, [3, 'N']);
  const [c] = b.node('Compress', [x, b.initializer('cond', DataType.BOOL, [3], [1, 0, 1])], {
    axis: 0,
  });
  const [flat] = b.node('Compress', [x, b.initializer('cond2', DataType.BOOL, [2], [1, 1])]);
  const [dyn] = b.node('Compress', [x, b.input('cd', DataType.BOOL, ['N'])], { axis: 1 });
  const r = infer(b);
  assert.deepEqual(r.types.get(c)?.shape, [2, 'N']);
  assert.deepEqual(r.types.get(flat)?.shape, [2]);
  const d = r.types.get(dyn)?.shape;
  assert.equal(d?.[0], 3);
  assert.match(String(d?.[1]), /compress_count/);
});
