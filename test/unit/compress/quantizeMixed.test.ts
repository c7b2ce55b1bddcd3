/**
 * quantizeWeights' `formatPerLayer`: integer widths and multiplier-free grids in one model, each
 * stored weight on its own format (the fit-to-device plan writes these).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantizeWeights, type QuantizeOptions } from '../../../src/core/compress/quantize';
import { CompressionRefusal } from '../../../src/core/compress/summary';
import { formatCounts, type WeightFormat } from '../../../src/core/compress/weightFormat';
import { analyzeBytes } from '../../../src/core/analyze';
import { quantizedWeightBytes, weightGridOf } from '../../../src/core/cost/nodeFigures';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import { DataType, type Model, type Tensor } from '../../../src/core/onnx/types';
import { verifyModels } from '../../../src/core/verify';
import { ModelBuilder } from '../../helpers/modelBuilder';

/** conv (Conv [4,3,3,3]) → relu → Flatten → gemm (Gemm [16,256], transB) → mm (MatMul [16,10]). */
function smallNet(): Model {
  const b = new ModelBuilder({ opset: 13, seed: 9 });
  const x = b.input('x', DataType.FLOAT, [2, 3, 8, 8]);
  const [c] = b.node(
    'Conv',
    [x, b.weight('wc', [4, 3, 3, 3]), b.weight('bc', [4])],
    { pads: [1, 1, 1, 1] },
    { name: 'conv' },
  );
  const [r] = b.node('Relu', [c], {}, { name: 'relu' });
  const [f] = b.node('Flatten', [r], {}, { name: 'flatten' });
  const [g] = b.node(
    'Gemm',
    [f, b.weight('wg', [16, 256]), b.weight('bg', [16])],
    { transB: 1 },
    { name: 'gemm' },
  );
  const [y] = b.node('MatMul', [g, b.weight('wm', [16, 10])], {}, { name: 'mm' });
  b.output(y, DataType.FLOAT, [2, 10]);
  return decodeModel(b.bytes());
}

function initializer(model: Model, name: string): Tensor {
  const t = model.graph.initializers.find((i) => i.name === name);
  assert.ok(t, `initializer ${name}`);
  return t;
}

const MIXED = new Map<string, WeightFormat>([
  ['conv', { grid: 'ternary' }],
  ['gemm', 4],
  ['mm', { grid: 'pow2', bits: 4 }],
]);

test('formatPerLayer: ternary, int4 and pow2-4 in one model, each stored and marked as its own', async () => {
  const model = smallNet();
  const r = quantizeWeights(model, { bits: 8, formatPerLayer: MIXED });
  assert.deepEqual(r.summary.layersTouched.sort(), ['conv', 'gemm', 'mm']);
  assert.equal(r.summary.operation, 'quantize mixed (1 int4, 1 pow2-4, 1 ternary) per-channel');

  const conv = initializer(r.model, 'wc_quantized');
  assert.equal(conv.dataType, DataType.INT2, 'ternary in int2: the model converts to opset 25');
  assert.deepEqual(weightGridOf(conv.docString), { grid: 'ternary', bits: 2 });
  const gemm = initializer(r.model, 'wg_quantized');
  assert.equal(gemm.dataType, DataType.INT4);
  assert.equal(weightGridOf(gemm.docString), undefined, 'an integer width has no grid marker');
  const mm = initializer(r.model, 'wm_quantized');
  assert.equal(mm.dataType, DataType.INT4);
  assert.deepEqual(weightGridOf(mm.docString), { grid: 'pow2', bits: 4 });

  // Each grid weight is exactly what the model-wide grid path writes for that layer alone.
  const alone = (options: QuantizeOptions, name: string): Tensor =>
    initializer(quantizeWeights(model, options).model, name);
  assert.deepEqual(alone({ bits: 2, grid: 'ternary', layers: ['conv'] }, 'wc_quantized'), conv);
  assert.deepEqual(alone({ bits: 4, grid: 'pow2', layers: ['mm'] }, 'wm_quantized'), mm);
  assert.deepEqual(alone({ bits: 4, layers: ['gemm'] }, 'wg_quantized'), gemm);

  // Notes name what each layer got and how memory counts it.
  const notes = r.summary.notes.join('\n');
  assert.match(notes, /^conv: ternary weights: \{−α, 0, \+α\}/m);
  assert.match(notes, /^mm: power-of-two weights: .*levels 0, ±1 … ±4 \(4-bit\) stored in int4/m);
  assert.match(notes, /opset raised 13 → 25/);

  // The analysis counts each at its logical width plus per-channel scales (and float biases).
  const report = analyzeBytes(encodeModel(r.model), { skipBitHints: true });
  const node = (op: string) => report.nodes.find((n) => n.op === op);
  assert.equal(node('Conv')?.weightBits, 2);
  assert.equal(node('Conv')?.weightBytes, quantizedWeightBytes(108, 4, 2) + 4 * 4);
  assert.equal(node('Gemm')?.weightBytes, quantizedWeightBytes(4096, 16, 4) + 16 * 4);
  assert.equal(node('MatMul')?.weightGrid, 'pow2');
  assert.equal(node('MatMul')?.weightBytes, quantizedWeightBytes(160, 10, 4));

  // ONNX Runtime runs it, with the original output shape.
  const v = await verifyModels(encodeModel(model), encodeModel(r.model), { samples: 2 });
  assert.deepEqual(
    v.outputs,
    model.graph.outputs.map((o) => o.name),
  );
  assert.ok(Number.isFinite(v.sqnrDb) && v.cosine > 0.5, `${v.sqnrDb} dB`);
});

