import { test } from 'node:test';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder, assertError, assertNoDiagnostics, assertType, infer } from './nn-harness';

const F = DataType.FLOAT;

test('MaxPool: floor by default, ceil with ceil_mode; Indices are int64 of the same shape', () => {
  const b = new ModelBuilder();
  b.input('x', F, [1, 3, 32, 32]);
  const [y, idx] = b.node(
    'MaxPool',
    ['x'],
    { kernel_shape: [3, 3], strides: [2, 2] },
    { outputs: 2 },
  );
  const [c] = b.node('MaxPool', ['x'], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 });
  const r = infer(b);
  assertNoDiagnostics(r);
  assertType(r, y, F, [1, 3, 15, 15]);
  assertType(r, idx, DataType.INT64, [1, 3, 15, 15]);
  assertType(r, c, F, [1, 3, 16, 16]);
});

test('MaxPool: ceil_mode drops a window that would start in the right padding', () => {
  const b = new ModelBuilder();
  const [y] = b.node('MaxPool', [b.input('x', F, [1, 1, 2, 2])], {
    kernel_shape: [2, 2],
    strides: [2, 2],
    pads: [0, 0, 1, 1],
    ceil_mode: 1,
  });
  assertType(infer(b), y, F, [1, 1, 1, 1]);
});

test('MaxPool: dilations and auto_pad', () => {
  const b = new ModelBuilder();
  b.input('x', F, [1, 2, 17, 17]);
  const [d] = b.node('MaxPool', ['x'], { kernel_shape: [3, 3], dilations: [2, 2] });
  const [same] = b.node('MaxPool', ['x'], {
    kernel_shape: [3, 3],
    strides: [2, 2],
    auto_pad: 'SAME_LOWER',
  });
  const [valid] = b.node('MaxPool', ['x'], {
    kernel_shape: [3, 3],
    strides: [2, 2],
    auto_pad: 'VALID',
  });
  const r = infer(b);
  assertType(r, d, F, [1, 2, 13, 13]);
  assertType(r, same, F, [1, 2, 9, 9]);
  assertType(r, valid, F, [1, 2, 8, 8]);
});

test('AveragePool: symbolic batch and size stay symbolic', () => {
  const b = new ModelBuilder();
  const [y] = b.node('AveragePool', [b.input('x', F, ['N', 3, 'H', 224])], {
    kernel_shape: [2, 2],
    strides: [2, 2],
  });
  assertType(infer(b), y, F, ['N', 3, '((H-2)/2)+1', 112]);
});

test('LpPool (opset 18) and 1-D AveragePool', () => {
  const b = new ModelBuilder({ opset: 18 });
  const [lp] = b.node('LpPool', [b.input('x', F, [1, 4, 9, 9])], {
    kernel_shape: [2, 2],
    strides: [2, 2],
    ceil_mode: 1,
  });
  const [avg] = b.node('AveragePool', [b.input('s', F, [2, 8, 50])], {
    kernel_shape: [5],
    strides: [5],
  });
  const r = infer(b);
  assertType(r, lp, F, [1, 4, 5, 5]);
  assertType(r, avg, F, [2, 8, 10]);
});

test('pooling without kernel_shape, or with the wrong rank, is an error', () => {
  const b = new ModelBuilder();
  b.node('MaxPool', [b.input('x', F, [1, 3, 8, 8])]);
  assertError(infer(b), /kernel_shape attribute is required/);
  const c = new ModelBuilder();
  c.node('MaxPool', [c.input('x', F, [1, 3, 8, 8])], { kernel_shape: [2] });
  assertError(infer(c), /rank 4, but the kernel has 1 spatial axes/);
});

test('global pooling keeps N and C and sets every spatial dim to 1', () => {
  const b = new ModelBuilder();
  b.input('x', F, ['N', 512, 7, 'W']);
  const [avg] = b.node('GlobalAveragePool', ['x']);
  const [max] = b.node('GlobalMaxPool', [b.input('v', F, [1, 8, 4, 4, 4])]);
  const [lp] = b.node('GlobalLpPool', ['x']);
  const r = infer(b);
  assertType(r, avg, F, ['N', 512, 1, 1]);
  assertType(r, max, F, [1, 8, 1, 1, 1]);
  assertType(r, lp, F, ['N', 512, 1, 1]);
});

test('MaxRoiPool and RoiAlign: [num_rois, C, pooled…]', () => {
  const b = new ModelBuilder();
  b.input('x', F, [1, 256, 14, 14]);
  const [mr] = b.node('MaxRoiPool', ['x', b.input('rois5', F, ['R', 5])], { pooled_shape: [7, 7] });
  const [ra] = b.node(
    'RoiAlign',
    ['x', b.input('rois', F, ['R', 4]), b.input('bi', DataType.INT64, ['R'])],
    {
      output_height: 7,
      output_width: 5,
    },
  );
  const r = infer(b);
  assertType(r, mr, F, ['R', 256, 7, 7]);
  assertType(r, ra, F, ['R', 256, 7, 5]);
});

test('RoiAlign: rois must have 4 columns', () => {
  const b = new ModelBuilder();
  b.node('RoiAlign', [
    b.input('x', F, [1, 8, 4, 4]),
    b.input('rois', F, [3, 5]),
    b.input('bi', DataType.INT64, [3]),
  ]);
  assertError(infer(b), /rois dim 1: 5 vs 4/);
});

test('MaxUnpool: (H−1)·stride + k − pads, or the constant output_shape input', () => {
  const b = new ModelBuilder();
  b.input('x', F, [1, 3, 4, 'W']);
  b.input('i', DataType.INT64, [1, 3, 4, 'W']);
  const [y] = b.node('MaxUnpool', ['x', 'i'], { kernel_shape: [2, 2], strides: [2, 2] });
  const [z] = b.node('MaxUnpool', ['x', 'i', b.ints('os', [1, 3, 9, 9])], {
    kernel_shape: [2, 2],
    strides: [2, 2],
  });
  const r = infer(b);
  assertType(r, y, F, [1, 3, 8, '2*W']);
  assertType(r, z, F, [1, 3, 9, 9]);
});
