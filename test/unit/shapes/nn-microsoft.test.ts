import { test } from 'node:test';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder, assertError, assertNoDiagnostics, assertType, infer } from './nn-harness';

const F = DataType.FLOAT;
const MS = { domain: 'com.microsoft' };

function msBuilder(): ModelBuilder {
  const b = new ModelBuilder();
  b.extraOpsets.push({ domain: 'com.microsoft', version: 1 });
  return b;
}

test('FusedConv and NhwcConv: Conv arithmetic, NHWC layout for NhwcConv', () => {
  const b = msBuilder();
  const w = b.weight('w', [16, 3, 3, 3]);
  const [fc] = b.node(
    'FusedConv',
    [b.input('x', F, ['N', 3, 32, 32]), w],
    { pads: [1, 1, 1, 1], activation: 'Relu' },
    MS,
  );
  const [nc] = b.node('NhwcConv', [b.input('xh', F, ['N', 32, 32, 3]), w], { strides: [2, 2] }, MS);
  const r = infer(b);
  assertNoDiagnostics(r);
  assertType(r, fc, F, ['N', 16, 32, 32]);
  assertType(r, nc, F, ['N', 15, 15, 16]);
});

test('FusedGemm and FusedMatMul (transB, transBatchA)', () => {
  const b = msBuilder();
  const [g] = b.node(
    'FusedGemm',
    [b.input('a', F, ['N', 64]), b.weight('w', [10, 64])],
    { transB: 1 },
    MS,
  );
  const [m] = b.node(
    'FusedMatMul',
    [b.input('p', F, ['B', 4, 8]), b.input('q', F, ['B', 6, 8])],
    { transB: 1 },
    MS,
  );
  // transBatchA: A [M, B, K] is read as [B, M, K]
  const [tb] = b.node(
    'FusedMatMul',
    [b.input('s', F, [5, 'B', 8]), b.input('t', F, ['B', 8, 3])],
    { transBatchA: 1 },
    MS,
  );
  const r = infer(b);
  assertType(r, g, F, ['N', 10]);
  assertType(r, m, F, ['B', 4, 6]);
  assertType(r, tb, F, ['B', 5, 3]);
});

test('SkipLayerNormalization: output, mean, inv_std_var, input_skip_bias_sum', () => {
  const b = msBuilder();
  const x = b.input('x', DataType.FLOAT16, ['B', 'S', 768]);
  const g = b.initializer('g', DataType.FLOAT16, [768]);
  const [y, mean, inv, sum] = b.node(
    'SkipLayerNormalization',
    [x, b.input('skip', DataType.FLOAT16, ['B', 'S', 768]), g, g],
    {},
    { ...MS, outputs: 4 },
  );
  const [s, sInv] = b.node('SimplifiedLayerNormalization', [x, g], {}, { ...MS, outputs: 2 });
  const r = infer(b);
  assertType(r, y, DataType.FLOAT16, ['B', 'S', 768]);
  assertType(r, mean, F, ['B', 'S', 1]);
  assertType(r, inv, F, ['B', 'S', 1]);
  assertType(r, sum, DataType.FLOAT16, ['B', 'S', 768]);
  assertType(r, s, DataType.FLOAT16, ['B', 'S', 768]);
  assertType(r, sInv, F, ['B', 'S', 1]);
});

test('SkipLayerNormalization: skip of a different hidden size is an error', () => {
  const b = msBuilder();
  const g = b.weight('g', [768]);
  b.node(
    'SkipLayerNormalization',
    [b.input('x', F, ['B', 'S', 768]), b.input('skip', F, ['B', 'S', 512]), g, g],
    {},
    MS,
  );
  assertError(infer(b), /skip dim 2 vs input: 768 vs 512/);
});

test('EmbedLayerNormalization: [B, S] ids → [B, S, hidden], int32 mask_index [B]', () => {
  const b = msBuilder();
  const ids = b.input('ids', DataType.INT32, ['B', 'S']);
  const [y, mask] = b.node(
    'EmbedLayerNormalization',
    [
      ids,
      ids,
      b.weight('we', [100, 32]),
      b.weight('pe', [64, 32]),
      b.weight('se', [2, 32]),
      b.weight('g', [32]),
      b.weight('bt', [32]),
    ],
    {},
    { ...MS, outputs: 2 },
  );
  const r = infer(b);
  assertType(r, y, F, ['B', 'S', 32]);
  assertType(r, mask, DataType.INT32, ['B']);
});

test('com.microsoft.Attention: output [B, S, hidden], present [2, B, N, P+S, H]', () => {
  const b = msBuilder();
  const [y, present] = b.node(
    'Attention',
    [
      b.input('x', F, ['B', 'S', 768]),
      b.weight('w', [768, 2304]),
      b.weight('bias', [2304]),
      '',
      b.input('past', F, [2, 'B', 12, 'P', 64]),
    ],
    { num_heads: 12 },
    { ...MS, outputs: 2 },
  );
  const r = infer(b);
  assertType(r, y, F, ['B', 'S', 768]);
  assertType(r, present, F, [2, 'B', 12, 'P+S', 64]);
});

