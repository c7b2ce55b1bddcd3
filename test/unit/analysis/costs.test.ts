import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeLoaded, bitOperations, type AnalysisReport } from '../../../src/core/analyze';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder, float, makeTensor, subgraph } from '../../helpers/modelBuilder';

function node(report: AnalysisReport, name: string) {
  const n = report.nodes.find((x) => x.name === name);
  assert.ok(n, `node ${name} in report`);
  return n;
}

test('Conv MACs = output elements × Cin/groups × kH × kW, FLOPs add the bias', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [y] = b.node(
    'Conv',
    [x, b.weight('w', [4, 3, 3, 3]), b.weight('bias', [4])],
    { pads: [1, 1, 1, 1] },
    { name: 'conv' },
  );
  b.output(y);
  const r = analyzeLoaded(b.load());
  const conv = node(r, 'conv');
  // Output 1×4×8×8 = 256 elements, each 3·3·3 = 27 MACs.
  assert.equal(conv.macs, 256 * 27);
  assert.equal(conv.flops, 2 * 256 * 27 + 256);
  assert.equal(conv.params, 4 * 27 + 4);
  assert.equal(conv.weightBytes, (4 * 27 + 4) * 4);
  // Input 3·64 floats + output 256 floats.
  assert.equal(conv.activationBytes, (192 + 256) * 4);
  const noBias = analyzeLoaded(b.load(), { countBiasFlops: false });
  assert.equal(node(noBias, 'conv').flops, 2 * 256 * 27);
});

test('depthwise and strided convs divide by groups', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 8, 8, 8]);
  const [y] = b.node(
    'Conv',
    [x, b.weight('dw', [8, 1, 3, 3])],
    { group: 8, pads: [1, 1, 1, 1], strides: [2, 2] },
    { name: 'dw' },
  );
  b.output(y);
  // Output 1×8×4×4 = 128 elements × 9.
  assert.equal(node(analyzeLoaded(b.load()), 'dw').macs, 128 * 9);
});

test('ConvTranspose MACs = input elements × Cout/groups × kH × kW', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 4, 5, 5]);
  const [y] = b.node(
    'ConvTranspose',
    [x, b.weight('w', [4, 2, 3, 3])],
    { strides: [2, 2] },
    { name: 'up' },
  );
  b.output(y);
  assert.equal(node(analyzeLoaded(b.load()), 'up').macs, 100 * 2 * 9);
});

test('Gemm with transB and attention-style MatMul count M×N×K with batch dims', () => {
  const b = new ModelBuilder();
  const a = b.input('a', DataType.FLOAT, [2, 16]);
  const [g] = b.node(
    'Gemm',
    [a, b.weight('B', [10, 16]), b.weight('C', [10])],
    { transB: 1 },
    { name: 'fc' },
  );
  const q = b.input('q', DataType.FLOAT, [1, 4, 16, 8]);
  const k = b.input('k', DataType.FLOAT, [1, 4, 8, 16]);
  const [s] = b.node('MatMul', [q, k], {}, { name: 'scores' });
  b.output(g);
  b.output(s);
  const r = analyzeLoaded(b.load());
  assert.equal(node(r, 'fc').macs, 2 * 10 * 16);
  // [1,4,16,16] outputs, each a dot product of length 8; no weights in an activation MatMul.
  assert.equal(node(r, 'scores').macs, 1024 * 8);
  assert.equal(node(r, 'scores').params, 0);
});

test('LSTM MACs include the sequence length and both directions', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [5, 2, 10]);
  const [y] = b.node(
    'LSTM',
    [x, b.weight('W', [2, 80, 10]), b.weight('R', [2, 80, 20]), b.weight('B', [2, 160])],
    { hidden_size: 20, direction: 'bidirectional' },
    { name: 'lstm', outputs: 3 },
  );
  b.output(y);
  // gates 4 × hidden 20 × (input 10 + hidden 20) × seq 5 × directions 2 × batch 2.
  assert.equal(node(analyzeLoaded(b.load()), 'lstm').macs, 4 * 20 * 30 * 5 * 2 * 2);
});

test('a weight shared through Identity counts once in the totals', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 16]);
  const w = b.weight('shared', [16, 16]);
  const [w2] = b.node('Identity', [w], {}, { name: 'id' });
  const [h] = b.node('MatMul', [x, w], {}, { name: 'mm1' });
  const [y] = b.node('MatMul', [h, w2], {}, { name: 'mm2' });
  b.output(y);
  const r = analyzeLoaded(b.load());
  assert.equal(node(r, 'mm1').params, 256);
  assert.equal(node(r, 'mm2').params, 256);
  assert.equal(r.totals.params, 256);
  assert.equal(r.totals.weightBytes, 1024);
});

