import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTensor, ModelBuilder } from '../../helpers/modelBuilder';
import { buildGraphView } from '../../../src/core/graph/graph';
import { inferShapes, type ShapeInference } from '../../../src/core/shapes/infer';
import { DataType } from '../../../src/core/onnx/types';

function infer(b: ModelBuilder, inputShapes?: Map<string, number[]>): ShapeInference {
  const loaded = b.load();
  return inferShapes(buildGraphView(loaded.model.graph), {
    opsets: new Map([['', b.opset]]),
    inputShapes,
  });
}

/** The exporter's flatten: Shape → Gather(0) → Unsqueeze → Concat([b, -1]) → Reshape. */
function flattenChain(): { b: ModelBuilder; y: string; target: string } {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, ['N', 3, 224, 224]);
  const [s] = b.node('Shape', [x]);
  const [n] = b.node('Gather', [s, b.initializer('zero', DataType.INT64, [], [0])], { axis: 0 });
  const [u] = b.node('Unsqueeze', [n, b.ints('axes0', [0])]);
  const [target] = b.node('Concat', [u, b.ints('minus1', [-1])], { axis: 0 });
  const [y] = b.node('Reshape', [x, target]);
  b.output(y);
  return { b, y, target };
}

test('Shape → Gather → Unsqueeze → Concat → Reshape keeps a symbolic batch and cancels it', () => {
  const { b, y, target } = flattenChain();
  const r = infer(b);
  assert.deepEqual(r.values.get(target), { dims: [2], values: ['N', -1] });
  assert.deepEqual(r.types.get(y)?.shape, ['N', 150528]);
  assert.equal(r.diagnostics.length, 0);
});

test('the same chain resolves to numbers with --input fixed dims', () => {
  const { b, y, target } = flattenChain();
  const r = infer(b, new Map([['x', [4, 3, 224, 224]]]));
  assert.deepEqual(r.values.get(target)?.values, [4, -1]);
  assert.deepEqual(r.types.get(y)?.shape, [4, 150528]);
});

test('Shape → Slice → Concat → Reshape splits the last axis of a symbolic tensor', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, ['B', 'T', 768]);
  const [s] = b.node('Shape', [x]);
  const [bt] = b.node('Slice', [s, b.ints('s0', [0]), b.ints('e2', [2])]);
  const [target] = b.node('Concat', [bt, b.ints('heads', [12, -1])], { axis: 0 });
  const [y] = b.node('Reshape', [x, target]);
  const r = infer(b);
  assert.deepEqual(r.values.get(bt)?.values, ['B', 'T']);
  assert.deepEqual(r.types.get(y)?.shape, ['B', 'T', 12, 64]);
});

test('Shape → Cast → Mul → Cast → Concat → Resize(sizes) doubles the spatial dims', () => {
  const build = (h: number | string): { r: ShapeInference; y: string } => {
    const b = new ModelBuilder({ opset: 13 });
    const x = b.input('x', DataType.FLOAT, [1, 3, h, 20]);
    const [s] = b.node('Shape', [x]);
    const [hw] = b.node('Slice', [s, b.ints('s2', [2]), b.ints('e4', [4])]);
    const [f] = b.node('Cast', [hw], { to: DataType.FLOAT });
    const [m] = b.node('Mul', [f, b.initializer('two', DataType.FLOAT, [1], [2])]);
    const [fl] = b.node('Floor', [m]);
    const [i] = b.node('Cast', [fl], { to: DataType.INT64 });
    const [sizes] = b.node('Concat', [b.ints('nc', [1, 3]), i], { axis: 0 });
    const [y] = b.node('Resize', [x, '', '', sizes], { mode: 'nearest' });
    return { r: infer(b), y };
  };
  assert.deepEqual(build(10).r.types.get(build(10).y)?.shape, [1, 3, 20, 40]);
  const sym = build('H');
  assert.deepEqual(sym.r.types.get(sym.y)?.shape, [1, 3, 'H*2', 40]);
});

test('a fractional scale on a symbolic dim stays an honest floor() expression', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, ['H']);
  const [s] = b.node('Shape', [x]);
  const [f] = b.node('Cast', [s], { to: DataType.FLOAT });
  const [m] = b.node('Mul', [f, b.initializer('half', DataType.FLOAT, [1], [0.5])]);
  const [i] = b.node('Cast', [m], { to: DataType.INT64 });
  const r = infer(b);
  assert.deepEqual(r.values.get(i)?.values, ['floor(H*0.5)']);
});

