import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  pow2Level,
  quantizeToGrid,
  TERNARY_THRESHOLD,
} from '../../../src/core/compress/lowBitGrids';
import { quantizeWeights, type QuantizeOptions } from '../../../src/core/compress/quantize';
import { CompressionRefusal } from '../../../src/core/compress/summary';
import { analyzeBytes } from '../../../src/core/analyze';
import { estimateLayer } from '../../../src/core/devices/estimates';
import { BUILTIN_DEVICES } from '../../../src/core/devices/profiles';
import { weightGridOf } from '../../../src/core/cost/nodeFigures';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import { loadModelFile } from '../../../src/core/onnx/load';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType, type Model, type Tensor } from '../../../src/core/onnx/types';
import { inputSpecs, randomInputsFor, runModel, verifyModels } from '../../../src/core/verify';
import { openModel } from '../../../src/core/verify/inputs';
import { quantizeSpec } from '../../../src/cli/compressCommand';
import { layerMarkdown } from '../../../src/server/presentation';
import { ModelBuilder, seededRandom } from '../../helpers/modelBuilder';

/** Conv [3,2,3,3] (pads 1) on a 1×2×4×4 input, with bias: 48 outputs × 18 = 864 MACs. */
function smallConv(weights?: number[]): Model {
  const b = new ModelBuilder({ opset: 13, seed: 5 });
  const x = b.input('x', DataType.FLOAT, [1, 2, 4, 4]);
  const w = weights
    ? b.initializer('w', DataType.FLOAT, [3, 2, 3, 3], weights)
    : b.weight('w', [3, 2, 3, 3]);
  const [y] = b.node(
    'Conv',
    [x, w, b.weight('bias', [3])],
    { pads: [1, 1, 1, 1] },
    { name: 'conv' },
  );
  b.output(y, DataType.FLOAT, [1, 3, 4, 4]);
  return decodeModel(b.bytes());
}

/** A Conv → Relu → Flatten → Gemm → MatMul classifier, for running in ONNX Runtime. */
function smallNet(opset = 13): Model {
  const b = new ModelBuilder({ opset, seed: 9 });
  const x = b.input('x', DataType.FLOAT, [2, 3, 8, 8]);
  const [c] = b.node('Conv', [x, b.weight('wc', [4, 3, 3, 3]), b.weight('bc', [4])], {
    pads: [1, 1, 1, 1],
  });
  const [r] = b.node('Relu', [c], {}, { name: 'relu' });
  const [f] = b.node('Flatten', [r]);
  const [g] = b.node('Gemm', [f, b.weight('wg', [16, 256]), b.weight('bg', [16])], { transB: 1 });
  const [y] = b.node('MatMul', [g, b.weight('wm', [16, 10])]);
  b.output(y, DataType.FLOAT, [2, 10]);
  return decodeModel(b.bytes());
}

function initializer(model: Model, name: string): Tensor {
  const t = model.graph.initializers.find((i) => i.name === name);
  assert.ok(t, `initializer ${name}`);
  return t;
}

/** The stored integer levels (int2 or int4 packed low bits first, sign-extended; or int8 bytes). */
function levels(t: Tensor): number[] {
  if (t.dataType === DataType.INT8) return tensorNumbers(t);
  const bits = t.dataType === DataType.INT2 ? 2 : 4;
  const perByte = 8 / bits;
  const out: number[] = [];
  const n = t.dims.reduce((a, b) => a * b, 1);
  for (let i = 0; i < n; i++) {
    const byte = (t.rawData ?? new Uint8Array())[Math.floor(i / perByte)];
    const v = (byte >> ((i % perByte) * bits)) & ((1 << bits) - 1);
    out.push(v >= 1 << (bits - 1) ? v - (1 << bits) : v);
  }
  return out;
}

function weightValues(model: Model, name: string): number[] {
  return tensorNumbers(initializer(model, name));
}

const CHANNEL = 18; // elements per output channel of the small Conv