test('Clip bounds and Reshape shapes are not parameters; a bias vector in Add is', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 8]);
  const [lo] = b.node(
    'Constant',
    [],
    { value: makeTensor('lo', DataType.FLOAT, [], [0]) },
    { name: 'lo' },
  );
  const [hi] = b.node(
    'Constant',
    [],
    { value: makeTensor('hi', DataType.FLOAT, [], [6]) },
    { name: 'hi' },
  );
  const [c] = b.node('Clip', [x, lo, hi], {}, { name: 'relu6' });
  const [a] = b.node('Add', [c, b.weight('bias', [8])], {}, { name: 'add' });
  const [s] = b.node(
    'Mul',
    [a, b.initializer('half', DataType.FLOAT, [], [0.5])],
    {},
    { name: 'scale' },
  );
  const [r2] = b.node('Reshape', [s, b.ints('shape', [2, 4])], {}, { name: 'reshape' });
  b.output(r2);
  const r = analyzeLoaded(b.load());
  assert.equal(r.totals.params, 8);
  assert.equal(node(r, 'relu6').params, 0);
  assert.equal(node(r, 'reshape').params, 0);
});

test('a quantized weight counts at its stored precision plus its scales', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 4, 4, 4]);
  const q = b.initializer(
    'w_q',
    DataType.INT8,
    [8, 4, 1, 1],
    Array.from({ length: 32 }, (_, i) => i - 16),
  );
  const scale = b.initializer('w_scale', DataType.FLOAT, [8], Array(8).fill(0.1));
  const zp = b.initializer('w_zp', DataType.INT8, [8], Array(8).fill(0));
  const [w] = b.node('DequantizeLinear', [q, scale, zp], { axis: 0 }, { name: 'dq' });
  const [y] = b.node('Conv', [x, w], {}, { name: 'conv' });
  b.output(y);
  const r = analyzeLoaded(b.load());
  const conv = node(r, 'conv');
  assert.equal(conv.params, 32);
  assert.equal(conv.weightBytes, 32 + 8 * 4 + 8);
  assert.equal(conv.weightBits, 8);
  assert.equal(r.totals.params, 32);
});

test('BOPs follow Baskin et al.: MACs × (b_a·b_w + b_a + b_w + log2(n·k²))', () => {
  assert.equal(bitOperations(100, 27 * 1, 8, 8), 100 * (64 + 16 + Math.log2(27)));
  assert.equal(bitOperations(0, 27, 8, 8), 0);
});

test('a symbolic batch counts as 1 and says so; --input fixes it', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, ['N', 16]);
  const [y] = b.node('Gemm', [x, b.weight('B', [16, 4])], {}, { name: 'fc' });
  b.output(y);
  const r = analyzeLoaded(b.load());
  assert.equal(r.totals.macs, 64);
  assert.deepEqual(r.symbolicDims, ['N']);
  assert.ok(
    r.diagnostics.some((d) => d.severity === 'info' && d.message.includes("'N' counted as 1")),
  );
  assert.deepEqual(node(r, 'fc').outputs[0].shape, ['N', 4]);
  const fixed = analyzeLoaded(b.load(), { inputShapes: new Map([['x', [8, 16]]]) });
  assert.equal(fixed.totals.macs, 8 * 64);
  assert.deepEqual(fixed.symbolicDims, []);
});

test('an unknown op is named in a diagnostic and the rest is still analysed', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 16]);
  const [h] = b.node('Gemm', [x, b.weight('B', [16, 16])], {}, { name: 'fc1' });
  const [u] = b.node('MysteryOp', [h], {}, { name: 'mystery', domain: 'com.example' });
  const [y] = b.node('Gemm', [u, b.weight('B2', [16, 4])], {}, { name: 'fc2' });
  b.output(y);
  const r = analyzeLoaded(b.load());
  assert.equal(node(r, 'fc1').macs, 256);
  assert.ok(r.diagnostics.some((d) => d.node === 'mystery' && d.message.includes('MysteryOp')));
  assert.equal(r.totals.params, 256 + 64);
});

