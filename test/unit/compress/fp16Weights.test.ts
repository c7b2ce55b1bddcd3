/**
 * float16 / bfloat16 weights as compression input (issue 15, part 0): weights stored as float16
 * behind Cast(to=FLOAT), as many exported models ship, or read directly by a float16 Conv, are
 * weights for quantize and prune, and the results run in ONNX Runtime.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import { pruneUnstructured } from '../../../src/core/compress/pruneUnstructured';
import { pruneFilters } from '../../../src/core/compress/pruneStructured';
import * as ort from 'onnxruntime-node';
import { convertFloat } from '../../../src/core/compress/convertFloat';
import { halfTensor, withHalfWeightsLifted } from '../../../src/core/compress/halfWeights';
import { foldBatchNorm } from '../../../src/core/compress/foldBatchNorm';
import { ExternalData } from '../../../src/core/onnx/externalData';
import { analyzeBytes } from '../../../src/core/analyze';
import { BUILTIN_DEVICES, estimateLayer } from '../../../src/core/devices';
import { encodeModel } from '../../../src/core/onnx/encode';
import { decodeModel } from '../../../src/core/onnx/decode';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { defaultOpset } from '../../../src/core/compress/graphEdit';
import { verifyModels } from '../../../src/core/verify';
import { DataType, type Model, type Tensor } from '../../../src/core/onnx/types';
import { ModelBuilder, seededRandom } from '../../helpers/modelBuilder';

const random = seededRandom(5);
const values = (n: number): number[] => Array.from({ length: n }, () => random() * 2 - 1);

/**
 * x → Conv (weight and bias float16, each behind Cast to=FLOAT) → Relu → Flatten → Gemm (weight
 * float16 behind Cast, read by two Casts as a shared weight is) — as fp16-shipped models are.
 */
function castModel(dt: DataType.FLOAT16 | DataType.BFLOAT16 = DataType.FLOAT16): Model {
  const b = new ModelBuilder({ opset: 13 });
  const graph = b.graph();
  const half = (name: string, dims: number[]): string => {
    (graph.initializers as Tensor[]).push(
      halfTensor(name, dt, dims, values(dims.reduce((a, c) => a * c, 1))),
    );
    const [out] = b.node('Cast', [name], { to: DataType.FLOAT }, { name: `${name}_cast` });
    return out;
  };
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [c] = b.node(
    'Conv',
    [x, half('wc', [4, 3, 3, 3]), half('bc', [4])],
    { pads: [1, 1, 1, 1] },
    { name: 'conv' },
  );
  const [r] = b.node('Relu', [c], {}, { name: 'relu' });
  const [f] = b.node('Flatten', [r], {}, { name: 'flatten' });
  const wg = half('wg', [10, 256]);
  const [g] = b.node('Gemm', [f, wg], { transB: 1 }, { name: 'gemm' });
  b.output(g, DataType.FLOAT, [1, 10]);
  return decodeModel(encodeModel({ ...b.build(), graph }));
}

