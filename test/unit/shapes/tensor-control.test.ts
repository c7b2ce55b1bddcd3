import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelBuilder, subgraph } from '../../helpers/modelBuilder';
import { buildGraphView } from '../../../src/core/graph/graph';
import { inferShapes, type ShapeInference } from '../../../src/core/shapes/infer';
import { DataType, type TypeInfo } from '../../../src/core/onnx/types';
import { encodeModel } from '../../../src/core/onnx/encode';
import { parseModelBytes } from '../../../src/core/onnx/load';

function infer(b: ModelBuilder): ShapeInference {
  return inferShapes(buildGraphView(b.load().model.graph), { opsets: new Map([['', b.opset]]) });
}

// Sub-graph tensors get explicit names: names are shared with the enclosing graph's scope.
const thenBranch = subgraph((g) => {
  g.node('Identity', ['x'], {}, { name: 'then_id', outputs: ['then_out'] });
  g.output('then_out');
}, 'then');
const elseBranch = subgraph((g) => {
  g.node('Concat', ['x', 'x'], { axis: 1 }, { name: 'else_cat', outputs: ['else_out'] });
  g.output('else_out');
}, 'else');
const rank3Branch = subgraph((g) => {
  g.node('Unsqueeze', ['x', 'axes0'], {}, { name: 'r3', outputs: ['r3_out'] });
  g.output('r3_out');
}, 'rank3');

test('If with a runtime condition merges branches: equal dims kept, different dims a symbol', () => {
  const b = new ModelBuilder({ opset: 13 });
  b.input('x', DataType.FLOAT, ['N', 4]);
  const c = b.input('c', DataType.BOOL, []);
  const [y] = b.node(
    'If',
    [c],
    { then_branch: thenBranch, else_branch: elseBranch },
    { name: 'if1' },
  );
  const t = infer(b).types.get(y);
  assert.equal(t?.dtype, DataType.FLOAT);
  assert.equal(t?.shape?.[0], 'N');
  assert.match(String(t?.shape?.[1]), /^if1_/);
});

test('If with a constant condition uses that branch only', () => {
  const b = new ModelBuilder({ opset: 13 });
  b.input('x', DataType.FLOAT, ['N', 4]);
  const no = b.initializer('no', DataType.BOOL, [], [0]);
  const [y] = b.node('If', [no], { then_branch: thenBranch, else_branch: elseBranch });
  assert.deepEqual(infer(b).types.get(y)?.shape, ['N', 8]);
});

test('If branches of different ranks give an unknown rank', () => {
  const b = new ModelBuilder({ opset: 13 });
  b.input('x', DataType.FLOAT, ['N', 4]);
  b.ints('axes0', [0]);
  const [y] = b.node('If', [b.input('c', DataType.BOOL, [])], {
    then_branch: thenBranch,
    else_branch: rank3Branch,
  });
  assert.deepEqual(infer(b).types.get(y), { dtype: DataType.FLOAT });
});

/** Loop body: acc ← acc + x, scan output = acc; the condition is `cond` passed on or `iter < 3`. */
function loopBody(dynamic: boolean): ReturnType<typeof subgraph> {
  return subgraph((g) => {
    g.input('iter', DataType.INT64, []);
    g.input('cond_in', DataType.BOOL, []);
    g.input('acc', DataType.FLOAT, undefined);
    if (dynamic) g.node('Less', ['iter', 'three'], {}, { name: 'lt', outputs: ['cond_out'] });
    else g.node('Identity', ['cond_in'], {}, { name: 'cid', outputs: ['cond_out'] });
    g.node('Add', ['acc', 'x'], {}, { name: 'acc_add', outputs: ['acc_out'] });
    g.node('Identity', ['acc_out'], {}, { name: 'scan_id', outputs: ['scan_out'] });
    g.output('cond_out');
    g.output('acc_out');
    g.output('scan_out');
  });
}

test('Loop with a constant trip count stacks scan outputs on it and keeps carried types', () => {
  const b = new ModelBuilder({ opset: 13 });
  b.input('x', DataType.FLOAT, ['N', 4]);
  const m = b.initializer('m', DataType.INT64, [], [5]);
  const yes = b.initializer('yes', DataType.BOOL, [], [1]);
  const acc0 = b.input('acc0', DataType.FLOAT, ['N', 4]);
  const [acc, scan] = b.node('Loop', [m, yes, acc0], { body: loopBody(false) }, { outputs: 2 });
  const r = infer(b);
  assert.deepEqual(r.types.get(acc), { dtype: DataType.FLOAT, shape: ['N', 4] });
  assert.deepEqual(r.types.get(scan), { dtype: DataType.FLOAT, shape: [5, 'N', 4] });
});

