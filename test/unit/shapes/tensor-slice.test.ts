import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { buildGraphView } from '../../../src/core/graph/graph';
import { inferShapes, type ShapeInference } from '../../../src/core/shapes/infer';
import { DataType } from '../../../src/core/onnx/types';

function infer(b: ModelBuilder): ShapeInference {
  return inferShapes(buildGraphView(b.load().model.graph), { opsets: new Map([['', b.opset]]) });
}

const INT64_MAX = 2n ** 63n - 1n;

/**
 * An int64 initializer from exact bigints (the builder's number path cannot hold INT64_MAX):
 * the builder stores a Uint8Array as the raw bytes.
 */
function int64s(b: ModelBuilder, name: string, values: readonly bigint[]): string {
  return b.initializer(
    name,
    DataType.INT64,
    [values.length],
    new Uint8Array(BigInt64Array.from(values).buffer),
  );
}

test('Slice (opset 13): negative starts, INT64_MAX ends, steps and reversal', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [10, 8, 6]);
  const [a] = b.node('Slice', [
    x,
    b.ints('st', [-3]),
    int64s(b, 'en', [INT64_MAX]),
    b.ints('ax', [0]),
  ]);
  const [c] = b.node('Slice', [
    x,
    b.ints('st2', [1, 0]),
    b.ints('en2', [-1, 8]),
    b.ints('ax2', [-1, 1]),
    b.ints('sp2', [2, 3]),
  ]);
  const [rev] = b.node('Slice', [
    x,
    b.ints('st3', [-1]),
    int64s(b, 'en3', [-INT64_MAX]),
    b.ints('ax3', [2]),
    b.ints('sp3', [-1]),
  ]);
  const [empty] = b.node('Slice', [x, b.ints('st4', [5]), b.ints('en4', [2]), b.ints('ax4', [0])]);
  const r = infer(b);
  assert.deepEqual(r.types.get(a)?.shape, [3, 8, 6]);
  // axis 2: 1..5 step 2 → 1,3 (2); axis 1: 0..8 step 3 → 0,3,6 (3).
  assert.deepEqual(r.types.get(c)?.shape, [10, 3, 2]);
  assert.deepEqual(r.types.get(rev)?.shape, [10, 8, 6]);
  assert.deepEqual(r.types.get(empty)?.shape, [0, 8, 6]);
});

test('Slice folds values, including a reversed Shape', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, ['N', 3, 5]);
  const [s] = b.node('Shape', [x]);
  const [back] = b.node('Slice', [
    s,
    int64s(b, 'st', [INT64_MAX]),
    int64s(b, 'en', [-INT64_MAX]),
    b.ints('ax', [0]),
    b.ints('sp', [-1]),
  ]);
  const [last] = b.node('Slice', [s, b.ints('st2', [-1]), int64s(b, 'en2', [INT64_MAX])]);
  const r = infer(b);
  assert.deepEqual(r.values.get(back), { dims: [3], values: [5, 3, 'N'] });
  assert.deepEqual(r.values.get(last), { dims: [1], values: [5] });
});

test('Slice on symbolic dims gives exact expressions, never a guess', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, ['B', 'T', 4]);
  const [tail] = b.node('Slice', [
    x,
    b.ints('st', [-1]),
    int64s(b, 'en', [INT64_MAX]),
    b.ints('ax', [1]),
  ]);
  const [head] = b.node('Slice', [x, b.ints('st2', [0]), b.ints('en2', [3]), b.ints('ax2', [1])]);
  const [all] = b.node('Slice', [
    x,
    b.ints('st3', [0]),
    int64s(b, 'en3', [INT64_MAX]),
    b.ints('ax3', [0]),
  ]);
  const [odd] = b.node('Slice', [
    x,
    b.ints('st4', [1]),
    int64s(b, 'en4', [INT64_MAX]),
    b.ints('ax4', [1]),
    b.ints('sp4', [2]),
  ]);
  const r = infer(b);
  assert.deepEqual(r.types.get(tail)?.shape, ['B', 'min(T,1)', 4]);
  assert.deepEqual(r.types.get(head)?.shape, ['B', 'min(T,3)', 4]);
  assert.deepEqual(r.types.get(all)?.shape, ['B', 'T', 4]);
  const d = r.types.get(odd)?.shape?.[1];
  assert.equal(typeof d, 'string');
  assert.notEqual(d, 'T');
});

test('Slice before opset 10 reads starts/ends/axes attributes', () => {
  const b = new ModelBuilder({ opset: 9 });
  const x = b.input('x', DataType.FLOAT, [4, 10]);
  const [y] = b.node('Slice', [x], { starts: [2], ends: [100], axes: [1] });
  assert.deepEqual(infer(b).types.get(y)?.shape, [4, 8]);
});