test('MultiHeadAttention: cross attention with past key/value', () => {
  const b = msBuilder();
  const [y, pk, pv] = b.node(
    'MultiHeadAttention',
    [
      b.input('q', F, ['B', 'S', 512]),
      b.input('k', F, ['B', 'L', 512]),
      b.input('v', F, ['B', 'L', 512]),
      '',
      '',
      '',
      b.input('pk', F, ['B', 8, 'P', 64]),
      b.input('pv', F, ['B', 8, 'P', 64]),
    ],
    { num_heads: 8 },
    { ...MS, outputs: 3 },
  );
  const r = infer(b);
  assertType(r, y, F, ['B', 'S', 512]);
  assertType(r, pk, F, ['B', 8, 'P+L', 64]);
  assertType(r, pv, F, ['B', 8, 'P+L', 64]);
});

test('GroupQueryAttention: kv heads in the cache; packed QKV when key is absent', () => {
  const b = msBuilder();
  const [y, pk] = b.node(
    'GroupQueryAttention',
    [
      b.input('q', F, ['B', 'S', 2048]),
      b.input('k', F, ['B', 'S', 512]),
      b.input('v', F, ['B', 'S', 512]),
      b.input('pk', F, ['B', 8, 4096, 64]),
      b.input('pv', F, ['B', 8, 4096, 64]),
      b.input('seqlens', DataType.INT32, ['B']),
      b.input('total', DataType.INT32, []),
    ],
    { num_heads: 32, kv_num_heads: 8 },
    { ...MS, outputs: 3, name: 'gqa' },
  );
  const [packed] = b.node(
    'GroupQueryAttention',
    [b.input('qkv', F, ['B', 'S', 3072])],
    { num_heads: 32, kv_num_heads: 8 },
    MS,
  );
  const r = infer(b);
  assertType(r, y, F, ['B', 'S', 2048]);
  assertType(r, pk, F, ['B', 8, 'gqa_present_seq', 64]);
  assertType(r, packed, F, ['B', 'S', 2048]);
});

test('MatMulNBits: [..., K] → [..., N] from attributes; K must match', () => {
  const b = msBuilder();
  const packed = b.initializer('wq', DataType.UINT8, [4096, 32, 16]);
  const [y] = b.node(
    'MatMulNBits',
    [b.input('a', DataType.FLOAT16, ['B', 'S', 1024]), packed, b.weight('sc', [4096 * 32])],
    { K: 1024, N: 4096, bits: 4, block_size: 32 },
    MS,
  );
  assertType(infer(b), y, DataType.FLOAT16, ['B', 'S', 4096]);
  const e = msBuilder();
  e.node(
    'MatMulNBits',
    [e.input('a', F, ['B', 512]), e.initializer('wq', DataType.UINT8, [8, 16, 16])],
    { K: 1024, N: 8 },
    MS,
  );
  assertError(infer(e), /A last dim vs attribute K: 512 vs 1024/);
});

test('quantized contrib ops: QLinearAdd broadcast, QLinearGlobalAveragePool channels_last, QLinearConv NHWC', () => {
  const b = msBuilder();
  const s = b.initializer('s', F, [], [0.1]);
  const z = b.initializer('z', DataType.UINT8, [], [0]);
  const a = b.input('a', DataType.UINT8, ['N', 8, 4, 4]);
  const [add] = b.node(
    'QLinearAdd',
    [a, s, z, b.input('c', DataType.UINT8, [8, 1, 1]), s, z, s, z],
    {},
    MS,
  );
  const [gap] = b.node(
    'QLinearGlobalAveragePool',
    [b.input('h', DataType.UINT8, ['N', 7, 7, 64]), s, z, s, z],
    { channels_last: 1 },
    MS,
  );
  const w = b.initializer('w', DataType.UINT8, [16, 64, 3, 3]);
  const [conv] = b.node(
    'QLinearConv',
    ['h', s, z, w, s, z, s, z],
    { channels_last: 1, pads: [1, 1, 1, 1] },
    MS,
  );
  const r = infer(b);
  assertType(r, add, DataType.UINT8, ['N', 8, 4, 4]);
  assertType(r, gap, DataType.UINT8, ['N', 1, 1, 64]);
  assertType(r, conv, DataType.UINT8, ['N', 7, 7, 16]);
});

test('BiasSplitGelu halves the hidden size; Gelu family keeps the shape', () => {
  const b = msBuilder();
  const x = b.input('x', F, ['N', 'S', 2560]);
  const [split] = b.node('BiasSplitGelu', [x, b.weight('bias', [2560])], {}, MS);
  const outs = ['Gelu', 'FastGelu', 'QuickGelu'].map((op) => b.node(op, [x], {}, MS)[0]);
  const r = infer(b);
  assertType(r, split, F, ['N', 'S', 1280]);
  for (const o of outs) assertType(r, o, F, ['N', 'S', 2560]);
});
