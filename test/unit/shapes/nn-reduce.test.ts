import { test } from 'node:test';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder, assertError, assertType, infer } from './nn-harness';

const F = DataType.FLOAT;

test('ReduceMean: axes attribute before opset 18', () => {
  const b = new ModelBuilder({ opset: 13 });
  const [y] = b.node('ReduceMean', [b.input('x', F, ['N', 3, 4])], { axes: [1] });
  const [z] = b.node('ReduceMean', ['x'], { axes: [-1], keepdims: 0 });
  const r = infer(b);
  assertType(r, y, F, ['N', 1, 4]);
  assertType(r, z, F, ['N', 3]);
});

test('ReduceMean: axes input from opset 18', () => {
  const b = new ModelBuilder({ opset: 18 });
  const [y] = b.node('ReduceMean', [b.input('x', F, ['N', 3, 4]), b.ints('axes', [-1])], {
    keepdims: 0,
  });
  assertType(infer(b), y, F, ['N', 3]);
});

test('ReduceSum: axes is an input from opset 13, an attribute before', () => {
  const b = new ModelBuilder({ opset: 13 });
  const [y] = b.node('ReduceSum', [b.input('x', F, ['N', 3, 4]), b.ints('axes', [1, 2])], {
    keepdims: 0,
  });
  assertType(infer(b), y, F, ['N']);
  const old = new ModelBuilder({ opset: 11 });
  const [z] = old.node('ReduceSum', [old.input('x', F, ['N', 3, 4])], { axes: [0, 2] });
  assertType(infer(old), z, F, [1, 3, 1]);
});

test('ReduceMax: no axes reduces everything unless noop_with_empty_axes', () => {
  const b = new ModelBuilder({ opset: 18 });
  const x = b.input('x', F, [2, 3, 4]);
  const [all] = b.node('ReduceMax', [x]);
  const [scalar] = b.node('ReduceMax', [x], { keepdims: 0 });
  const [noop] = b.node('ReduceMax', [x], { noop_with_empty_axes: 1 });
  const [empty] = b.node('ReduceMax', [x, b.ints('none', [])], { noop_with_empty_axes: 1 });
  const r = infer(b);
  assertType(r, all, F, [1, 1, 1]);
  assertType(r, scalar, F, []);
  assertType(r, noop, F, [2, 3, 4]);
  assertType(r, empty, F, [2, 3, 4]);
});

test('ReduceL2: runtime axes keep the rank (keepdims) or lose as many dims as axes has', () => {
  const b = new ModelBuilder({ opset: 18 });
  const x = b.input('x', F, [2, 3, 4]);
  const axes = b.input('axes', DataType.INT64, [1]);
  const [kept] = b.node('ReduceL2', [x, axes], {}, { name: 'k' });
  const [dropped] = b.node('ReduceL2', [x, axes], { keepdims: 0 }, { name: 'd' });
  const r = infer(b);
  assertType(r, kept, F, ['k_d0', 'k_d1', 'k_d2']);
  assertType(r, dropped, F, ['d_d0', 'd_d1']);
});

test('Reduce: a repeated or out-of-range axis is an error', () => {
  const b = new ModelBuilder({ opset: 18 });
  b.node('ReduceSum', [b.input('x', F, [2, 3]), b.ints('axes', [1, -1])]);
  assertError(infer(b), /repeat an axis/);
  const c = new ModelBuilder({ opset: 13 });
  c.node('ReduceProd', [c.input('x', F, [2, 3])], { axes: [2] });
  assertError(infer(c), /axes 2 is out of range for rank 2/);
});

test('ArgMax/ArgMin: int64, keepdims and negative axis', () => {
  const b = new ModelBuilder();
  const x = b.input('x', F, ['N', 10, 7]);
  const [a] = b.node('ArgMax', [x], { axis: 1 });
  const [m] = b.node('ArgMin', [x], { axis: -1, keepdims: 0, select_last_index: 1 });
  const r = infer(b);
  assertType(r, a, DataType.INT64, ['N', 1, 7]);
  assertType(r, m, DataType.INT64, ['N', 10]);
});

test('Softmax, LogSoftmax, Hardmax, CumSum keep the shape; a bad axis is an error', () => {
  const b = new ModelBuilder();
  const x = b.input('x', F, ['N', 'S', 30]);
  const outs = [
    b.node('Softmax', [x])[0],
    b.node('LogSoftmax', [x], { axis: 1 })[0],
    b.node('Hardmax', [x])[0],
    b.node('CumSum', [x, b.ints('ax', [1], [])])[0],
  ];
  const r = infer(b);
  for (const o of outs) assertType(r, o, F, ['N', 'S', 30]);
  const e = new ModelBuilder();
  e.node('Softmax', [e.input('x', F, [2, 3])], { axis: 2 });
  assertError(infer(e), /axis 2 is out of range for rank 2/);
});

test('Det: [*, M, M] → [*]; non-square matrices are an error', () => {
  const b = new ModelBuilder();
  const [d] = b.node('Det', [b.input('x', F, ['N', 3, 3])]);
  assertType(infer(b), d, F, ['N']);
  const e = new ModelBuilder();
  e.node('Det', [e.input('x', F, [3, 4])]);
  assertError(infer(e), /square matrices: 3 vs 4/);
});