test('Loop whose condition is computed in the body gets a named trip-count symbol', () => {
  const b = new ModelBuilder({ opset: 13 });
  b.input('x', DataType.FLOAT, ['N', 4]);
  b.initializer('three', DataType.INT64, [], [3]);
  const m = b.initializer('m', DataType.INT64, [], [5]);
  const [, scan] = b.node(
    'Loop',
    [m, '', b.input('acc0', DataType.FLOAT, ['N', 4])],
    { body: loopBody(true) },
    { outputs: 2, name: 'lp' },
  );
  const s = infer(b).types.get(scan)?.shape;
  assert.match(String(s?.[0]), /^lp_.*trip_count/);
  assert.deepEqual(s?.slice(1), ['N', 4]);
});

test('a loop-carried value whose shape changes becomes symbolic in that dim', () => {
  const body = subgraph((g) => {
    g.input('i', DataType.INT64, []);
    g.input('ci', DataType.BOOL, []);
    g.input('rows', DataType.FLOAT, undefined);
    g.node('Identity', ['ci'], {}, { name: 'grow_c', outputs: ['co'] });
    g.node('Concat', ['rows', 'row'], { axis: 0 }, { name: 'grow_cat', outputs: ['rows_out'] });
    g.output('co');
    g.output('rows_out');
  });
  const b = new ModelBuilder({ opset: 13 });
  b.initializer('row', DataType.FLOAT, [1, 4], [0, 0, 0, 0]);
  const [rows] = b.node(
    'Loop',
    [b.initializer('m', DataType.INT64, [], [3]), '', b.input('r0', DataType.FLOAT, [1, 4])],
    { body },
  );
  const s = infer(b).types.get(rows)?.shape;
  assert.equal(typeof s?.[0], 'string');
  assert.equal(s?.[1], 4);
});

/** Scan body: state ← state + x_t, output y_t = x_t. */
const scanBody = subgraph((g) => {
  g.input('s_in', DataType.FLOAT, undefined);
  g.input('x_t', DataType.FLOAT, undefined);
  g.node('Add', ['s_in', 'x_t'], {}, { name: 'scan_add', outputs: ['s_out'] });
  g.node('Identity', ['x_t'], {}, { name: 'scan_y', outputs: ['y_t'] });
  g.output('s_out');
  g.output('y_t');
});

test('Scan (opset 9+) slices scan inputs on their axis and stacks outputs on theirs', () => {
  const b = new ModelBuilder({ opset: 16 });
  const s0 = b.input('s0', DataType.FLOAT, [4]);
  const xs = b.input('xs', DataType.FLOAT, ['T', 4]);
  const [s, ys] = b.node('Scan', [s0, xs], { body: scanBody, num_scan_inputs: 1 }, { outputs: 2 });
  const xt = b.input('xt', DataType.FLOAT, [4, 'T']);
  const [, ys2] = b.node(
    'Scan',
    [s0, xt],
    { body: scanBody, num_scan_inputs: 1, scan_input_axes: [1], scan_output_axes: [1] },
    { outputs: 2 },
  );
  const r = infer(b);
  assert.deepEqual(r.types.get(s)?.shape, [4]);
  assert.deepEqual(r.types.get(ys)?.shape, ['T', 4]);
  assert.deepEqual(r.types.get(ys2)?.shape, [4, 'T']);
});

test('Scan opset 8 has a batch axis and a leading sequence_lens input', () => {
  const b = new ModelBuilder({ opset: 8 });
  const [s, ys] = b.node(
    'Scan',
    ['', b.input('s0', DataType.FLOAT, ['B', 4]), b.input('xs', DataType.FLOAT, ['B', 'T', 4])],
    { body: scanBody, num_scan_inputs: 1 },
    { outputs: 2 },
  );
  const r = infer(b);
  assert.deepEqual(r.types.get(s)?.shape, ['B', 4]);
  assert.deepEqual(r.types.get(ys)?.shape, ['B', 'T', 4]);
});