test('Reshape copies 0 dims (unless allowzero) and infers -1 symbolically', () => {
  const b = new ModelBuilder({ opset: 14 });
  const x = b.input('x', DataType.FLOAT, ['N', 6]);
  const [a] = b.node('Reshape', [x, b.ints('t1', [0, 2, -1])]);
  const z = b.input('z', DataType.FLOAT, [0, 4]);
  const [c] = b.node('Reshape', [z, b.ints('t2', [0, 8])], { allowzero: 1 });
  const w = b.input('w', DataType.FLOAT, ['N', 3]);
  const [d] = b.node('Reshape', [w, b.ints('t3', [2, -1])]);
  const r = infer(b);
  assert.deepEqual(r.types.get(a)?.shape, ['N', 2, 3]);
  assert.deepEqual(r.types.get(c)?.shape, [0, 8]);
  // 3N/2 is not a whole product: kept as a quotient, not rounded.
  assert.deepEqual(r.types.get(d)?.shape, [2, '(N*3)/2']);
});

test('Reshape to an incompatible size is an error diagnostic', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  b.node('Reshape', [x, b.ints('t', [4, 2])], {}, { name: 'bad' });
  const r = infer(b);
  assert.equal(r.diagnostics[0]?.severity, 'error');
  assert.equal(r.diagnostics[0]?.node, 'bad');
});

test('Reshape before opset 5 reads the shape attribute', () => {
  const b = new ModelBuilder({ opset: 4 });
  const x = b.input('x', DataType.FLOAT, [2, 3, 4]);
  const [y] = b.node('Reshape', [x], { shape: [-1, 4] });
  assert.deepEqual(infer(b).types.get(y)?.shape, [6, 4]);
});

test('ConstantOfShape takes its dims from a folded shape and its dtype from value', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [2, 'T']);
  const [s] = b.node('Shape', [x]);
  const [sym] = b.node('ConstantOfShape', [s]);
  const [small] = b.node('ConstantOfShape', [b.ints('dims', [2, 2])], {
    value: makeTensor('value', DataType.INT64, [1], [7]),
  });
  const r = infer(b);
  assert.deepEqual(r.types.get(sym), { dtype: DataType.FLOAT, shape: [2, 'T'] });
  assert.deepEqual(r.types.get(small)?.dtype, DataType.INT64);
  assert.deepEqual(r.values.get(small), { dims: [2, 2], values: [7, 7, 7, 7] });
});

test('Range folds constant bounds and gives a symbolic length for a symbolic limit', () => {
  const b = new ModelBuilder({ opset: 13 });
  const scalar = (name: string, v: number): string => b.initializer(name, DataType.INT64, [], [v]);
  const [down] = b.node('Range', [scalar('a', 10), scalar('b', 4), scalar('c', -2)]);
  const x = b.input('x', DataType.FLOAT, ['T', 8]);
  const [s] = b.node('Shape', [x]);
  const [t] = b.node('Gather', [s, scalar('i0', 0)]);
  const [pos] = b.node('Range', [scalar('z', 0), t, scalar('one', 1)]);
  const [dyn] = b.node('Range', [
    scalar('z2', 0),
    b.input('lim', DataType.INT64, []),
    scalar('o2', 1),
  ]);
  const r = infer(b);
  assert.deepEqual(r.values.get(down), { dims: [3], values: [10, 8, 6] });
  assert.deepEqual(r.types.get(pos)?.shape, ['T']);
  const len = r.types.get(dyn)?.shape?.[0];
  assert.equal(typeof len, 'string');
  assert.match(String(len), /range_length/);
});

test('Where(Equal(shape, -1), 1, shape) → Expand resolves the exporter trick', () => {
  const b = new ModelBuilder({ opset: 13 });
  const target = b.ints('target', [-1, 4]);
  const [eq] = b.node('Equal', [target, b.initializer('m1', DataType.INT64, [], [-1])]);
  const [fixed] = b.node('Where', [eq, b.ints('ones', [1, 1]), target]);
  const y = b.input('y', DataType.FLOAT, [3, 1]);
  const [e] = b.node('Expand', [y, fixed]);
  const r = infer(b);
  assert.deepEqual(r.types.get(eq)?.dtype, DataType.BOOL);
  assert.deepEqual(r.values.get(fixed)?.values, [1, 4]);
  assert.deepEqual(r.types.get(e)?.shape, [3, 4]);
});

