import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGraphView } from '../../../src/core/graph/graph';
import { planActivations, runtimeTensors } from '../../../src/core/memory/activations';
import { opsetVersions } from '../../../src/core/onnx/opsets';
import { DataType } from '../../../src/core/onnx/types';
import type { Diagnostic } from '../../../src/core/report';
import { inferShapes } from '../../../src/core/shapes/infer';
import { ModelBuilder, subgraph } from '../../helpers/modelBuilder';

function analyse(b: ModelBuilder) {
  const { model } = b.load();
  const view = buildGraphView(model.graph);
  const shapes = inferShapes(view, { opsets: opsetVersions(model) });
  return { view, shapes };
}

test('run-time tensors leave out constants, Identity of weights and folded shape chains', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 4, 2, 2]);
  const [s] = b.node('Shape', [x], {}, { name: 'shape', outputs: ['s'] });
  const [batch] = b.node('Gather', [s, b.ints('zero', [0], [])], { axis: 0 }, { name: 'gather' });
  const [n] = b.node('Unsqueeze', [batch, b.ints('axes', [0])], {}, { name: 'unsqueeze' });
  const [minus] = b.node('Constant', [], { value_ints: [-1] }, { name: 'const' });
  const [target] = b.node('Concat', [n, minus], { axis: 0 }, { name: 'concat' });
  const [w] = b.node('Identity', [b.weight('w', [16, 3])], {}, { name: 'shared' });
  const [flat] = b.node('Reshape', [x, target], {}, { name: 'reshape', outputs: ['flat'] });
  const [y] = b.node('MatMul', [flat, w], {}, { name: 'matmul', outputs: ['y'] });
  b.output(y);
  const { view, shapes } = analyse(b);
  assert.deepEqual(
    runtimeTensors(view, shapes).map((t) => [t.name, t.node]),
    [
      // x is read first by Shape, which is folded; it is used at run time by the Reshape.
      ['x', 'reshape'],
      ['flat', 'reshape'],
      ['y', 'matmul'],
    ],
  );
  const diagnostics: Diagnostic[] = [];
  const plan = planActivations(view, shapes, diagnostics);
  // x 64 B (a graph input, live throughout), flat 64 B and y 12 B: all alive at the MatMul.
  assert.equal(plan.naiveActivationBytes, 64 + 64 + 12);
  assert.equal(plan.lowerBoundBytes, 64 + 64 + 12);
  assert.deepEqual(
    plan.liveAtPeak.map((t) => t.name),
    ['flat', 'x', 'y'],
  );
  assert.deepEqual(diagnostics, []);
});

test('a shape computed from a symbolic dimension is folded too (symbolic dims count as 1)', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 6]);
  const [s] = b.node('Shape', [x], {}, { name: 'shape', outputs: ['s'] });
  const [y] = b.node('Reshape', [x, s], {}, { name: 'reshape', outputs: ['y'] });
  b.output(y);
  const { view, shapes } = analyse(b);
  assert.deepEqual(
    runtimeTensors(view, shapes).map((t) => t.name),
    ['x', 'y'],
  );
});

test('an int64 tensor made from data at run time stays a run-time tensor', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 5]);
  const [idx] = b.node('ArgMax', [x], { axis: 1 }, { name: 'argmax', outputs: ['idx'] });
  b.output(idx);
  const { view, shapes } = analyse(b);
  assert.deepEqual(
    runtimeTensors(view, shapes).map((t) => [t.name, t.dtype, t.node]),
    [
      ['x', DataType.FLOAT, 'argmax'],
      ['idx', DataType.INT64, 'argmax'],
    ],
  );
});

test('values computed from a symbolic shape (a ConstantOfShape) are folded too', () => {
  // An LSTM's zero initial state, as torch exports it: Shape → Gather → Concat → ConstantOfShape.
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, ['batch', 8]);
  const [s] = b.node('Shape', [x], {}, { name: 'shape' });
  const [n] = b.node('Gather', [s, b.ints('zero', [0])], { axis: 0 }, { name: 'gather' });
  const [dims] = b.node('Concat', [n, b.ints('width', [8])], { axis: 0 }, { name: 'concat' });
  const [zeros] = b.node('ConstantOfShape', [dims], {}, { name: 'zeros', outputs: ['zeros'] });
  const [y] = b.node('Add', [x, zeros], {}, { name: 'add', outputs: ['y'] });
  b.output(y);
  const { view, shapes } = analyse(b);
  assert.deepEqual(
    runtimeTensors(view, shapes).map((t) => t.name),
    ['x', 'y'],
  );
});

test('an If on a folded condition whose branches read data is no constant, and what it reads stays live', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 4]);
  b.node('Relu', [x], {}, { name: 'relu', outputs: ['h'] });
  const [s] = b.node('Shape', [x], {}, { name: 'shape' });
  const [n] = b.node('Gather', [s, b.ints('zero', [0], [])], { axis: 0 }, { name: 'gather' });
  const [cond] = b.node('Equal', [n, b.ints('one', [1], [])], {}, { name: 'equal' });
  const branch = (op: string) =>
    subgraph((g) => {
      const [o] = g.node(op, ['h'], {}, { name: `${op}_in_branch`, outputs: [`${op}_out`] });
      g.output(o, DataType.FLOAT, [1, 4]);
    }, op);
  const [y] = b.node(
    'If',
    [cond],
    { then_branch: branch('Neg'), else_branch: branch('Abs') },
    { name: 'if', outputs: ['y'] },
  );
  b.output(y);
  const { view, shapes } = analyse(b);
  assert.deepEqual(
    runtimeTensors(view, shapes).map((t) => t.name),
    ['x', 'h', 'y'],
  );
  const plan = planActivations(view, shapes, []);
  // x and y (graph input and output) and h, which the If's branches read: 16 B each, every step.
  assert.deepEqual(plan.liveBytesPerStep, [48, 48, 48, 48, 48]);
});
