import { test } from 'node:test';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder, assertError, assertNoDiagnostics, assertType, infer } from './nn-harness';

const F = DataType.FLOAT;

test('Conv: strides and pads give floor((H + pads − k) / s) + 1', () => {
  const b = new ModelBuilder();
  const [y] = b.node('Conv', [b.input('x', F, [1, 3, 32, 32]), b.weight('w', [16, 3, 3, 3])], {
    pads: [1, 1, 1, 1],
    strides: [2, 2],
  });
  const r = infer(b);
  assertNoDiagnostics(r);
  assertType(r, y, F, [1, 16, 16, 16]);
});

test('Conv: dilations widen the kernel span, asymmetric pads add up per axis', () => {
  const b = new ModelBuilder();
  const [y] = b.node('Conv', [b.input('x', F, [2, 3, 10, 11]), b.weight('w', [8, 3, 3, 3])], {
    dilations: [2, 1],
    pads: [0, 0, 1, 2],
  });
  // H: 10 + 1 − 5 + 1 = 7; W: 11 + 2 − 3 + 1 = 11
  assertType(infer(b), y, F, [2, 8, 7, 11]);
});

test('Conv: a symbolic batch and spatial size stay symbolic', () => {
  const b = new ModelBuilder();
  const w = b.weight('w', [16, 3, 3, 3]);
  const [same] = b.node('Conv', [b.input('x', F, ['N', 3, 'H', 'W']), w], { pads: [1, 1, 1, 1] });
  const [strided] = b.node('Conv', ['x', w], { strides: [2, 2] });
  const r = infer(b);
  assertType(r, same, F, ['N', 16, 'H', 'W']);
  assertType(r, strided, F, ['N', 16, '((H-3)/2)+1', '((W-3)/2)+1']);
});

test('Conv: auto_pad SAME_UPPER is ceil(H / stride), VALID drops the remainder', () => {
  const b = new ModelBuilder();
  const w = b.weight('w', [4, 3, 3, 3]);
  b.input('x', F, ['N', 3, 15, 15]);
  const [same] = b.node('Conv', ['x', w], { auto_pad: 'SAME_UPPER', strides: [2, 2] });
  const [lower] = b.node('Conv', ['x', w], { auto_pad: 'SAME_LOWER', strides: [1, 1] });
  const [valid] = b.node('Conv', ['x', w], { auto_pad: 'VALID', strides: [2, 2] });
  const r = infer(b);
  assertType(r, same, F, ['N', 4, 8, 8]);
  assertType(r, lower, F, ['N', 4, 15, 15]);
  assertType(r, valid, F, ['N', 4, 7, 7]);
});

test('Conv: 1-D and 3-D convolutions', () => {
  const b = new ModelBuilder();
  const [y1] = b.node('Conv', [b.input('a', F, [1, 4, 100]), b.weight('w1', [8, 4, 5])], {
    strides: [3],
  });
  const [y3] = b.node(
    'Conv',
    [b.input('v', F, [1, 2, 8, 16, 16]), b.weight('w3', [6, 2, 3, 3, 3])],
    {
      pads: [1, 1, 1, 1, 1, 1],
    },
  );
  const r = infer(b);
  assertType(r, y1, F, [1, 8, 32]);
  assertType(r, y3, F, [1, 6, 8, 16, 16]);
});

test('Conv: depthwise group convolution', () => {
  const b = new ModelBuilder();
  const [y] = b.node('Conv', [b.input('x', F, [1, 32, 8, 8]), b.weight('w', [32, 1, 3, 3])], {
    group: 32,
  });
  assertType(infer(b), y, F, [1, 32, 6, 6]);
});

test('Conv: a channel mismatch is an error naming both counts', () => {
  const b = new ModelBuilder();
  b.node('Conv', [b.input('x', F, [1, 16, 8, 8]), b.weight('w', [8, 3, 3, 3])]);
  assertError(infer(b), /input has 16 channels, weight expects 3×1/);
});

test('Conv: a kernel larger than the padded input is an error', () => {
  const b = new ModelBuilder();
  b.node('Conv', [b.input('x', F, [1, 3, 2, 2]), b.weight('w', [8, 3, 3, 3])]);
  assertError(infer(b), /kernel span 3 is larger than the padded input 2/);
});

