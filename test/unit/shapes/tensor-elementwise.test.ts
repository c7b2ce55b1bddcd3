import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { buildGraphView } from '../../../src/core/graph/graph';
import { inferShapes, type ShapeInference } from '../../../src/core/shapes/infer';
import { DataType } from '../../../src/core/onnx/types';

function infer(b: ModelBuilder): ShapeInference {
  return inferShapes(buildGraphView(b.load().model.graph), { opsets: new Map([['', b.opset]]) });
}

test('binary ops broadcast numpy-style, symbolic dims included', () => {
  const b = new ModelBuilder({ opset: 14 });
  const x = b.input('x', DataType.FLOAT, ['N', 1, 4]);
  const y = b.input('y', DataType.FLOAT, [3, 1]);
  const [add] = b.node('Add', [x, y]);
  const [less] = b.node('Less', [x, y]);
  const [sum] = b.node('Sum', [x, y, b.input('z', DataType.FLOAT, [4])]);
  const r = infer(b);
  assert.deepEqual(r.types.get(add), { dtype: DataType.FLOAT, shape: ['N', 3, 4] });
  assert.deepEqual(r.types.get(less), { dtype: DataType.BOOL, shape: ['N', 3, 4] });
  assert.deepEqual(r.types.get(sum)?.shape, ['N', 3, 4]);
});

test('incompatible broadcast is an error diagnostic naming the shapes', () => {
  const b = new ModelBuilder({ opset: 14 });
  b.node('Mul', [b.input('x', DataType.FLOAT, [2, 3]), b.input('y', DataType.FLOAT, [4])]);
  const r = infer(b);
  assert.equal(r.diagnostics[0]?.severity, 'error');
  assert.match(r.diagnostics[0]?.message ?? '', /\[2,3\] and \[4\] do not broadcast/);
});

test('before opset 7, broadcast=1 gives the shape of A', () => {
  const b = new ModelBuilder({ opset: 6 });
  const [y] = b.node(
    'Add',
    [b.input('a', DataType.FLOAT, [2, 3, 4]), b.input('c', DataType.FLOAT, [3])],
    { broadcast: 1, axis: 1 },
  );
  assert.deepEqual(infer(b).types.get(y)?.shape, [2, 3, 4]);
});

test('Div truncates toward zero for integers and is exact for floats', () => {
  const b = new ModelBuilder({ opset: 14 });
  const [i] = b.node('Div', [b.ints('a', [-7, 7]), b.ints('c', [2])]);
  const [f] = b.node('Div', [
    b.initializer('fa', DataType.FLOAT, [2], [-7, 7]),
    b.initializer('fc', DataType.FLOAT, [1], [2]),
  ]);
  const r = infer(b);
  assert.deepEqual(r.values.get(i)?.values, [-3, 3]);
  assert.deepEqual(r.values.get(f)?.values, [-3.5, 3.5]);
});

test('Mod follows the divisor sign unless fmod=1', () => {
  const b = new ModelBuilder({ opset: 13 });
  const a = b.ints('a', [-7, 7]);
  const c = b.ints('c', [3]);
  const [m] = b.node('Mod', [a, c]);
  const [fm] = b.node('Mod', [a, c], { fmod: 1 });
  const r = infer(b);
  assert.deepEqual(r.values.get(m)?.values, [2, 1]);
  assert.deepEqual(r.values.get(fm)?.values, [-1, 1]);
});

test('arithmetic folds symbolic shape entries; comparisons fold only when decidable', () => {
  const b = new ModelBuilder({ opset: 14 });
  const x = b.input('x', DataType.FLOAT, ['N', 4]);
  const [s] = b.node('Shape', [x]);
  const [twice] = b.node('Mul', [s, b.ints('two', [2])]);
  const [plus] = b.node('Add', [s, b.ints('one', [1])]);
  const [eqSelf] = b.node('Equal', [s, s]);
  const [gt] = b.node('Greater', [s, b.ints('three', [3])]);
  const r = infer(b);
  assert.deepEqual(r.values.get(twice)?.values, ['N*2', 8]);
  assert.deepEqual(r.values.get(plus)?.values, ['N+1', 5]);
  assert.deepEqual(r.values.get(eqSelf)?.values, [1, 1]);
  // 'N' > 3 is unknown: no value at all rather than a partial guess.
  assert.equal(r.values.get(gt), undefined);
  assert.deepEqual(r.types.get(gt)?.shape, [2]);
});