test('pow2: log-domain rounding, zero below half the smallest level', () => {
  assert.equal(pow2Level(0.49, 6), 0);
  assert.equal(pow2Level(0.5, 6), 1);
  assert.equal(pow2Level(-1.3, 6), -1);
  // The boundary between 2 and 4 is their geometric mean 2^1.5 ≈ 2.83, not 3.
  assert.equal(pow2Level(2.8, 6), 2);
  assert.equal(pow2Level(2.9, 6), 4);
  assert.equal(pow2Level(-100, 6), -64);
  assert.equal(pow2Level(7, 2), 4);
});

test('pow2: every stored level is 0 or ±2^k (k ≤ 6 in int8), rounded at max|w|/64, scale refitted', () => {
  const model = smallConv();
  const w = weightValues(model, 'w');
  const r = quantizeWeights(model, { bits: 8, grid: 'pow2' });
  const q = initializer(r.model, 'w_quantized');
  assert.equal(q.dataType, DataType.INT8);
  assert.deepEqual(weightGridOf(q.docString), { grid: 'pow2', bits: 8 });
  const scales = tensorNumbers(initializer(r.model, 'w_scale'));
  const values = levels(q);
  for (const v of values) {
    assert.ok(v === 0 || (Math.abs(v) <= 64 && Number.isInteger(Math.log2(Math.abs(v)))), `${v}`);
  }
  for (let c = 0; c < 3; c++) {
    const ch = w.slice(c * CHANNEL, (c + 1) * CHANNEL);
    const s0 = Math.fround(Math.max(...ch.map(Math.abs)) / 64);
    const qs = ch.map((x) => pow2Level(x / s0, 6));
    qs.forEach((l, j) => assert.equal(values[c * CHANNEL + j], l));
    // The largest weight sits on the top level.
    assert.equal(Math.max(...qs.map(Math.abs)), 64);
    // The stored scale is the least-squares one for these levels.
    const ls = qs.reduce((a, l, j) => a + l * ch[j], 0) / qs.reduce((a, l) => a + l * l, 0);
    assert.ok(Math.abs(scales[c] - ls) < 1e-6 * ls, `scale of channel ${c}`);
  }
  // pow2-4bit: ±1, ±2, ±4 fit int4.
  const r4 = quantizeWeights(model, { bits: 4, grid: 'pow2' });
  const q4 = initializer(r4.model, 'w_quantized');
  assert.equal(q4.dataType, DataType.INT4);
  for (const v of levels(q4)) assert.ok([0, 1, 2, 4].includes(Math.abs(v)), `${v}`);
});

test('ternary: below Δ = 0.7·mean|w| → 0, α = mean |w| over |w| > Δ, per channel', () => {
  const random = seededRandom(21);
  const w = Array.from({ length: 3 * CHANNEL }, () => (random() * 2 - 1) * 0.3);
  const model = smallConv(w);
  const r = quantizeWeights(model, { bits: 2, grid: 'ternary' });
  const q = initializer(r.model, 'w_quantized');
  assert.equal(q.dataType, DataType.INT2);
  assert.deepEqual(weightGridOf(q.docString), { grid: 'ternary', bits: 2 });
  const values = levels(q);
  const scales = tensorNumbers(initializer(r.model, 'w_scale'));
  for (let c = 0; c < 3; c++) {
    const ch = w.map(Math.fround).slice(c * CHANNEL, (c + 1) * CHANNEL);
    const delta = (TERNARY_THRESHOLD * ch.reduce((a, x) => a + Math.abs(x), 0)) / CHANNEL;
    const above = ch.filter((x) => Math.abs(x) > delta);
    const alpha = above.reduce((a, x) => a + Math.abs(x), 0) / above.length;
    assert.ok(Math.abs(scales[c] - alpha) < 1e-6, `α of channel ${c}`);
    ch.forEach((x, j) => {
      const expected = Math.abs(x) > delta ? Math.sign(x) : 0;
      assert.equal(values[c * CHANNEL + j], expected, `channel ${c} element ${j}`);
    });
  }
});