test('Conv: unknown input shape keeps the rank from the weight, with M known', () => {
  const b = new ModelBuilder();
  const [y] = b.node('Conv', [b.input('x', F), b.weight('w', [8, 3, 3, 3])], {}, { name: 'c' });
  assertType(infer(b), y, F, ['c_N', 8, 'c_d0', 'c_d1']);
});

test('ConvInteger is int32; QLinearConv takes y_zero_point’s type', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.UINT8, [1, 3, 8, 8]);
  const w = b.initializer('w', DataType.UINT8, [4, 3, 3, 3]);
  const [ci] = b.node('ConvInteger', [x, w]);
  const scale = b.initializer('s', F, [], [0.1]);
  const zp = b.initializer('zp', DataType.UINT8, [], [0]);
  const [q] = b.node('QLinearConv', [x, scale, zp, w, scale, zp, scale, zp], {
    pads: [1, 1, 1, 1],
  });
  const r = infer(b);
  assertType(r, ci, DataType.INT32, [1, 4, 6, 6]);
  assertType(r, q, DataType.UINT8, [1, 4, 8, 8]);
});

test('ConvTranspose: stride·(H−1) + k − pads, with group and output_padding', () => {
  const b = new ModelBuilder();
  b.input('x', F, [1, 8, 16, 16]);
  const [y] = b.node('ConvTranspose', ['x', b.weight('w', [8, 4, 4, 4])], {
    strides: [2, 2],
    pads: [1, 1, 1, 1],
  });
  const [g] = b.node('ConvTranspose', ['x', b.weight('wg', [8, 2, 3, 3])], {
    group: 2,
    strides: [2, 2],
    output_padding: [1, 0],
  });
  const r = infer(b);
  assertType(r, y, F, [1, 4, 32, 32]);
  // H: 2·15 + 1 + 3 = 34; W: 2·15 + 3 = 33
  assertType(r, g, F, [1, 4, 34, 33]);
});

test('ConvTranspose: output_shape wins; SAME is H·stride; symbolic H doubles', () => {
  const b = new ModelBuilder();
  b.input('x', F, ['N', 8, 'H', 10]);
  const w = b.weight('w', [8, 4, 3, 3]);
  const [explicit] = b.node('ConvTranspose', ['x', w], { strides: [2, 2], output_shape: [21, 21] });
  const [same] = b.node('ConvTranspose', ['x', w], { strides: [2, 2], auto_pad: 'SAME_UPPER' });
  const [plain] = b.node('ConvTranspose', ['x', w], {
    strides: [2, 2],
    pads: [1, 1, 1, 1],
    output_padding: [1, 1],
  });
  const r = infer(b);
  assertType(r, explicit, F, ['N', 4, 21, 21]);
  assertType(r, same, F, ['N', 4, '2*H', 20]);
  assertType(r, plain, F, ['N', 4, '2*H', 20]);
});

test('ConvTranspose: input channels must match weight dim 0', () => {
  const b = new ModelBuilder();
  b.node('ConvTranspose', [b.input('x', F, [1, 6, 4, 4]), b.weight('w', [8, 4, 3, 3])]);
  assertError(infer(b), /input channels vs weight dim 0: 6 vs 8/);
});

test('DeformConv follows Conv arithmetic', () => {
  const b = new ModelBuilder();
  const x = b.input('x', F, [2, 4, 10, 10]);
  const off = b.input('off', F, [2, 18, 10, 10]);
  const [y] = b.node('DeformConv', [x, b.weight('w', [6, 4, 3, 3]), off], { pads: [1, 1, 1, 1] });
  assertType(infer(b), y, F, [2, 6, 10, 10]);
});

test('Col2Im: [N, C·∏block, L] → [N, C, image_shape…] from constant inputs', () => {
  const b = new ModelBuilder({ opset: 18 });
  const x = b.input('x', F, [1, 20, 16]);
  const [y] = b.node('Col2Im', [x, b.ints('image', [5, 5]), b.ints('block', [2, 2])]);
  assertType(infer(b), y, F, [1, 5, 5, 5]);
});

test('Col2Im: a runtime image_shape leaves named spatial dims', () => {
  const b = new ModelBuilder({ opset: 18 });
  const [y] = b.node(
    'Col2Im',
    [b.input('x', F, [1, 12, 9]), b.input('img', DataType.INT64, [2]), b.ints('block', [2, 3])],
    {},
    { name: 'c2i' },
  );
  assertType(infer(b), y, F, [1, 2, 'c2i_d0', 'c2i_d1']);
});
