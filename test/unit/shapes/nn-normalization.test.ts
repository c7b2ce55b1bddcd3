import { test } from 'node:test';
import { DataType } from '../../../src/core/onnx/types';
import { float } from '../../helpers/modelBuilder';
import { ModelBuilder, assertError, assertType, infer } from './nn-harness';

const F = DataType.FLOAT;

test('BatchNormalization: Y like X; training outputs are per-channel [C]', () => {
  const b = new ModelBuilder({ opset: 15 });
  const x = b.input('x', F, ['N', 16, 8, 8]);
  const params = ['s', 'b', 'm', 'v'].map((n) => b.weight(n, [16]));
  const [y, rm, rv] = b.node(
    'BatchNormalization',
    [x, ...params],
    { training_mode: 1 },
    { outputs: 3 },
  );
  const r = infer(b);
  assertType(r, y, F, ['N', 16, 8, 8]);
  assertType(r, rm, F, [16]);
  assertType(r, rv, F, [16]);
});

test('BatchNormalization: a scale of the wrong length is an error', () => {
  const b = new ModelBuilder();
  const x = b.input('x', F, [1, 16, 8, 8]);
  b.node('BatchNormalization', [
    x,
    b.weight('s', [8]),
    b.weight('b', [16]),
    b.weight('m', [16]),
    b.weight('v', [16]),
  ]);
  assertError(infer(b), /input 1 length vs input channels: 16 vs 8/);
});

test('LayerNormalization: Mean/InvStdDev keep the leading dims and use stash_type', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT16, ['N', 'S', 768]);
  const s = b.initializer('g', DataType.FLOAT16, [768]);
  const [y, mean, inv] = b.node(
    'LayerNormalization',
    [x, s],
    { epsilon: float(1e-5) },
    { outputs: 3 },
  );
  const [y1, mean1] = b.node(
    'LayerNormalization',
    [x, b.initializer('g2', DataType.FLOAT16, [4, 768])],
    { axis: 1 },
    { outputs: 2 },
  );
  const r = infer(b);
  assertType(r, y, DataType.FLOAT16, ['N', 'S', 768]);
  assertType(r, mean, F, ['N', 'S', 1]);
  assertType(r, inv, F, ['N', 'S', 1]);
  assertType(r, y1, DataType.FLOAT16, ['N', 'S', 768]);
  assertType(r, mean1, F, ['N', 1, 1]);
});

test('GroupNormalization: channels must split into num_groups', () => {
  const b = new ModelBuilder({ opset: 21 });
  const x = b.input('x', F, [1, 6, 4, 4]);
  b.node('GroupNormalization', [x, b.weight('s', [6]), b.weight('b', [6])], { num_groups: 4 });
  assertError(infer(b), /6 channels do not split into 4 groups/);
  const c = new ModelBuilder({ opset: 21 });
  const [y] = c.node(
    'GroupNormalization',
    [c.input('x', F, ['N', 6, 4, 4]), c.weight('s', [6]), c.weight('b', [6])],
    {
      num_groups: 3,
    },
  );
  assertType(infer(c), y, F, ['N', 6, 4, 4]);
});

test('RMSNormalization (opset 23): Y takes the scale’s type', () => {
  const b = new ModelBuilder({ opset: 23 });
  const [y] = b.node('RMSNormalization', [
    b.input('x', F, ['B', 'S', 64]),
    b.initializer('g', DataType.FLOAT16, [64]),
  ]);
  assertType(infer(b), y, DataType.FLOAT16, ['B', 'S', 64]);
});

test('InstanceNormalization, LpNormalization, MeanVarianceNormalization and LRN keep X', () => {
  const b = new ModelBuilder();
  const x = b.input('x', F, ['N', 4, 5, 5]);
  const outs = [
    b.node('InstanceNormalization', [x, b.weight('s', [4]), b.weight('b', [4])])[0],
    b.node('LpNormalization', [x], { axis: 1 })[0],
    b.node('MeanVarianceNormalization', [x])[0],
    b.node('LRN', [x], { size: 3 })[0],
  ];
  const r = infer(b);
  for (const o of outs) assertType(r, o, F, ['N', 4, 5, 5]);
});

test('Dropout: mask is bool from opset 10, X’s type before', () => {
  const b = new ModelBuilder({ opset: 13 });
  const [y, mask] = b.node('Dropout', [b.input('x', F, ['N', 10])], {}, { outputs: 2 });
  const r = infer(b);
  assertType(r, y, F, ['N', 10]);
  assertType(r, mask, DataType.BOOL, ['N', 10]);
  const old = new ModelBuilder({ opset: 7 });
  const [, m7] = old.node('Dropout', [old.input('x', F, [3])], {}, { outputs: 2 });
  assertType(infer(old), m7, F, [3]);
});