test('Split: attribute, input, even split and the uneven num_outputs of opset 18', () => {
  const b11 = new ModelBuilder({ opset: 11 });
  const x11 = b11.input('x', DataType.FLOAT, [6, 2]);
  const outs11 = b11.node('Split', [x11], { split: [1, 5] }, { outputs: 2 });
  const even = b11.node('Split', [x11], { axis: 0 }, { outputs: 3 });
  const r11 = infer(b11);
  assert.deepEqual(
    outs11.map((o) => r11.types.get(o)?.shape),
    [
      [1, 2],
      [5, 2],
    ],
  );
  assert.deepEqual(
    even.map((o) => r11.types.get(o)?.shape),
    [
      [2, 2],
      [2, 2],
      [2, 2],
    ],
  );

  const b13 = new ModelBuilder({ opset: 13 });
  const x13 = b13.input('x', DataType.FLOAT, [2, 'N', 7]);
  const outs13 = b13.node('Split', [x13, b13.ints('sp', [3, 4])], { axis: -1 }, { outputs: 2 });
  const r13 = infer(b13);
  assert.deepEqual(
    outs13.map((o) => r13.types.get(o)?.shape),
    [
      [2, 'N', 3],
      [2, 'N', 4],
    ],
  );

  const b18 = new ModelBuilder({ opset: 18 });
  const x18 = b18.input('x', DataType.FLOAT, [10]);
  const outs18 = b18.node('Split', [x18], { num_outputs: 3 }, { outputs: 3 });
  const r18 = infer(b18);
  assert.deepEqual(
    outs18.map((o) => r18.types.get(o)?.shape),
    [[4], [4], [2]],
  );
});

test('Split folds values of a known shape', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, ['N', 3, 5]);
  const [s] = b.node('Shape', [x]);
  const [first, rest] = b.node('Split', [s, b.ints('sp', [1, 2])], {}, { outputs: 2 });
  const r = infer(b);
  assert.deepEqual(r.values.get(first)?.values, ['N']);
  assert.deepEqual(r.values.get(rest)?.values, [3, 5]);
});

test('Squeeze and Unsqueeze: axes attribute before opset 13, input since', () => {
  const b11 = new ModelBuilder({ opset: 11 });
  const x = b11.input('x', DataType.FLOAT, [1, 'N', 1, 4]);
  const [sq] = b11.node('Squeeze', [x], { axes: [0, -2] });
  const [us] = b11.node('Unsqueeze', [x], { axes: [0, -1] });
  const r11 = infer(b11);
  assert.deepEqual(r11.types.get(sq)?.shape, ['N', 4]);
  assert.deepEqual(r11.types.get(us)?.shape, [1, 1, 'N', 1, 4, 1]);

  const b13 = new ModelBuilder({ opset: 13 });
  const y = b13.input('y', DataType.FLOAT, [1, 3, 1]);
  const [sq13] = b13.node('Squeeze', [y, b13.ints('a', [2])]);
  const [all] = b13.node('Squeeze', [y]);
  const [us13] = b13.node('Unsqueeze', [y, b13.ints('b', [1])]);
  const z = b13.input('z', DataType.FLOAT, [1, 'M']);
  const [unknown] = b13.node('Squeeze', [z]);
  const r13 = infer(b13);
  assert.deepEqual(r13.types.get(sq13)?.shape, [1, 3]);
  assert.deepEqual(r13.types.get(all)?.shape, [3]);
  assert.deepEqual(r13.types.get(us13)?.shape, [1, 1, 3, 1]);
  // 'M' may be 1 at run time: the rank is unknown rather than guessed.
  assert.equal(r13.types.get(unknown)?.shape, undefined);
});

test('Squeeze of an axis that is not 1 is an error', () => {
  const b = new ModelBuilder({ opset: 13 });
  const y = b.input('y', DataType.FLOAT, [2, 3]);
  b.node('Squeeze', [y, b.ints('a', [0])]);
  assert.match(infer(b).diagnostics[0]?.message ?? '', /cannot squeeze axis 0 of size 2/);
});

test('Gather folds with negative indices and keeps the indices rank', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, ['N', 3, 7]);
  const [s] = b.node('Shape', [x]);
  const [g] = b.node('Gather', [s, b.ints('i', [-1, 0])]);
  const data = b.input('d', DataType.FLOAT, [5, 'K', 2]);
  const [g2] = b.node('Gather', [data, b.ints('j', [0, 1, 2, 3, 4, 0], [2, 3])], { axis: 1 });
  const r = infer(b);
  assert.deepEqual(r.values.get(g), { dims: [2], values: [7, 'N'] });
  assert.deepEqual(r.types.get(g2)?.shape, [5, 2, 3, 2]);
});