/** The same network converted to compute in float16 (its Conv reads float16 weights directly). */
function fp16Model(): Model {
  const b = new ModelBuilder({ opset: 13, seed: 3 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [c] = b.node(
    'Conv',
    [x, b.weight('wc', [4, 3, 3, 3]), b.weight('bc', [4])],
    {},
    { name: 'conv' },
  );
  const [r] = b.node('Relu', [c], {}, { name: 'relu' });
  b.output(r, DataType.FLOAT, [1, 4, 6, 6]);
  return convertFloat(decodeModel(b.bytes()), { format: 'fp16' }).model;
}

test('quantize int8: a float16 weight behind Cast becomes int8 → DequantizeLinear (float32) in place of the Cast', async () => {
  const model = castModel();
  const { model: q, summary } = quantizeWeights(model, { bits: 8 });
  assert.deepEqual(summary.layersTouched, ['conv', 'gemm']);
  const inits = new Map(q.graph.initializers.map((t) => [t.name, t.dataType]));
  assert.ok(!inits.has('wc') && !inits.has('wg'), 'the float16 weights are gone');
  assert.equal(inits.get('wc_quantized'), DataType.INT8);
  assert.equal(inits.get('wc_scale'), DataType.FLOAT);
  assert.equal(inits.get('bc'), DataType.FLOAT16, 'bias stays as stored');
  const dq = q.graph.nodes.filter((n) => n.opType === 'DequantizeLinear');
  assert.deepEqual(dq.map((n) => n.outputs[0]).sort(), ['wc_cast_out0', 'wg_cast_out0']);
  assert.ok(!q.graph.nodes.some((n) => n.name === 'wc_cast'), 'the Cast is replaced');
  // 1 byte per weight instead of 2, plus scales.
  assert.ok(
    summary.bytesAfter < summary.bytesBefore * 0.6,
    `${summary.bytesBefore} → ${summary.bytesAfter}`,
  );
  const v = await verifyModels(encodeModel(model), encodeModel(q), { samples: 4 });
  assert.ok(v.sqnrDb > 30, `output SQNR ${v.sqnrDb}`);
});

test('quantize int8: bfloat16 weights behind Cast too', async () => {
  const model = castModel(DataType.BFLOAT16);
  const { model: q } = quantizeWeights(model, { bits: 8 });
  assert.equal(q.graph.nodes.filter((n) => n.opType === 'DequantizeLinear').length, 2);
  const v = await verifyModels(encodeModel(model), encodeModel(q), { samples: 4 });
  assert.ok(v.sqnrDb > 30, `output SQNR ${v.sqnrDb}`);
});

test('quantize int8: a float16 Conv reads a float16 DequantizeLinear (float16 scales, opset 19)', async () => {
  const model = fp16Model();
  const { model: q, summary } = quantizeWeights(model, { bits: 8 });
  assert.deepEqual(summary.layersTouched, ['conv']);
  assert.ok(defaultOpset(q) >= 19, `opset ${defaultOpset(q)}`);
  const scale = q.graph.initializers.find((t) => t.name === 'wc_scale');
  assert.equal(scale?.dataType, DataType.FLOAT16);
  const dq = q.graph.nodes.find((n) => n.opType === 'DequantizeLinear');
  assert.equal(dq?.outputs[0], 'wc');
  const v = await verifyModels(encodeModel(model), encodeModel(q), { samples: 4 });
  assert.ok(v.sqnrDb > 30, `output SQNR ${v.sqnrDb}`);
});

test('prune: float16 weights are pruned in place, stay float16, and run', async () => {
  const model = castModel();
  const { model: p, summary } = pruneUnstructured(model, { sparsity: 0.5, scope: 'layer' });
  assert.deepEqual(summary.layersTouched.sort(), ['conv', 'gemm']);
  const wg = p.graph.initializers.find((t) => t.name === 'wg');
  assert.equal(wg?.dataType, DataType.FLOAT16);
  const zeros = tensorNumbers(wg!).filter((v) => v === 0).length;
  assert.ok(Math.abs(zeros / 2560 - 0.5) < 0.01, `${zeros} zeros`);
  const v = await verifyModels(encodeModel(model), encodeModel(p), { samples: 2 });
  assert.ok(v.sqnrDb > 3, `output SQNR ${v.sqnrDb}`);
});

test('analysis: float16 weights count 2 bytes each, and a float16 layer costs fp16 energy', () => {
  const report = analyzeBytes(encodeModel(castModel()));
  const conv = report.nodes.find((n) => n.name === 'conv')!;
  assert.equal(conv.weightBits, 16);
  assert.equal(conv.weightBytes, (4 * 27 + 4) * 2);
  const fp16 = analyzeBytes(encodeModel(fp16Model())).nodes.find((n) => n.name === 'conv')!;
  assert.equal(fp16.activationBits, 16);
  const device = BUILTIN_DEVICES.find((d) => d.macsPerSecond.fp16 !== undefined)!;
  const layer = {
    macs: 1000,
    weightBytes: 0,
    activationBytes: 0,
    weightBits: 16,
    activationBits: 16,
  };
  const e = estimateLayer(device, layer as Parameters<typeof estimateLayer>[1]);
  assert.equal(e.precision, 'fp16');
  assert.ok(Math.abs(e.energyJoules - 1000 * (1.1 + 0.4) * 1e-12) < 1e-18, `${e.energyJoules}`);
});

test('structured pruning: float16 filters behind Cast are removed and stored back as float16', async () => {
  const b = new ModelBuilder({ opset: 13 });
  const graph = b.graph();
  const half = (name: string, dims: number[]): string => {
    const n = dims.reduce((a, c) => a * c, 1);
    (graph.initializers as Tensor[]).push(halfTensor(name, DataType.FLOAT16, dims, values(n)));
    const [out] = b.node('Cast', [name], { to: DataType.FLOAT }, { name: `${name}_cast` });
    return out;
  };
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [c1] = b.node('Conv', [x, half('w1', [8, 3, 3, 3]), half('b1', [8])], {}, { name: 'c1' });
  const [r] = b.node('Relu', [c1], {}, { name: 'relu' });
  const [c2] = b.node('Conv', [r, half('w2', [4, 8, 3, 3])], {}, { name: 'c2' });
  b.output(c2, DataType.FLOAT, [1, 4, 4, 4]);
  const model = decodeModel(encodeModel({ ...b.build(), graph }));
  const { model: p } = pruneFilters(model, { fraction: 0.5, layers: ['c1'] });
  const inits = new Map(p.graph.initializers.map((t) => [t.name, t]));
  assert.equal(inits.get('w1')?.dataType, DataType.FLOAT16);
  assert.deepEqual(inits.get('w1')?.dims, [4, 3, 3, 3]);
  assert.deepEqual(inits.get('w2')?.dims, [4, 4, 3, 3]);
  assert.equal(inits.get('b1')?.dataType, DataType.FLOAT16);
  const session = await ort.InferenceSession.create(encodeModel(p));
  const out = await session.run({
    x: new ort.Tensor('float32', new Float32Array(192), [1, 3, 8, 8]),
  });
  assert.deepEqual(out[session.outputNames[0]].dims, [1, 4, 4, 4]);
  // A model computing in float16 is refused in one line.
  assert.throws(
    () => pruneFilters(fp16Model(), { fraction: 0.5 }),
    /these Convs compute in float16/,
  );
});

test('BatchNorm folding: float16 Conv and BN parameters behind Cast fold, stored back as float16', async () => {
  const b = new ModelBuilder({ opset: 13 });
  const graph = b.graph();
  const half = (name: string, dims: number[], v?: number[]): string => {
    const n = dims.reduce((a, c) => a * c, 1);
    (graph.initializers as Tensor[]).push(halfTensor(name, DataType.FLOAT16, dims, v ?? values(n)));
    const [out] = b.node('Cast', [name], { to: DataType.FLOAT }, { name: `${name}_cast` });
    return out;
  };
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [c] = b.node('Conv', [x, half('w', [4, 3, 3, 3])], {}, { name: 'conv' });
  const bn = [
    half('g', [4]),
    half('beta', [4]),
    half('mu', [4]),
    half('var', [4], [1, 2, 0.5, 1.5]),
  ];
  const [y] = b.node('BatchNormalization', [c, ...bn], {}, { name: 'bn' });
  b.output(y, DataType.FLOAT, [1, 4, 6, 6]);
  const model = decodeModel(encodeModel({ ...b.build(), graph }));
  const folded = withHalfWeightsLifted(model, new ExternalData(undefined), (m) =>
    foldBatchNorm(m, {}),
  );
  assert.ok(!folded.model.graph.nodes.some((n) => n.opType === 'BatchNormalization'));
  const types = new Map(folded.model.graph.initializers.map((t) => [t.name, t.dataType]));
  assert.equal(types.get('w'), DataType.FLOAT16, 'the folded weight is stored back as float16');
  assert.equal(types.get('conv_bias'), DataType.FLOAT, 'the new bias is float32');
  assert.ok(folded.summary.bytesAfter < folded.summary.bytesBefore);
  const v = await verifyModels(encodeModel(model), encodeModel(folded.model), { samples: 2 });
  assert.ok(v.sqnrDb > 45, `output SQNR ${v.sqnrDb}`);
});
