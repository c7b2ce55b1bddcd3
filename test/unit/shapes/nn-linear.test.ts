import { test } from 'node:test';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder, assertError, assertNoDiagnostics, assertType, infer } from './nn-harness';

const F = DataType.FLOAT;

test('Gemm: transA/transB pick M, K and N; C broadcasts to [M, N]', () => {
  const b = new ModelBuilder();
  const a = b.input('a', F, ['N', 512]);
  const [y] = b.node('Gemm', [a, b.weight('w', [1000, 512]), b.weight('c', [1000])], { transB: 1 });
  const [t] = b.node('Gemm', [b.input('at', F, [3, 4]), b.weight('w2', [3, 6])], { transA: 1 });
  const r = infer(b);
  assertNoDiagnostics(r);
  assertType(r, y, F, ['N', 1000]);
  assertType(r, t, F, [4, 6]);
});

test('Gemm: mismatched K, or a C that does not broadcast, is an error', () => {
  const b = new ModelBuilder();
  b.node('Gemm', [b.input('a', F, [2, 512]), b.weight('w', [1000, 256])], { transB: 1 });
  assertError(infer(b), /K of A vs K of B\): 512 vs 256/);
  const c = new ModelBuilder();
  c.node('Gemm', [c.input('a', F, [2, 4]), c.weight('w', [4, 5]), c.weight('c', [3])]);
  assertError(infer(c), /C \[3\] does not broadcast to \[2, 5\]/);
});

test('MatMul: attention-style activation × activation with symbolic batch and sequence', () => {
  const b = new ModelBuilder();
  const [scores] = b.node('MatMul', [
    b.input('q', F, ['B', 12, 'S', 64]),
    b.input('kt', F, ['B', 12, 64, 'S']),
  ]);
  const [ctxOut] = b.node('MatMul', [scores, b.input('v', F, ['B', 12, 'S', 64])]);
  const r = infer(b);
  assertType(r, scores, F, ['B', 12, 'S', 'S']);
  assertType(r, ctxOut, F, ['B', 12, 'S', 64]);
});

test('MatMul: 1-D operands are promoted and the added dim removed', () => {
  const b = new ModelBuilder();
  const [vm] = b.node('MatMul', [b.input('v', F, [3]), b.weight('m', [3, 4])]);
  const [mv] = b.node('MatMul', [b.input('t', F, [2, 5, 4]), b.weight('u', [4])]);
  const [dot] = b.node('MatMul', ['v', b.weight('v2', [3])]);
  const r = infer(b);
  assertType(r, vm, F, [4]);
  assertType(r, mv, F, [2, 5]);
  assertType(r, dot, F, []);
});

test('MatMul: batch dims broadcast; inner dims must agree', () => {
  const b = new ModelBuilder();
  const [y] = b.node('MatMul', [b.input('a', F, [1, 5, 3, 4]), b.input('b', F, [7, 1, 4, 2])]);
  const [w] = b.node('MatMul', [b.input('x', F, ['N', 'S', 768]), b.weight('w', [768, 3072])]);
  const r = infer(b);
  assertType(r, y, F, [7, 5, 3, 2]);
  assertType(r, w, F, ['N', 'S', 3072]);
  const e = new ModelBuilder();
  e.node('MatMul', [e.input('a', F, [2, 3]), e.input('b', F, [4, 5])]);
  assertError(infer(e), /inner dimensions differ: \[2, 3\] × \[4, 5\]/);
  const bc = new ModelBuilder();
  bc.node('MatMul', [bc.input('a', F, [2, 3, 4]), bc.input('b', F, [5, 4, 6])]);
  assertError(infer(bc), /do not broadcast/);
});

test('MatMulInteger is int32; QLinearMatMul takes y_zero_point’s type', () => {
  const b = new ModelBuilder();
  const a = b.input('a', DataType.UINT8, ['N', 16]);
  const w = b.initializer('w', DataType.INT8, [16, 8]);
  const [mi] = b.node('MatMulInteger', [a, w]);
  const s = b.initializer('s', F, [], [0.5]);
  const zu = b.initializer('zu', DataType.UINT8, [], [0]);
  const zi = b.initializer('zi', DataType.INT8, [], [0]);
  const [q] = b.node('QLinearMatMul', [a, s, zu, w, s, zi, s, zi]);
  const r = infer(b);
  assertType(r, mi, DataType.INT32, ['N', 8]);
  assertType(r, q, DataType.INT8, ['N', 8]);
});