test('Expand, Tile and Transpose fold known values', () => {
  const b = new ModelBuilder({ opset: 13 });
  const v = b.ints('v', [1, 2, 3], [1, 3]);
  const [ex] = b.node('Expand', [v, b.ints('s', [2, 1])]);
  const [ti] = b.node('Tile', [v, b.ints('r', [2, 1])]);
  const [tr] = b.node('Transpose', [ex], { perm: [1, 0] });
  const r = infer(b);
  assert.deepEqual(r.values.get(ex), { dims: [2, 3], values: [1, 2, 3, 1, 2, 3] });
  assert.deepEqual(r.values.get(ti), { dims: [2, 3], values: [1, 2, 3, 1, 2, 3] });
  assert.deepEqual(r.values.get(tr), { dims: [3, 2], values: [1, 1, 2, 2, 3, 3] });
});

test('Expand with a symbolic target shape from Shape', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, ['N', 1, 5]);
  const [s] = b.node('Shape', [x]);
  const y = b.input('y', DataType.FLOAT, [7, 1]);
  const [e] = b.node('Expand', [y, s]);
  assert.deepEqual(infer(b).types.get(e)?.shape, ['N', 7, 5]);
});

test('Size and Shape(start, end) fold, symbolic dims included', () => {
  const b = new ModelBuilder({ opset: 15 });
  const x = b.input('x', DataType.FLOAT, ['N', 3, 4]);
  const [size] = b.node('Size', [x]);
  const [tail] = b.node('Shape', [x], { start: -2 });
  const [mid] = b.node('Shape', [x], { start: 1, end: -1 });
  const r = infer(b);
  assert.deepEqual(r.values.get(size), { dims: [], values: ['N*12'] });
  assert.deepEqual(r.values.get(tail), { dims: [2], values: [3, 4] });
  assert.deepEqual(r.values.get(mid), { dims: [1], values: [3] });
});

test('Cast folds with truncation and bool conversion; CastLike takes the second dtype', () => {
  const b = new ModelBuilder({ opset: 15 });
  const f = b.initializer('f', DataType.FLOAT, [3], [-1.7, 0, 2.9]);
  const [i] = b.node('Cast', [f], { to: DataType.INT64 });
  const [bo] = b.node('Cast', [f], { to: DataType.BOOL });
  const [like] = b.node('CastLike', [f, b.ints('k', [1])]);
  const r = infer(b);
  assert.deepEqual(r.values.get(i)?.values, [-1, 0, 2]);
  assert.deepEqual(r.values.get(bo)?.values, [1, 0, 1]);
  assert.equal(r.types.get(like)?.dtype, DataType.INT64);
  assert.deepEqual(r.values.get(like)?.values, [-1, 0, 2]);
});

test('Relu and Clip fold known sizes: Range length as its expanded function computes it', () => {
  // ONNX's Range function: trip count = Cast<int64>(Relu(Ceil((limit - start) / delta))).
  const b = new ModelBuilder({ opset: 13 });
  const start = b.initializer('start', DataType.FLOAT, [], [1]);
  const limit = b.initializer('limit', DataType.FLOAT, [], [6]);
  const delta = b.initializer('delta', DataType.FLOAT, [], [2]);
  const [d] = b.node('Sub', [limit, start]);
  const [q] = b.node('Div', [d, delta]);
  const [c] = b.node('Ceil', [q]);
  const [r] = b.node('Relu', [c]);
  const [n] = b.node('Cast', [r], { to: DataType.INT64 });
  const [neg] = b.node('Relu', [b.initializer('minus', DataType.FLOAT, [2], [-3, 4])]);
  const [clipped] = b.node('Clip', [n, b.ints('lo', [0], []), b.ints('hi', [2], [])]);
  const [open] = b.node('Clip', [n]);
  const result = infer(b);
  assert.deepEqual(result.values.get(n)?.values, [3]);
  assert.deepEqual(result.values.get(neg)?.values, [0, 4]);
  assert.deepEqual(result.values.get(clipped)?.values, [2]);
  assert.deepEqual(result.values.get(open)?.values, [3]);
});

test('Relu of an unknown value and Clip with a run-time bound fold nothing', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [2]);
  const hi = b.input('hi', DataType.FLOAT, []);
  const [r] = b.node('Relu', [x]);
  const [c] = b.node('Clip', [b.ints('v', [5, 7]), b.ints('lo', [0], []), hi]);
  const result = infer(b);
  assert.equal(result.values.get(r), undefined);
  assert.equal(result.values.get(c), undefined);
  assert.deepEqual(result.types.get(c)?.shape, [2]);
});
