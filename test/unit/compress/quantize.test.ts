import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { quantizeWeights, type QuantizeOptions } from '../../../src/core/compress/quantize';
import { analyzeBytes } from '../../../src/core/analyze';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { ModelBuilder, makeTensor, seededRandom } from '../../helpers/modelBuilder';

/**
 * Conv (weight from a Constant node, float bias) → Relu → Flatten → Gemm (transB) → two MatMuls
 * sharing one weight through Identity nodes, as exporters emit tied weights.
 */
function smallModel(opset = 13): Model {
  const b = new ModelBuilder({ opset, seed: 7 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const random = seededRandom(3);
  const wc = Array.from({ length: 4 * 3 * 3 * 3 }, () => random() * 2 - 1);
  b.node(
    'Constant',
    [],
    { value: makeTensor('wc', DataType.FLOAT, [4, 3, 3, 3], wc) },
    { name: 'wc_const', outputs: ['wc'] },
  );
  const bc = b.weight('bc', [4]);
  const [c] = b.node('Conv', [x, 'wc', bc], { pads: [1, 1, 1, 1] }, { name: 'conv' });
  const [r] = b.node('Relu', [c], {}, { name: 'relu' });
  const [f] = b.node('Flatten', [r], {}, { name: 'flatten' });
  const gemmInputs = [f, b.weight('wg', [10, 256]), b.weight('bg', [10])];
  const [g] = b.node('Gemm', gemmInputs, { transB: 1 }, { name: 'gemm' });
  const ws = b.weight('ws', [10, 10]);
  const [i1] = b.node('Identity', [ws], {}, { name: 'id1' });
  const [i2] = b.node('Identity', [ws], {}, { name: 'id2' });
  const [m1] = b.node('MatMul', [g, i1], {}, { name: 'mm1' });
  const [y] = b.node('MatMul', [m1, i2], {}, { name: 'mm2' });
  b.output(y, DataType.FLOAT, [1, 10]);
  return decodeModel(b.bytes());
}

async function run(model: Model): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  const random = seededRandom(11);
  const x = Float32Array.from({ length: 3 * 64 }, () => random() * 2 - 1);
  const out = await session.run({ x: new ort.Tensor('float32', x, [1, 3, 8, 8]) });
  const y = out[session.outputNames[0]];
  return { data: y.data as Float32Array, dims: y.dims };
}

function sqnrDb(reference: Float32Array, actual: Float32Array): number {
  let signal = 0;
  let noise = 0;
  reference.forEach((v, i) => {
    signal += v * v;
    noise += (v - actual[i]) ** 2;
  });
  return 10 * Math.log10(signal / noise);
}

test('int8 per-channel: quantized initializers feed DequantizeLinear with the right axes', async () => {
  const model = smallModel();
  const { model: q, summary } = quantizeWeights(model, { bits: 8 });
  assert.equal(summary.operation, 'quantize int8 per-channel');
  assert.deepEqual(summary.layersTouched, ['conv', 'gemm', 'mm1', 'mm2']);
  assert.ok(summary.notes.includes('bias kept as float32 (its scale is s_w·s_x)'));
  assert.ok(summary.notes.some((n) => n.startsWith("weight 'ws' is shared by mm1, mm2")));
  const dqs = q.graph.nodes.filter((n) => n.opType === 'DequantizeLinear');
  const axes = Object.fromEntries(dqs.map((n) => [n.outputs[0], n.attributes[0].i]));
  assert.deepEqual(axes, { wc: 0, wg: 0, ws: 1 }, 'Conv 0, Gemm transB=1 → 0, MatMul [K,N] → 1');
  // The Constant node became the DequantizeLinear; float weights are gone; biases stay float.
  assert.ok(!q.graph.nodes.some((n) => n.opType === 'Constant'));
  const inits = new Map(q.graph.initializers.map((t) => [t.name, t.dataType]));
  assert.ok(!inits.has('wg') && !inits.has('ws'));
  assert.equal(inits.get('wg_quantized'), DataType.INT8);
  assert.equal(inits.get('wc_scale'), DataType.FLOAT);
  assert.equal(inits.get('bc'), DataType.FLOAT);
  assert.ok(!inits.has('ws_zero_point'), 'symmetric int8 needs no zero point');
  assert.ok(summary.bytesAfter < summary.bytesBefore / 3);
  assert.equal(summary.macsAfter, summary.macsBefore);

  const reference = await run(model);
  const out = await run(q);
  assert.deepEqual(out.dims, reference.dims);
  const db = sqnrDb(reference.data, out.data);
  assert.ok(db > 30, `${db} dB`);
});

test('lossless: nodes and initializers the edit did not touch keep their original bytes', () => {
  const model = smallModel();
  const { model: q } = quantizeWeights(model, { bits: 8, layers: ['gemm'] });
  const before = new Map(model.graph.nodes.map((n) => [n.name, n]));
  for (const n of q.graph.nodes) {
    if (n.opType === 'DequantizeLinear') continue;
    assert.equal(n, before.get(n.name), `${n.name} is the same object`);
    assert.ok(n.raw, `${n.name} keeps raw`);
  }
  const ws = (m: Model) => m.graph.initializers.find((t) => t.name === 'ws');
  assert.equal(ws(q), ws(model));
  assert.ok(ws(q)?.raw);
});

test('uint8 asymmetric per-tensor, int4 and 3-bit models all run in ONNX Runtime', async () => {
  const model = smallModel();
  const reference = await run(model);
  const cases: [QuantizeOptions, number][] = [
    [{ bits: 8, signed: false, symmetric: false, perChannel: false }, 25],
    [{ bits: 8, signed: false }, 30],
    [{ bits: 4 }, 8],
    [{ bits: 4, signed: false, symmetric: false }, 8],
    [{ bits: 3 }, 3],
  ];
  for (const [options, minDb] of cases) {
    const { model: q, summary } = quantizeWeights(model, options);
    const out = await run(q);
    assert.deepEqual(out.dims, reference.dims);
    const db = sqnrDb(reference.data, out.data);
    assert.ok(db > minDb, `${summary.operation}: ${db.toFixed(1)} dB`);
  }
});

test('int4 raises the opset to 21 (and the IR version) and packs the weight', () => {
  const { model: q, summary } = quantizeWeights(smallModel(), { bits: 4, layers: ['conv'] });
  assert.equal(q.opsetImport[0].version, 21);
  assert.equal(q.irVersion, 10);
  assert.ok(summary.notes.includes('opset raised 13 → 21 for int4/uint4'));
  const w = q.graph.initializers.find((t) => t.name === 'wc_quantized');
  assert.ok(w);
  assert.equal(w.dataType, DataType.INT4);
  assert.equal(w.rawData?.length, (4 * 3 * 3 * 3) / 2);
  assert.ok(tensorNumbers(w).every((v) => v >= -7 && v <= 7));
});

test('bitsPerLayer: a 3-bit layer is stored in int8 with values within ±3', () => {
  const { model: q, summary } = quantizeWeights(smallModel(), {
    bits: 8,
    bitsPerLayer: new Map([['gemm', 3]]),
  });
  const wg = q.graph.initializers.find((t) => t.name === 'wg_quantized');
  assert.ok(wg);
  assert.equal(wg.dataType, DataType.INT8);
  const values = tensorNumbers(wg);
  assert.equal(Math.max(...values), 3);
  assert.equal(Math.min(...values), -3);
  const note = '3-bit values clipped to [-3, 3] and stored in int8';
  assert.ok(summary.notes.some((n) => n.startsWith(note)));
});

test('per-channel on an opset 11 model raises it to 13; per-tensor needs no raise', () => {
  const { model: q, summary } = quantizeWeights(smallModel(11), { bits: 8 });
  assert.equal(q.opsetImport[0].version, 13);
  assert.ok(summary.notes.includes('opset raised 11 → 13 for per-channel scales'));
  const { model: t } = quantizeWeights(smallModel(11), { bits: 8, perChannel: false });
  assert.equal(t.opsetImport[0].version, 11);
});

test('analyze reads the quantized model: fewer weight bytes, same MACs and params', () => {
  const model = smallModel();
  const before = analyzeBytes(encodeModel(model)).totals;
  const after = analyzeBytes(encodeModel(quantizeWeights(model, { bits: 8 }).model)).totals;
  assert.ok(after.weightBytes < before.weightBytes / 3);
  assert.equal(after.macs, before.macs);
  assert.equal(after.params, before.params);
});

test('refusals name the exact reason', () => {
  const model = smallModel();
  const refuse = (options: QuantizeOptions, message: string | RegExp, m = model): void => {
    assert.throws(() => quantizeWeights(m, options), { name: 'CompressionRefusal', message });
  };
  refuse({ bits: 8, layers: ['nope'] }, "no layer named 'nope'");
  refuse({ bits: 8, layers: ['relu'] }, "layer 'relu' (Relu) has no known weight axis");
  refuse({ bits: 9 }, 'quantize: 9 bits is out of range (2 to 8)');
  refuse(
    { bits: 8, bitsPerLayer: new Map([['conv', 1]]) },
    "layer 'conv': 1 bits is out of range (2 to 8)",
  );
  refuse(
    { bits: 8, bitsPerLayer: new Map([['mm1', 4]]) },
    /^layers 'mm1' and 'mm2' share weight 'ws'/,
  );
  // Already quantized: quantizing the output again.
  const once = quantizeWeights(model, { bits: 8 }).model;
  refuse(
    { bits: 8, layers: ['conv'] },
    "layer 'conv' is already quantized (its weight comes from DequantizeLinear 'wc_DequantizeLinear')",
    once,
  );
  refuse({ bits: 4 }, 'no layer with a float weight to quantize', once);
});

test('int4 converts an opset-13 ReduceMean (axes attribute) on the way to opset 21', async () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [h] = b.node('MatMul', [x, b.weight('w', [8, 8])], {}, { name: 'mm' });
  const [y] = b.node('ReduceMean', [h], { axes: [1] }, { name: 'mean' });
  b.output(y, DataType.FLOAT, [1, 1, 8, 8]);
  const model = decodeModel(b.bytes());
  const { model: q, summary } = quantizeWeights(model, { bits: 4 });
  assert.equal(q.opsetImport[0].version, 21);
  assert.ok(
    summary.notes.includes('opset raised 13 → 21 for int4/uint4 (ReduceMean ×1 converted)'),
    summary.notes.join('\n'),
  );
  const mean = q.graph.nodes.find((n) => n.name === 'mean');
  assert.deepEqual(mean?.inputs, [h, 'mean_axes']);
  const db = sqnrDb((await run(model)).data, (await run(q)).data);
  assert.ok(db > 8, `${db} dB`);
  // int8 needs no raise, so the model keeps its opset and its ReduceMean.
  const int8 = quantizeWeights(model, { bits: 8 }).model;
  assert.equal(int8.opsetImport[0].version, 13);
  assert.equal(
    int8.graph.nodes.find((n) => n.name === 'mean'),
    model.graph.nodes[1],
  );
});