test('Einsum: explicit, implicit and transposing equations', () => {
  const b = new ModelBuilder();
  const x = b.input('x', F, ['B', 3, 4]);
  const y = b.input('y', F, ['B', 4, 5]);
  const [bmm] = b.node('Einsum', [x, y], { equation: 'bij,bjk->bik' });
  const [implicit] = b.node('Einsum', [b.input('m', F, [2, 3]), b.input('n', F, [3, 7])], {
    equation: 'ij,jk',
  });
  const [tr] = b.node('Einsum', [x], { equation: 'bij -> jib' });
  const [trace] = b.node('Einsum', [b.input('sq', F, [4, 4])], { equation: 'ii->' });
  const r = infer(b);
  assertType(r, bmm, F, ['B', 3, 5]);
  assertType(r, implicit, F, [2, 7]);
  assertType(r, tr, F, [4, 3, 'B']);
  assertType(r, trace, F, []);
});

test('Einsum: ellipsis dims broadcast across operands', () => {
  const b = new ModelBuilder();
  const [y] = b.node('Einsum', [b.input('a', F, [2, 1, 3, 4]), b.input('b', F, [5, 4, 6])], {
    equation: '...ij,...jk->...ik',
  });
  const [imp] = b.node('Einsum', [b.input('c', F, ['N', 'H', 8, 9])], { equation: '...ij' });
  const [mid] = b.node('Einsum', [b.input('d', F, [2, 3, 4, 5])], { equation: 'a...d->da...' });
  const r = infer(b);
  assertType(r, y, F, [2, 5, 3, 6]);
  assertType(r, imp, F, ['N', 'H', 8, 9]);
  assertType(r, mid, F, [5, 2, 3, 4]);
});

test('Einsum: a label bound to two sizes, or a wrong operand count, is an error', () => {
  const b = new ModelBuilder();
  b.node('Einsum', [b.input('a', F, [2, 3]), b.input('b', F, [4, 5])], { equation: 'ij,jk->ik' });
  assertError(infer(b), /label 'j' is 3 in one input and 4 in another/);
  const c = new ModelBuilder();
  c.node('Einsum', [c.input('a', F, [2, 3])], { equation: 'ij,jk->ik' });
  assertError(infer(c), /2 operands but the node has 1 inputs/);
});

test('Attention (opset 23), 4-D: Y, present key/value with past, and the QK output', () => {
  const b = new ModelBuilder({ opset: 23 });
  const q = b.input('q', F, ['B', 8, 'S', 64]);
  const k = b.input('k', F, ['B', 2, 'S', 64]);
  const v = b.input('v', F, ['B', 2, 'S', 32]);
  const pk = b.input('pk', F, ['B', 2, 'P', 64]);
  const pv = b.input('pv', F, ['B', 2, 'P', 32]);
  const [y, presentK, presentV, qk] = b.node(
    'Attention',
    [q, k, v, '', pk, pv],
    {},
    { outputs: 4 },
  );
  const r = infer(b);
  assertNoDiagnostics(r);
  assertType(r, y, F, ['B', 8, 'S', 32]);
  assertType(r, presentK, F, ['B', 2, 'P+S', 64]);
  assertType(r, presentV, F, ['B', 2, 'P+S', 32]);
  assertType(r, qk, F, ['B', 8, 'S', 'P+S']);
});

test('Attention (opset 23), 3-D: heads from q_num_heads / kv_num_heads', () => {
  const b = new ModelBuilder({ opset: 23 });
  const [y, pk] = b.node(
    'Attention',
    [b.input('q', F, [2, 4, 32]), b.input('k', F, [2, 6, 16]), b.input('v', F, [2, 6, 20])],
    { q_num_heads: 4, kv_num_heads: 2 },
    { outputs: 2 },
  );
  const r = infer(b);
  assertType(r, y, F, [2, 4, 40]);
  assertType(r, pk, F, [2, 2, 6, 8]);
  const e = new ModelBuilder({ opset: 23 });
  e.node(
    'Attention',
    [e.input('q', F, [2, 4, 30]), e.input('k', F, [2, 6, 16]), e.input('v', F, [2, 6, 16])],
    {
      q_num_heads: 4,
      kv_num_heads: 2,
    },
  );
  assertError(infer(e), /Q hidden size 30 is not divisible by 4 heads/);
});

test('RotaryEmbedding keeps X; a 3-D X needs num_heads', () => {
  const b = new ModelBuilder({ opset: 23 });
  const cos = b.weight('cos', [128, 32]);
  const [y] = b.node(
    'RotaryEmbedding',
    [b.input('x', F, ['B', 'S', 512]), cos, cos, b.input('pos', DataType.INT64, ['B', 'S'])],
    {
      num_heads: 8,
    },
  );
  assertType(infer(b), y, F, ['B', 'S', 512]);
  const e = new ModelBuilder({ opset: 23 });
  const c2 = e.weight('cos', [128, 32]);
  e.node('RotaryEmbedding', [e.input('x', F, ['B', 'S', 512]), c2, c2]);
  assertError(infer(e), /number of heads must be given/);
});