test('binary: sign(w) with α = mean|w| per channel', () => {
  const model = smallConv();
  const w = weightValues(model, 'w');
  const r = quantizeWeights(model, { bits: 2, grid: 'binary' });
  const q = initializer(r.model, 'w_quantized');
  const values = levels(q);
  const scales = tensorNumbers(initializer(r.model, 'w_scale'));
  for (let c = 0; c < 3; c++) {
    const ch = w.slice(c * CHANNEL, (c + 1) * CHANNEL);
    const mean = ch.reduce((a, x) => a + Math.abs(x), 0) / CHANNEL;
    assert.ok(Math.abs(scales[c] - mean) < 1e-6);
    ch.forEach((x, j) => assert.equal(values[c * CHANNEL + j], x < 0 ? -1 : 1));
  }
  // Per tensor: one α for the whole weight.
  const t = quantizeToGrid(initializer(model, 'w'), undefined, 'binary', 2, undefined);
  assert.equal(t.scales.length, 1);
  assert.ok(Math.abs(t.scales[0] - w.reduce((a, x) => a + Math.abs(x), 0) / w.length) < 1e-6);
});

test('memory, BOPs and energy of a small Conv against a hand count', () => {
  const model = smallConv();
  const macs = 48 * 18;
  const depth = Math.log2(18);
  const device = BUILTIN_DEVICES.find((d) => d.id === 'stm32h743');
  assert.ok(device);
  const figures = (options: QuantizeOptions) => {
    const bytes = encodeModel(quantizeWeights(model, options).model);
    const n = analyzeBytes(bytes, { skipBitHints: true }).nodes.find((x) => x.op === 'Conv');
    assert.ok(n);
    return n;
  };
  // b_a = 32 (float activations); scales and bias 3 × 4 bytes each.
  const pow2 = figures({ bits: 8, grid: 'pow2' });
  assert.equal(pow2.weightGrid, 'pow2');
  assert.equal(pow2.weightBits, 8);
  assert.equal(pow2.macs, macs);
  assert.ok(Math.abs(pow2.bops - macs * (32 + 8 + depth)) < 1e-6, 'pow2: adds only');
  assert.equal(pow2.weightBytes, 54 + 12 + 12);
  const ternary = figures({ bits: 2, grid: 'ternary' });
  assert.equal(ternary.weightBits, 2);
  assert.ok(Math.abs(ternary.bops - macs * (32 * 2 + 32 + 2 + depth)) < 1e-6);
  assert.equal(ternary.weightBytes, Math.ceil((54 * 2) / 8) + 12 + 12, '2 bits per weight');
  const binary = figures({ bits: 2, grid: 'binary' });
  assert.equal(binary.weightBits, 1);
  assert.ok(Math.abs(binary.bops - macs * (32 * 1 + 32 + 1 + depth)) < 1e-6);
  assert.equal(binary.weightBytes, Math.ceil(54 / 8) + 12 + 12, '1 bit per weight');
  // Energy at fp32 (the activations' precision) on an MCU (all SRAM): an fp32 add (0.9 pJ) per
  // MAC instead of multiply + add (4.6 pJ), plus the weight and feature-map bits read.
  for (const n of [pow2, ternary, binary]) {
    const layer = {
      name: n.name,
      op: n.op,
      macs: n.macs,
      weightBytes: n.weightBytes,
      activationBytes: n.activationBytes,
      weightBits: n.weightBits ?? undefined,
      activationBits: n.activationBits,
    };
    const sram = 5 / 32;
    const memory = (n.weightBytes + n.activationBytes) * 8 * sram;
    const addOnly = estimateLayer(device, { ...layer, weightGrid: n.weightGrid });
    assert.equal(addOnly.precision, 'fp32');
    assert.ok(Math.abs(addOnly.energyJoules - (macs * 0.9 + memory) * 1e-12) < 1e-18);
    const withMultiplies = estimateLayer(device, layer);
    assert.ok(Math.abs(withMultiplies.energyJoules - (macs * 4.6 + memory) * 1e-12) < 1e-18);
  }
  // The whole-model path carries the grid to the estimate too.
  const report = analyzeBytes(
    encodeModel(quantizeWeights(model, { bits: 2, grid: 'ternary' }).model),
    {
      skipBitHints: true,
      device,
    },
  );
  const conv = report.nodes.find((x) => x.op === 'Conv');
  assert.ok(conv);
  const hover = layerMarkdown(conv, report);
  assert.match(hover, /\| weight grid \| ternary \{−α, 0, \+α\}: 2 bits per weight/);
  assert.match(hover, /weight memory \| 38 B at 2-bit/);
  const memory = (ternary.weightBytes + ternary.activationBytes) * 8 * (5 / 32);
  assert.ok(Math.abs((conv?.energyJoules ?? 0) - (macs * 0.9 + memory) * 1e-12) < 1e-18);
});

