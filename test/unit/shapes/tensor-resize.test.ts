import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float, ModelBuilder } from '../../helpers/modelBuilder';
import { buildGraphView } from '../../../src/core/graph/graph';
import { inferShapes, type ShapeInference } from '../../../src/core/shapes/infer';
import { DataType } from '../../../src/core/onnx/types';

function infer(b: ModelBuilder): ShapeInference {
  return inferShapes(buildGraphView(b.load().model.graph), { opsets: new Map([['', b.opset]]) });
}

const floats = (b: ModelBuilder, name: string, v: number[]): string =>
  b.initializer(name, DataType.FLOAT, [v.length], v);

test('Resize with scales floors in × scale (opset 10 and 13 input layouts)', () => {
  const b10 = new ModelBuilder({ opset: 10 });
  const [y10] = b10.node('Resize', [
    b10.input('x', DataType.FLOAT, [1, 3, 5, 7]),
    floats(b10, 's', [1, 1, 1.5, 0.5]),
  ]);
  assert.deepEqual(infer(b10).types.get(y10)?.shape, [1, 3, 7, 3]);

  const b13 = new ModelBuilder({ opset: 13 });
  const x = b13.input('x', DataType.FLOAT, ['N', 3, 'H', 8]);
  const [y13] = b13.node('Resize', [x, '', floats(b13, 's', [1, 1, 2, 0.5])]);
  assert.deepEqual(infer(b13).types.get(y13)?.shape, ['N', 3, 'H*2', 4]);
});

test('Resize opset 11 treats an empty scales tensor as absent and uses sizes', () => {
  const b = new ModelBuilder({ opset: 11 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 5, 7]);
  const empty = b.initializer('empty', DataType.FLOAT, [0], []);
  const [y] = b.node('Resize', [x, floats(b, 'roi', []), empty, b.ints('sizes', [1, 3, 10, 14])]);
  assert.deepEqual(infer(b).types.get(y)?.shape, [1, 3, 10, 14]);
});

test('Resize opset 18: axes and keep_aspect_ratio_policy', () => {
  const b = new ModelBuilder({ opset: 18 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 100, 200]);
  const sizes = b.ints('sizes', [50, 50]);
  const [larger] = b.node('Resize', [x, '', '', sizes], {
    axes: [2, 3],
    keep_aspect_ratio_policy: 'not_larger',
  });
  const [smaller] = b.node('Resize', [x, '', '', sizes], {
    axes: [2, 3],
    keep_aspect_ratio_policy: 'not_smaller',
  });
  const [stretch] = b.node('Resize', [x, '', '', sizes], { axes: [-2, -1] });
  const r = infer(b);
  assert.deepEqual(r.types.get(larger)?.shape, [1, 3, 25, 50]);
  assert.deepEqual(r.types.get(smaller)?.shape, [1, 3, 50, 100]);
  assert.deepEqual(r.types.get(stretch)?.shape, [1, 3, 50, 50]);
});

test('Resize with runtime sizes keeps the rank and names the resized dims', () => {
  const b = new ModelBuilder({ opset: 13 });
  const [y] = b.node('Resize', [
    b.input('x', DataType.FLOAT, [1, 3, 5, 7]),
    '',
    '',
    b.input('sz', DataType.INT64, [4]),
  ]);
  const s = infer(b).types.get(y)?.shape;
  assert.equal(s?.length, 4);
  assert.ok(s?.every((d) => typeof d === 'string'));
});

test('Upsample: scales attribute (opset 7) and input (opset 9)', () => {
  const b7 = new ModelBuilder({ opset: 7 });
  const [y7] = b7.node('Upsample', [b7.input('x', DataType.FLOAT, [1, 3, 4, 4])], {
    scales: [float(1), float(1), float(2), float(2)],
  });
  assert.deepEqual(infer(b7).types.get(y7)?.shape, [1, 3, 8, 8]);
  const b9 = new ModelBuilder({ opset: 9 });
  const [y9] = b9.node('Upsample', [
    b9.input('x', DataType.FLOAT, [1, 3, 4, 4]),
    floats(b9, 's', [1, 1, 3, 3]),
  ]);
  assert.deepEqual(infer(b9).types.get(y9)?.shape, [1, 3, 12, 12]);
});