test('a weight read through Transpose is quantized along its moved channel axis', async () => {
  // torch's dynamo exporter writes Linear on a 3-D input as MatMul(x, Transpose(W)), W [out, in].
  const b = new ModelBuilder({ opset: 13 });
  // run() feeds x as [1, 3, 8, 8]: a batch of 3×8 token rows of 8 features.
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [t] = b.node('Transpose', [b.weight('w', [6, 8])], { perm: [1, 0] }, { name: 'tr' });
  const [y] = b.node('MatMul', [x, t], {}, { name: 'mm' });
  b.output(y);
  const model = decodeModel(b.bytes());
  const q = quantizeWeights(model, { bits: 8, perChannel: true }).model;
  const dq = q.graph.nodes.find((n) => n.opType === 'DequantizeLinear')!;
  // MatMul's channel axis is B's last (N = 6), which is axis 0 of the stored [6, 8].
  assert.equal(dq.attributes.find((a) => a.name === 'axis')?.i, 0);
  assert.equal(q.graph.initializers.find((i) => i.name === dq.inputs[1])?.dims[0], 6);
  assert.deepEqual(q.graph.nodes.find((n) => n.name === 'tr')?.inputs, ['w']);
  const db = sqnrDb((await run(model)).data, (await run(q)).data);
  assert.ok(db > 35, `${db} dB`);
});

test('a weight reshaped on the way or fed at run time is refused when named', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 4]);
  const z = b.input('z', DataType.FLOAT, [4, 4]);
  const [t] = b.node('Reshape', [b.weight('w', [16]), b.ints('shape', [4, 4])], {}, { name: 'rs' });
  const [h] = b.node('MatMul', [x, t], {}, { name: 'mm' });
  const [y] = b.node('MatMul', [h, z], {}, { name: 'act' });
  b.output(y);
  const model = decodeModel(b.bytes());
  assert.throws(() => quantizeWeights(model, { bits: 8, layers: ['mm'] }), {
    message: "layer 'mm': its weight reaches it through Reshape, which may move the channel axis",
  });
  assert.throws(() => quantizeWeights(model, { bits: 8, layers: ['act'] }), {
    message: "layer 'act' has no constant weight (its input 'z' is not a constant)",
  });
});