test('sequences are tracked by their element type', () => {
  const b = new ModelBuilder({ opset: 17 });
  const a = b.input('a', DataType.FLOAT, [2, 3]);
  const c = b.input('c', DataType.FLOAT, [2, 5]);
  const [seq] = b.node('SequenceConstruct', [a, c]);
  const [at] = b.node('SequenceAt', [seq, b.initializer('zero', DataType.INT64, [], [0])]);
  const [len] = b.node('SequenceLength', [seq]);
  const [stacked] = b.node('ConcatFromSequence', [b.node('SequenceConstruct', [a, a])[0]], {
    axis: 0,
    new_axis: 1,
  });
  const [parts] = b.node('SplitToSequence', [a], { axis: 1, keepdims: 0 });
  const [empty] = b.node('SequenceEmpty', [], { dtype: DataType.INT32 });
  const [ins] = b.node('SequenceInsert', [empty, b.input('i', DataType.INT32, [7])]);
  const r = infer(b);
  assert.equal(r.types.get(at)?.shape?.[0], 2);
  assert.equal(typeof r.types.get(at)?.shape?.[1], 'string');
  assert.deepEqual(r.types.get(len), { dtype: DataType.INT64, shape: [] });
  const st = r.types.get(stacked)?.shape;
  assert.equal(typeof st?.[0], 'string');
  assert.deepEqual(st?.slice(1), [2, 3]);
  assert.deepEqual(r.types.get(parts)?.shape, [2]);
  assert.deepEqual(r.types.get(ins), { dtype: DataType.INT32, shape: [7] });
});

test('SequenceMap infers its body per element', () => {
  const body = subgraph((g) => {
    g.input('e', DataType.FLOAT, undefined);
    g.node('Transpose', ['e'], {}, { name: 'map_t', outputs: ['e_t'] });
    g.output('e_t');
  });
  const b = new ModelBuilder({ opset: 17 });
  const [seq] = b.node('SequenceConstruct', [b.input('a', DataType.FLOAT, [2, 3])]);
  const [out] = b.node('SequenceMap', [seq], { body });
  assert.deepEqual(infer(b).types.get(out)?.shape, [3, 2]);
});

test('Optional wraps its input; OptionalHasElement is a bool scalar', () => {
  const b = new ModelBuilder({ opset: 18 });
  const [opt] = b.node('Optional', [b.input('a', DataType.FLOAT, [3])]);
  const [has] = b.node('OptionalHasElement', [opt]);
  const [got] = b.node('OptionalGetElement', [opt]);
  const r = infer(b);
  assert.deepEqual(r.types.get(has), { dtype: DataType.BOOL, shape: [] });
  assert.deepEqual(r.types.get(got), { dtype: DataType.FLOAT, shape: [3] });
});

test('a graph input declared as an optional or a sequence is typed by its element type', () => {
  const b = new ModelBuilder({ opset: 18 });
  b.input('o', DataType.FLOAT, [4]);
  b.input('s', DataType.FLOAT, [2, 3]);
  b.node('OptionalGetElement', ['o'], {}, { outputs: ['got'] });
  b.node('SequenceAt', ['s', b.ints('zero', [0], [])], {}, { outputs: ['at'] });
  const model = b.build();
  const wrapped = (kind: 'optional' | 'sequence', inner: TypeInfo): TypeInfo => ({
    extra: [],
    kind,
    elemType: DataType.UNDEFINED,
    inner,
  });
  const inputs = model.graph.inputs.map((i) =>
    i.type ? { ...i, type: wrapped(i.name === 'o' ? 'optional' : 'sequence', i.type) } : i,
  );
  const loaded = parseModelBytes(encodeModel({ ...model, graph: { ...model.graph, inputs } }));
  assert.equal(loaded.model.graph.inputs[0].type?.kind, 'optional');
  const r = inferShapes(buildGraphView(loaded.model.graph), { opsets: new Map([['', 18]]) });
  assert.deepEqual(r.types.get('got'), { dtype: DataType.FLOAT, shape: [4] });
  assert.deepEqual(r.types.get('at'), { dtype: DataType.FLOAT, shape: [2, 3] });
});

test('If with a constant condition passes its branch’s folded values on (a shape made in a branch)', () => {
  const branch = subgraph((g) => {
    g.node('Shape', ['x'], {}, { name: 'br_shape', outputs: ['br_s'] });
    g.output('br_s');
  }, 'branch');
  const b = new ModelBuilder({ opset: 13 });
  b.input('x', DataType.FLOAT, [2, 3, 4]);
  const z = b.input('z', DataType.FLOAT, [24]);
  const yes = b.initializer('yes', DataType.BOOL, [], [1]);
  const [s] = b.node('If', [yes], { then_branch: branch, else_branch: thenBranch });
  const [y] = b.node('Reshape', [z, s]);
  const r = infer(b);
  assert.deepEqual(r.values.get(s)?.values, [2, 3, 4]);
  assert.deepEqual(r.types.get(y)?.shape, [2, 3, 4]);
});