test('pow2, ternary and binary models run in ONNX Runtime with unchanged output shapes', async () => {
  const model = smallNet();
  const original = encodeModel(model);
  for (const grid of ['pow2', 'ternary', 'binary'] as const) {
    const r = quantizeWeights(model, { bits: 8, grid });
    assert.equal(r.summary.layersTouched.length, 3);
    const result = await verifyModels(original, encodeModel(r.model), { samples: 2 });
    assert.deepEqual(
      result.outputs,
      model.graph.outputs.map((o) => o.name),
    );
    assert.ok(Number.isFinite(result.sqnrDb) && result.cosine > 0.5, `${grid}: ${result.sqnrDb}`);
    const x = randomInputsFor(inputSpecs(openModel(original, 'original')), { seed: 3, sample: 0 });
    const before = await runModel(original, x);
    const after = await runModel(encodeModel(r.model), x);
    assert.deepEqual(Object.values(after)[0].dims, Object.values(before)[0].dims);
    assert.deepEqual(Object.values(after)[0].dims, [2, 10]);
  }
  const ternary = quantizeWeights(model, { bits: 8, grid: 'ternary' });
  // The converter takes the model to opset 25, where int2 holds ternary weights.
  assert.equal(initializer(ternary.model, 'wg_quantized').dataType, DataType.INT2);
  assert.ok(ternary.summary.notes.some((n) => /stored in int2.*2 bits per weight/.test(n)));
  assert.ok(
    ternary.summary.notes.some((n) => /opset raised 13 → 25.*ternary weights in int2/.test(n)),
  );
});

test('a model already at opset 25 gets int2 storage, which ONNX Runtime runs', async () => {
  const model = smallNet(25);
  const original = encodeModel(model);
  for (const grid of ['ternary', 'binary'] as const) {
    const r = quantizeWeights(model, { bits: 8, grid });
    const q = initializer(r.model, 'wg_quantized');
    assert.equal(q.dataType, DataType.INT2);
    assert.equal(q.rawData?.length, (16 * 256) / 4);
    assert.ok(r.summary.notes.some((n) => /stored in int2/.test(n)));
    const result = await verifyModels(original, encodeModel(r.model), { samples: 2 });
    // The same values as the int4 file: int2 changes the storage, not the weights.
    const int4 = quantizeWeights(smallNet(13), { bits: 8, grid });
    const reference = await verifyModels(encodeModel(smallNet(13)), encodeModel(int4.model), {
      samples: 2,
    });
    assert.ok(Math.abs(result.sqnrDb - reference.sqnrDb) < 1e-3, `${grid}`);
    const n = analyzeBytes(encodeModel(r.model), { skipBitHints: true }).nodes.find(
      (x) => x.op === 'Gemm',
    );
    const bits = grid === 'ternary' ? 2 : 1;
    assert.equal(n?.weightBytes, (16 * 256 * bits) / 8 + 16 * 4 + 16 * 4);
  }
});