test('GatherElements, GatherND with batch_dims, and scatters keep their documented shapes', () => {
  const b = new ModelBuilder({ opset: 13 });
  const d = b.input('d', DataType.FLOAT, [2, 3, 4, 5]);
  const [ge] = b.node('GatherElements', [d, b.input('i', DataType.INT64, [2, 3, 1, 5])], {
    axis: 2,
  });
  const [gnd] = b.node('GatherND', [d, b.input('j', DataType.INT64, [2, 6, 2])], { batch_dims: 1 });
  const [snd] = b.node('ScatterND', [
    d,
    b.input('k', DataType.INT64, [1, 4]),
    b.input('u', DataType.FLOAT, [1]),
  ]);
  const r = infer(b);
  assert.deepEqual(r.types.get(ge)?.shape, [2, 3, 1, 5]);
  assert.deepEqual(r.types.get(gnd)?.shape, [2, 6, 5]);
  assert.deepEqual(r.types.get(snd)?.shape, [2, 3, 4, 5]);
});

test('Concat sums the axis (symbolically too) and folds; a rank mismatch is an error', () => {
  const b = new ModelBuilder({ opset: 13 });
  const a = b.input('a', DataType.FLOAT, ['N', 'T', 8]);
  const c = b.input('c', DataType.FLOAT, ['N', 1, 8]);
  const [y] = b.node('Concat', [a, c], { axis: 1 });
  const [v] = b.node('Concat', [b.ints('p', [1, 2, 3, 4], [2, 2]), b.ints('q', [5, 6], [2, 1])], {
    axis: 1,
  });
  b.node('Concat', [a, b.input('bad', DataType.FLOAT, [2, 2])], { axis: 0 });
  const r = infer(b);
  assert.deepEqual(r.types.get(y)?.shape, ['N', 'T+1', 8]);
  assert.deepEqual(r.values.get(v), { dims: [2, 3], values: [1, 2, 5, 3, 4, 6] });
  assert.match(r.diagnostics[0]?.message ?? '', /different ranks/);
});

test('Pad: pads attribute before opset 11, input since, axes input since 18', () => {
  const b2 = new ModelBuilder({ opset: 2 });
  const x2 = b2.input('x', DataType.FLOAT, [1, 3, 4, 4]);
  const [p2] = b2.node('Pad', [x2], { pads: [0, 0, 1, 2, 0, 0, 1, 2] });
  assert.deepEqual(infer(b2).types.get(p2)?.shape, [1, 3, 6, 8]);

  const b18 = new ModelBuilder({ opset: 18 });
  const x = b18.input('x', DataType.FLOAT, ['N', 3, 4, 4]);
  const [p11] = b18.node('Pad', [x, b18.ints('pads', [0, 0, 0, -1, 0, 0, 0, -1])]);
  const [p18] = b18.node('Pad', [x, b18.ints('pads2', [2, 3]), '', b18.ints('axes', [-1])]);
  const r = infer(b18);
  assert.deepEqual(r.types.get(p11)?.shape, ['N', 3, 4, 2]);
  assert.deepEqual(r.types.get(p18)?.shape, ['N', 3, 4, 9]);
});

test('Flatten, DepthToSpace, SpaceToDepth, OneHot, CenterCropPad, Tile', () => {
  const b = new ModelBuilder({ opset: 18 });
  const x = b.input('x', DataType.FLOAT, ['N', 8, 4, 6]);
  const [f] = b.node('Flatten', [x], { axis: -2 });
  const [d2s] = b.node('DepthToSpace', [x], { blocksize: 2 });
  const [s2d] = b.node('SpaceToDepth', [x], { blocksize: 2 });
  const idx = b.input('idx', DataType.INT64, ['N', 5]);
  const [oh] = b.node(
    'OneHot',
    [
      idx,
      b.initializer('depth', DataType.INT64, [], [10]),
      b.initializer('v', DataType.FLOAT, [2], [0, 1]),
    ],
    { axis: 1 },
  );
  const [crop] = b.node('CenterCropPad', [x, b.ints('crop', [3, 9])], { axes: [2, 3] });
  const [t] = b.node('Tile', [x, b.ints('rep', [1, 1, 2, 3])]);
  const r = infer(b);
  assert.deepEqual(r.types.get(f)?.shape, ['N*8', 24]);
  assert.deepEqual(r.types.get(d2s)?.shape, ['N', 2, 8, 12]);
  assert.deepEqual(r.types.get(s2d)?.shape, ['N', 32, 2, 3]);
  assert.deepEqual(r.types.get(oh), { dtype: DataType.FLOAT, shape: ['N', 10, 5] });
  assert.deepEqual(r.types.get(crop)?.shape, ['N', 8, 3, 9]);
  assert.deepEqual(r.types.get(t)?.shape, ['N', 8, 8, 18]);
});

test('DepthToSpace with channels not divisible by blocksize² is an error', () => {
  const b = new ModelBuilder({ opset: 13 });
  b.node('DepthToSpace', [b.input('x', DataType.FLOAT, [1, 6, 2, 2])], { blocksize: 2 });
  assert.match(infer(b).diagnostics[0]?.message ?? '', /not divisible by 4/);
});