test('Max, Min and Mean fold over several inputs', () => {
  const b = new ModelBuilder({ opset: 13 });
  const [mx] = b.node('Max', [b.ints('a', [1, 9]), b.ints('c', [5]), b.ints('d', [3, 2])]);
  const [mn] = b.node('Min', [b.ints('e', [1, 9]), b.ints('f', [5])]);
  const [mean] = b.node('Mean', [
    b.initializer('g', DataType.FLOAT, [2], [1, 2]),
    b.initializer('h', DataType.FLOAT, [2], [3, 6]),
  ]);
  const r = infer(b);
  assert.deepEqual(r.values.get(mx)?.values, [5, 9]);
  assert.deepEqual(r.values.get(mn)?.values, [1, 5]);
  assert.deepEqual(r.values.get(mean)?.values, [2, 4]);
});

test('logic and bitwise ops: And/Or/Xor/Not are bool, BitShift honours direction', () => {
  const b = new ModelBuilder({ opset: 18 });
  const p = b.initializer('p', DataType.BOOL, [2], [1, 0]);
  const q = b.initializer('q', DataType.BOOL, [2], [1, 1]);
  const [xor] = b.node('Xor', [p, q]);
  const [not] = b.node('Not', [p]);
  const u = b.initializer('u', DataType.UINT8, [2], [1, 16]);
  const [left] = b.node('BitShift', [u, b.initializer('k', DataType.UINT8, [1], [2])], {
    direction: 'LEFT',
  });
  const [right] = b.node('BitShift', [u, b.initializer('k2', DataType.UINT8, [1], [2])], {
    direction: 'RIGHT',
  });
  const [band] = b.node('BitwiseAnd', [u, b.initializer('m', DataType.UINT8, [1], [17])]);
  const r = infer(b);
  assert.deepEqual(r.values.get(xor), { dims: [2], values: [0, 1] });
  assert.deepEqual(r.types.get(not)?.dtype, DataType.BOOL);
  assert.deepEqual(r.values.get(not)?.values, [0, 1]);
  assert.deepEqual(r.values.get(left)?.values, [4, 64]);
  assert.deepEqual(r.values.get(right)?.values, [0, 4]);
  assert.deepEqual(r.values.get(band)?.values, [1, 16]);
});

test('unary ops keep the shape, fold values, and IsNaN/IsInf are bool', () => {
  const b = new ModelBuilder({ opset: 20 });
  const x = b.input('x', DataType.FLOAT16, ['N', 3]);
  const [erf] = b.node('Erf', [x]);
  const [isnan] = b.node('IsNaN', [x]);
  const v = b.initializer('v', DataType.FLOAT, [4], [-2.5, 0.5, 1.5, 2.4]);
  const [round] = b.node('Round', [v]);
  const [neg] = b.node('Neg', [v]);
  const [abs] = b.node('Abs', [v]);
  const [sqrt] = b.node('Sqrt', [b.initializer('w', DataType.FLOAT, [1], [16])]);
  const [isinf] = b.node(
    'IsInf',
    [b.initializer('inf', DataType.FLOAT, [2], [Infinity, -Infinity])],
    { detect_negative: 0 },
  );
  const r = infer(b);
  assert.deepEqual(r.types.get(erf), { dtype: DataType.FLOAT16, shape: ['N', 3] });
  assert.deepEqual(r.types.get(isnan), { dtype: DataType.BOOL, shape: ['N', 3] });
  // Round is half-to-even.
  assert.deepEqual(r.values.get(round)?.values, [-2, 0, 2, 2]);
  assert.deepEqual(r.values.get(neg)?.values, [2.5, -0.5, -1.5, Math.fround(-2.4)]);
  assert.deepEqual(r.values.get(abs)?.values, [2.5, 0.5, 1.5, Math.fround(2.4)]);
  assert.deepEqual(r.values.get(sqrt)?.values, [4]);
  assert.deepEqual(r.values.get(isinf)?.values, [1, 0]);
});

test('Where takes the dtype of X and broadcasts all three inputs', () => {
  const b = new ModelBuilder({ opset: 16 });
  const c = b.input('c', DataType.BOOL, ['N', 1]);
  const [w] = b.node('Where', [
    c,
    b.input('x', DataType.INT32, [5]),
    b.input('y', DataType.INT32, [1, 1]),
  ]);
  assert.deepEqual(infer(b).types.get(w), { dtype: DataType.INT32, shape: ['N', 5] });
});