test('LayerNormalization epsilon attributes decode as floats', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 4, 8]);
  const [y] = b.node(
    'LayerNormalization',
    [x, b.weight('g', [8]), b.weight('beta', [8])],
    { axis: -1, epsilon: float(1) },
    { name: 'ln' },
  );
  b.output(y);
  const r = analyzeLoaded(b.load());
  assert.equal(node(r, 'ln').params, 16);
  assert.deepEqual(node(r, 'ln').outputs[0].shape, [1, 4, 8]);
});

test("an unknown op's output takes the exporter's declared shape, so later layers are costed", () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 16]);
  const [u] = b.node(
    'Mystery',
    [x],
    {},
    { name: 'mystery', domain: 'com.example', outputs: ['u'] },
  );
  const [y] = b.node('Gemm', [u, b.weight('B', [32, 4])], {}, { name: 'fc', outputs: ['y'] });
  b.output(y);
  b.declare('u', DataType.FLOAT, [1, 32]);
  const r = analyzeLoaded(b.load());
  assert.deepEqual(node(r, 'mystery').outputs[0].shape, [1, 32]);
  assert.equal(node(r, 'fc').macs, 32 * 4);
});

function loopModel(tripCount: number | undefined): ModelBuilder {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 8]);
  const w = b.weight('W', [8, 8]);
  const m =
    tripCount === undefined ? b.input('M', DataType.INT64, []) : b.ints('M', [tripCount], []);
  const cond = b.initializer('cond', DataType.BOOL, [], [1]);
  const body = subgraph((g) => {
    g.input('i', DataType.INT64, []);
    g.input('c', DataType.BOOL, []);
    g.input('h', DataType.FLOAT, [1, 8]);
    const [c2] = g.node('Identity', ['c'], {}, { name: 'keep_going', outputs: ['c_out'] });
    const [h2] = g.node('MatMul', ['h', w], {}, { name: 'cell', outputs: ['h_out'] });
    g.output(c2, DataType.BOOL, []);
    g.output(h2, DataType.FLOAT, [1, 8]);
  });
  const [y] = b.node('Loop', [m, cond, x], { body }, { name: 'loop' });
  b.output(y);
  return b;
}

test('a Loop costs its body times a known trip count, and its body weights are its own', () => {
  const r = analyzeLoaded(loopModel(10).load());
  // The body MatMul is 1×8 · 8×8 = 64 MACs per iteration.
  assert.equal(node(r, 'loop').macs, 64 * 10);
  assert.equal(node(r, 'loop').params, 64);
  assert.equal(r.totals.params, 64);
});

test('a Loop whose trip count is run-time data counts its body once and says so', () => {
  const r = analyzeLoaded(loopModel(undefined).load());
  assert.equal(node(r, 'loop').macs, 64);
  assert.ok(r.diagnostics.some((d) => d.node === 'loop' && d.message.includes('counted once')));
});

test('an If costs its costlier branch but stores the weights of both', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 8]);
  const flag = b.input('flag', DataType.BOOL, []);
  const big = b.weight('big', [8, 16]);
  const small = b.weight('small', [8, 4]);
  const branch = (w: string, n: number, name: string) =>
    subgraph((g) => {
      const [o] = g.node('MatMul', [x, w], {}, { name: `${name}_mm`, outputs: [`${name}_out`] });
      g.output(o, DataType.FLOAT, [1, n]);
    }, name);
  const [y] = b.node(
    'If',
    [flag],
    { then_branch: branch(big, 16, 'then'), else_branch: branch(small, 4, 'else') },
    { name: 'if' },
  );
  b.output(y);
  const r = analyzeLoaded(b.load());
  assert.equal(node(r, 'if').macs, 8 * 16);
  assert.equal(node(r, 'if').params, 8 * 16 + 8 * 4);
});

test('weight bytes at the suggested width count k bits per weight plus a scale per channel', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 64]);
  const [y] = b.node(
    'Gemm',
    [x, b.weight('W', [32, 64]), b.weight('bias', [32])],
    { transB: 1 },
    { name: 'fc' },
  );
  b.output(y);
  const fc = node(analyzeLoaded(b.load(), { errorTargetDb: 30 }), 'fc');
  // Uniform random weights meet 30 dB at 6 bits (see weightBits.test.ts).
  assert.equal(fc.suggestedWeightBits, 6);
  assert.equal(fc.suggestedWeightBytes, (32 * 64 * 6) / 8 + 32 * 4 + 32 * 4);
  assert.equal(fc.weightBytes, (32 * 64 + 32) * 4);
});
