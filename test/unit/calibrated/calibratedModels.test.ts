/**
 * Calibrated compression on real exporters' graphs beyond plain CNNs: the committed torch
 * exports (test/fixtures/exported, random weights) and hand-built layers of the remaining kinds.
 * Without labels the bar is the output error against the float model on held-out random inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pruneCalibrated } from '../../../src/core/calibrated/calibratedPrune';
import { quantizeCalibrated } from '../../../src/core/calibrated/calibratedQuantize';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import { calibrateActivations } from '../../../src/core/compress/calibrate';
import { quantizeActivations } from '../../../src/core/compress/quantizeActivations';
import { pruneUnstructured } from '../../../src/core/compress/pruneUnstructured';
import { encodeModel } from '../../../src/core/onnx/encode';
import { loadModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { verifyModels, VerifyError } from '../../../src/core/verify';
import { saveWithSideFile } from '../../helpers/externalData';
import { ModelBuilder, seededRandom } from '../../helpers/modelBuilder';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';

const TRANSFORMER = path.resolve(__dirname, '../../fixtures/exported/transformer_op13.onnx');
const SHAPES = new Map([
  ['input_ids', [1, 16]],
  ['attention_mask', [1, 16]],
]);

async function sqnr(
  file: string,
  bytes: Uint8Array,
  shapes?: Map<string, number[]>,
): Promise<number> {
  // Seed 0 (the verifier's), calibration uses seed 1: judged on inputs it did not see.
  return (await verifyModels(file, bytes, { samples: 8, inputShapes: shapes })).sqnrDb;
}

test('a torch transformer (MatMul weights on [batch, tokens, K] inputs): GPTQ 4-bit beats nearest', async () => {
  const loaded = loadModelFile(TRANSFORMER);
  const calibration = { samples: 16, inputShapes: SHAPES };
  const g = await quantizeCalibrated(loaded, { bits: 4, perChannel: true }, calibration);
  assert.match(g.summary.notes[0], /GPTQ\) of 10 layer\(s\) on 16 calibration sample/);
  const near = quantizeWeights(loaded.model, { bits: 4, perChannel: true }, loaded.external);
  assert.equal(g.summary.bytesAfter, near.summary.bytesAfter, 'same format, other integers');
  const a = await sqnr(TRANSFORMER, encodeModel(near.model), SHAPES);
  const b = await sqnr(TRANSFORMER, encodeModel(g.model), SHAPES);
  assert.ok(b > a + 1, `GPTQ ${b.toFixed(1)} dB vs nearest ${a.toFixed(1)} dB`);

  const p = await pruneCalibrated(loaded, { pattern: 0.5 }, calibration);
  const m = pruneUnstructured(loaded.model, { sparsity: 0.5, scope: 'layer' }, loaded.external);
  const c = await sqnr(TRANSFORMER, encodeModel(p.model), SHAPES);
  const d = await sqnr(TRANSFORMER, encodeModel(m.model), SHAPES);
  assert.ok(c > d + 1, `SparseGPT ${c.toFixed(1)} dB vs magnitude ${d.toFixed(1)} dB`);
});

test('a model whose weights live in a side file is calibrated the same as its inline twin', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-calib-ext-'));
  try {
    const inline = loadModelFile(TRANSFORMER);
    const file = path.join(dir, 'model.onnx');
    saveWithSideFile(inline.model, file);
    const external = loadModelFile(file);
    assert.ok(external.model.graph.initializers.some((t) => t.external));
    const calibration = { samples: 4, inputShapes: SHAPES };
    const a = await quantizeCalibrated(inline, { bits: 4, perChannel: true }, calibration);
    const b = await quantizeCalibrated(external, { bits: 4, perChannel: true }, calibration);
    const bytes = (m: typeof a.model, name: string) =>
      m.graph.initializers.find((t) => t.name === name)?.rawData;
    const quantized = a.model.graph.initializers.filter((t) => t.name.endsWith('_quantized'));
    assert.ok(quantized.length >= 10);
    for (const t of quantized) assert.deepEqual(bytes(b.model, t.name), t.rawData, t.name);
    // Activation ranges too (W8A8 of a torch 2.x export that keeps its weights in a side file).
    const ranges = await calibrateActivations(external, calibration);
    assert.deepEqual(ranges.ranges, (await calibrateActivations(inline, calibration)).ranges);
    const w8a8 = quantizeActivations(external.model, ranges, { mode: 'auto' }, external.external);
    assert.ok(w8a8.model.graph.nodes.some((n) => n.opType === 'QuantizeLinear'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('ConvTranspose and grouped Conv layers are rounded with compensation too', async () => {
  const b = new ModelBuilder({ seed: 4 });
  b.input('x', DataType.FLOAT, [1, 8, 10, 10]);
  const [g] = b.node(
    'Conv',
    ['x', b.weight('wg', [8, 4, 3, 3])],
    { group: 2, pads: [1, 1, 1, 1] },
    { name: 'grouped' },
  );
  const [r] = b.node('Relu', [g]);
  const [t] = b.node(
    'ConvTranspose',
    [r, b.weight('wt', [8, 6, 3, 3])],
    { strides: [2, 2] },
    { name: 'up' },
  );
  b.output(t, DataType.FLOAT);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-calib-ct-'));
  try {
    const file = path.join(dir, 'm.onnx');
    fs.writeFileSync(file, b.bytes());
    const loaded = loadModelFile(file);
    const q = await quantizeCalibrated(loaded, { bits: 3, perChannel: true }, { samples: 8 });
    assert.match(q.summary.notes[0], /GPTQ\) of 2 layer/);
    const near = quantizeWeights(loaded.model, { bits: 3, perChannel: true });
    const a = await sqnr(file, encodeModel(near.model));
    const c = await sqnr(file, encodeModel(q.model));
    assert.ok(c > a + 1, `GPTQ ${c.toFixed(1)} dB vs nearest ${a.toFixed(1)} dB`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('calibration inputs of the wrong shape are one clear error, nothing returned', async () => {
  const loaded = loadModelFile(TRANSFORMER);
  await assert.rejects(
    quantizeCalibrated(
      loaded,
      { bits: 4 },
      { samples: 2, inputShapes: new Map([['input_ids', [1, 16, 3]]]) },
    ),
    (e: unknown) => e instanceof VerifyError && /input_ids|rank|shape/i.test(e.message),
  );
});

test("a weight read through Transpose (dynamo's Linear) is rounded exactly as its pre-transposed twin", async () => {
  const random = seededRandom(21);
  const w = Array.from({ length: 24 * 32 }, () => random() * 2 - 1); // [out 24, in 32]
  const wt = Array.from({ length: 32 * 24 }, (_, i) => w[(i % 24) * 32 + Math.floor(i / 24)]);
  const build = (transposed: boolean) => {
    const b = new ModelBuilder();
    b.input('x', DataType.FLOAT, [1, 16, 32]);
    let weight: string;
    if (transposed) {
      b.initializer('w', DataType.FLOAT, [24, 32], w);
      [weight] = b.node('Transpose', ['w'], { perm: [1, 0] }, { name: 'tr' });
    } else weight = b.initializer('w', DataType.FLOAT, [32, 24], wt);
    const [y] = b.node('MatMul', ['x', weight], {}, { name: 'linear' });
    b.output(y, DataType.FLOAT);
    return b.load();
  };
  const calibration = { samples: 4 };
  const a = await quantizeCalibrated(build(true), { bits: 3, perChannel: true }, calibration);
  const b = await quantizeCalibrated(build(false), { bits: 3, perChannel: true }, calibration);
  assert.match(a.summary.notes[0], /GPTQ\) of 1 layer/);
  const ints = (m: typeof a.model) =>
    Int8Array.from(m.graph.initializers.find((t) => t.name === 'w_quantized')!.rawData!);
  const qa = ints(a.model);
  const qb = ints(b.model);
  for (let n = 0; n < 24; n++) {
    for (let k = 0; k < 32; k++) assert.equal(qa[n * 32 + k], qb[k * 24 + n], `[${n}, ${k}]`);
  }
  const pa = await pruneCalibrated(build(true), { pattern: 0.5 }, calibration);
  const pb = await pruneCalibrated(build(false), { pattern: 0.5 }, calibration);
  assert.match(pa.summary.notes[0], /SparseGPT for 1 layer/);
  const floats = (m: typeof a.model) =>
    tensorNumbers(m.graph.initializers.find((t) => t.name === 'w')!);
  const fa = floats(pa.model);
  const fb = floats(pb.model);
  for (let n = 0; n < 24; n++) {
    for (let k = 0; k < 32; k++) assert.equal(fa[n * 32 + k], fb[k * 24 + n], `[${n}, ${k}]`);
  }
});