test('formatPerLayer with a default: listed layers take their format, the others `bits`', () => {
  const model = smallNet();
  const r = quantizeWeights(model, {
    bits: 8,
    formatPerLayer: new Map<string, WeightFormat>([['gemm', { grid: 'binary' }]]),
  });
  assert.equal(initializer(r.model, 'wc_quantized').dataType, DataType.INT8);
  assert.equal(initializer(r.model, 'wm_quantized').dataType, DataType.INT8);
  assert.deepEqual(weightGridOf(initializer(r.model, 'wg_quantized').docString), {
    grid: 'binary',
    bits: 1,
  });
  // Odd integer widths keep their own note in a mixed model.
  const odd = quantizeWeights(model, {
    bits: 8,
    formatPerLayer: new Map<string, WeightFormat>([
      ['conv', 6],
      ['gemm', 6],
      ['mm', { grid: 'ternary' }],
    ]),
  });
  const clipped = odd.summary.notes.filter((n) => /6-bit values clipped/.test(n));
  assert.equal(clipped.length, 1);
  assert.equal(formatCounts(MIXED.values()), '1 int4, 1 pow2-4, 1 ternary');
});

test('formatPerLayer refusals name the reason', () => {
  const model = smallNet();
  const refuses = (options: QuantizeOptions, message: RegExp) =>
    assert.throws(
      () => quantizeWeights(model, options),
      (e: unknown) => e instanceof CompressionRefusal && message.test(e.message),
    );
  refuses(
    { bits: 8, bitsPerLayer: new Map([['conv', 4]]), formatPerLayer: new Map([['gemm', 4]]) },
    /bitsPerLayer or formatPerLayer, not both/,
  );
  refuses(
    { bits: 8, grid: 'ternary', bitsPerLayer: new Map([['conv', 4]]) },
    /^ternary weights take no per-layer bits \(formatPerLayer mixes grids and widths\)$/,
  );
  refuses(
    { bits: 8, formatPerLayer: new Map([['conv', { grid: 'pow2', bits: 2 }]]) },
    /^layer 'conv' pow2: 2 bits is out of range \(3 to 8/,
  );
  refuses(
    { bits: 8, formatPerLayer: new Map([['conv', 9]]) },
    /^layer 'conv': 9 bits is out of range \(2 to 8\)$/,
  );
  refuses(
    { bits: 8, formatPerLayer: new Map([['conv', { grid: 'ternary' }]]), symmetric: false },
    /^ternary weights are signed and symmetric$/,
  );
  refuses(
    // A JSON-made map can hold anything: an unknown grid is named.
    { bits: 8, formatPerLayer: new Map([['conv', { grid: 'octal' } as unknown as WeightFormat]]) },
    /^layer 'conv': unknown grid 'octal'/,
  );
  refuses({ bits: 8, formatPerLayer: new Map([['nope', 4]]) }, /^no layer named 'nope'$/);
  refuses(
    { bits: 8, formatPerLayer: new Map([['relu', { grid: 'binary' }]]), layers: ['relu'] },
    /no known weight axis/,
  );
});

test('layers sharing one weight must share its format', () => {
  const b = new ModelBuilder({ opset: 13, seed: 3 });
  const x = b.input('x', DataType.FLOAT, [1, 8]);
  const w = b.weight('ws', [8, 8]);
  const [h] = b.node('MatMul', [x, w], {}, { name: 'mm1' });
  const [y] = b.node('MatMul', [h, w], {}, { name: 'mm2' });
  b.output(y, DataType.FLOAT, [1, 8]);
  const model = decodeModel(b.bytes());
  assert.throws(
    () =>
      quantizeWeights(model, {
        bits: 8,
        formatPerLayer: new Map<string, WeightFormat>([
          ['mm1', { grid: 'ternary' }],
          ['mm2', 2],
        ]),
      }),
    {
      message:
        "layers 'mm1' and 'mm2' share weight 'ws' but need different formats or channel axes",
    },
  );
  const same = quantizeWeights(model, {
    bits: 8,
    formatPerLayer: new Map<string, WeightFormat>([
      ['mm1', { grid: 'ternary' }],
      ['mm2', { grid: 'ternary' }],
    ]),
  });
  assert.match(same.summary.notes.join('\n'), /shared by mm1, mm2: quantized once/);
  assert.match(same.summary.notes.join('\n'), /^mm1, mm2: ternary weights/m);
});