test('a model ONNX Runtime cannot run at opset 25 keeps ternary weights in int4, and says why', () => {
  // GlobalLpPool has no opset-22 kernel in ONNX Runtime 1.30 (opsetConvert.ts ONNX_RUNTIME_GAPS).
  const b = new ModelBuilder({ opset: 13, seed: 4 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [c] = b.node('Conv', [x, b.weight('wc', [4, 3, 3, 3])], { pads: [1, 1, 1, 1] });
  const [p] = b.node('GlobalLpPool', [c]);
  const [f] = b.node('Flatten', [p]);
  const [y] = b.node('Gemm', [f, b.weight('wg', [3, 4])], { transB: 1 });
  b.output(y, DataType.FLOAT, [1, 3]);
  const r = quantizeWeights(decodeModel(b.bytes()), { bits: 8, grid: 'ternary' });
  assert.equal(initializer(r.model, 'wc_quantized').dataType, DataType.INT4);
  const note = r.summary.notes.find((n) => /stored in int4/.test(n)) ?? '';
  assert.match(note, /int2 needs opset 25: .*GlobalLpPool/);
  assert.ok(r.summary.notes.some((n) => /opset raised 13 → 21/.test(n)));
});

test('refusals and the CLI spec', () => {
  const model = smallNet();
  assert.throws(
    () => quantizeWeights(model, { bits: 2, grid: 'binary', layers: ['relu'] }),
    (e: unknown) => e instanceof CompressionRefusal && /no known weight axis/.test(e.message),
  );
  assert.throws(
    () => quantizeWeights(model, { bits: 2, grid: 'pow2' }),
    (e: unknown) => e instanceof CompressionRefusal && /pow2: 2 bits/.test(e.message),
  );
  assert.throws(
    () => quantizeWeights(model, { bits: 8, grid: 'ternary', symmetric: false }),
    /signed and symmetric/,
  );
  assert.deepEqual(quantizeSpec('pow2'), { bits: 8, signed: true, grid: 'pow2' });
  assert.deepEqual(quantizeSpec('pow2-5bit'), { bits: 5, signed: true, grid: 'pow2' });
  assert.equal(quantizeSpec('ternary').grid, 'ternary');
  assert.equal(quantizeSpec('binary').grid, 'binary');
  assert.throws(() => quantizeSpec('pow2-2bit'), /pow2-3bit … pow2-8bit/);
});

// ---------------------------------------------------------------------------------------------
// The shared models: file sizes and, for the trained fmnist_vgg, labelled accuracy.

const MODELS = path.resolve(__dirname, '../../../../shared/models');
const TEST1000 = path.resolve(__dirname, '../../../../shared/data/fashion-mnist/test1000');

test('shared models: pow2/ternary/binary file sizes and fmnist_vgg accuracy', async (t) => {
  if (!fs.existsSync(MODELS)) {
    t.skip('../shared/models is absent');
    return;
  }
  for (const file of ['fmnist_vgg.onnx', 'squeezenet1_0.onnx', 'resnet18.onnx']) {
    const full = path.join(MODELS, file);
    if (!fs.existsSync(full)) continue;
    const loaded = loadModelFile(full);
    const floatBytes = fs.statSync(full).size;
    for (const grid of ['pow2', 'ternary', 'binary'] as const) {
      const r = quantizeWeights(loaded.model, { bits: 8, grid }, loaded.external);
      const bytes = encodeModel(r.model);
      const ratio = bytes.length / floatBytes;
      t.diagnostic(
        `${file} ${grid}: file ${bytes.length} B (${(100 * ratio).toFixed(1)}% of float), weights ${r.summary.bytesBefore} → ${r.summary.bytesAfter} B`,
      );
      // int4 storage: ≤ 30% of the float file; pow2 in int8: a quarter plus overhead.
      assert.ok(ratio <= (grid === 'pow2' ? 0.27 : 0.3), `${file} ${grid}: ${ratio}`);
      if (file === 'fmnist_vgg.onnx' && fs.existsSync(TEST1000)) {
        const v = await verifyModels(full, bytes, { inputsDir: TEST1000 });
        t.diagnostic(
          `fmnist_vgg ${grid}: top-1 ${(100 * (v.labelled?.accuracyCompressed ?? NaN)).toFixed(1)}% (float ${(100 * (v.labelled?.accuracyOriginal ?? NaN)).toFixed(1)}%), output SQNR ${v.sqnrDb.toFixed(1)} dB`,
        );
        assert.equal(v.labelled?.accuracyOriginal !== undefined, true);
      }
    }
  }
});
