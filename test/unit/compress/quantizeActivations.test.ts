import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  calibrateActivations,
  observingModel,
  type ActivationCalibration,
  type TensorRange,
} from '../../../src/core/compress/calibrate';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import {
  activationParams,
  quantizeActivations,
} from '../../../src/core/compress/quantizeActivations';
import { CompressionRefusal } from '../../../src/core/compress/summary';
import { encodeModel } from '../../../src/core/onnx/encode';
import { loadModelFile, type LoadedModel } from '../../../src/core/onnx/load';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType, type Model, type Node } from '../../../src/core/onnx/types';
import {
  inputSpecs,
  randomInputsFor,
  runModel,
  verifyModels,
  writeNpy,
} from '../../../src/core/verify';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { SHARED_MODELS_DIR, sharedModels } from '../../helpers/sharedModels';

/** x[2,4] → MatMul W1[4,8] → h → Relu → r → MatMul W2[8,3] → y; r is an output too. */
function mlp(opset = 13): LoadedModel {
  const b = new ModelBuilder({ opset, seed: 7 });
  const x = b.input('x', DataType.FLOAT, [2, 4]);
  const [h] = b.node('MatMul', [x, b.weight('w1', [4, 8])], {}, { name: 'fc1', outputs: ['h'] });
  const [r] = b.node('Relu', [h], {}, { name: 'relu', outputs: ['r'] });
  const [y] = b.node('MatMul', [r, b.weight('w2', [8, 3])], {}, { name: 'fc2', outputs: ['y'] });
  b.output(y, DataType.FLOAT, [2, 3]);
  b.output(r, DataType.FLOAT, [2, 8]);
  return b.load();
}

function weightValues(loaded: LoadedModel, name: string): number[] {
  const t = loaded.model.graph.initializers.find((i) => i.name === name)!;
  return tensorNumbers(t);
}

function matmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number) {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++)
      for (let p = 0; p < k; p++) out[i * n + j] += a[i * k + p] * b[p * n + j];
  return out;
}

function minMax(values: Iterable<number>, into?: TensorRange): TensorRange {
  let min = into?.min ?? Infinity;
  let max = into?.max ?? -Infinity;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return { min, max };
}

/** The QuantizeLinear on `tensor`, with its scale and zero point read back from the model. */
function qdqOf(model: Model, tensor: string) {
  const q = model.graph.nodes.find((n) => n.opType === 'QuantizeLinear' && n.inputs[0] === tensor);
  assert.ok(q, `no QuantizeLinear on '${tensor}'`);
  const init = (name: string) => model.graph.initializers.find((t) => t.name === name)!;
  const zp = init(q.inputs[2]);
  return {
    node: q,
    scale: tensorNumbers(init(q.inputs[1]))[0],
    zeroPointType: zp.dataType,
    zeroPoint: tensorNumbers(zp)[0],
  };
}

function refusal(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof CompressionRefusal && pattern.test(e.message));
}

describe('calibration', () => {
  test('ranges equal the min/max of the activations computed independently', async () => {
    const loaded = mlp();
    const cal = await calibrateActivations(loaded, { samples: 3, seed: 5 });
    assert.equal(cal.samples, 3);
    assert.equal(cal.source, 'random');
    assert.deepEqual([...cal.ranges.keys()].sort(), ['r', 'x']);
    // The same inputs, pushed through the weights in float64 here rather than in ONNX Runtime.
    const w1 = weightValues(loaded, 'w1');
    let x: TensorRange | undefined;
    let r: TensorRange | undefined;
    for (let sample = 0; sample < 3; sample++) {
      const set = randomInputsFor(inputSpecs(loaded), { seed: 5, sample });
      const xs = set.x.data as Float32Array;
      x = minMax(xs, x);
      r = minMax(
        Array.from(matmul(xs, w1, 2, 4, 8), (v) => Math.max(v, 0)),
        r,
      );
    }
    assert.deepEqual(cal.ranges.get('x'), x);
    const got = cal.ranges.get('r')!;
    assert.ok(
      Math.abs(got.min - r!.min) < 1e-5 && Math.abs(got.max - r!.max) < 1e-5,
      `${JSON.stringify(got)} vs ${JSON.stringify(r)}`,
    );
    assert.equal(got.min, 0, 'a ReLU output over 6 rows reaches 0');
  });

  test('the observing copy only adds outputs: every node and tensor is the original', async () => {
    const loaded = mlp();
    const copy = observingModel(loaded.model, ['h', 'r']);
    assert.deepEqual(
      copy.graph.outputs.map((o) => o.name),
      ['y', 'r', 'h'],
    );
    assert.equal(
      copy.graph.outputs[2].type?.kind === 'tensor' && copy.graph.outputs[2].type.elemType,
      DataType.FLOAT,
    );
    copy.graph.nodes.forEach((n, i) => assert.equal(n, loaded.model.graph.nodes[i]));
    copy.graph.initializers.forEach((t, i) => assert.equal(t, loaded.model.graph.initializers[i]));
    assert.equal(observingModel(loaded.model, []), loaded.model);
    await assert.rejects(
      calibrateActivations(loaded, { tensors: ['nope'] }),
      /no graph input or node output is named 'nope'/,
    );
  });

  test('reads the calibration folder and reports progress; an aborted signal stops it', async () => {
    const loaded = mlp();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-calib-'));
    const samples = [
      [-2, 0.5, 3, 1, 0, 0, 0, 0],
      [1, 1, 1, -1, 0.25, 0.25, 0.25, 0.25],
    ];
    samples.forEach((values, i) => {
      fs.mkdirSync(path.join(dir, String(i)));
      const npy = writeNpy({ dtype: 'float32', dims: [2, 4], data: Float32Array.from(values) });
      fs.writeFileSync(path.join(dir, String(i), 'x.npy'), npy);
    });
    const progress: string[] = [];
    const cal = await calibrateActivations(loaded, {
      inputsDir: dir,
      onProgress: (done, total) => progress.push(`${done}/${total}`),
    });
    assert.equal(cal.source, 'folder');
    assert.deepEqual(progress, ['1/2', '2/2']);
    assert.deepEqual(cal.ranges.get('x'), { min: -2, max: 3 });
    const first = await calibrateActivations(loaded, { inputsDir: dir, samples: 1 });
    assert.equal(first.samples, 1);
    assert.deepEqual(first.ranges.get('x'), { min: -2, max: 3 });

    const controller = new AbortController();
    controller.abort();
    await assert.rejects(calibrateActivations(loaded, { signal: controller.signal }), {
      name: 'AbortError',
    });
    await assert.rejects(calibrateActivations(loaded, { samples: 0 }), /positive integer/);
  });
});

describe('quantizeActivations', () => {
  const calibration = (ranges: Record<string, TensorRange>): ActivationCalibration => ({
    ranges: new Map(Object.entries(ranges)),
    samples: 1,
    source: 'random',
  });

  test('a ReLU output gets uint8 with zero point 0, a signed input int8 symmetric', () => {
    const loaded = mlp();
    const cal = calibration({ x: { min: -2.5, max: 1.5 }, r: { min: 0, max: 5.1 } });
    const { model, summary } = quantizeActivations(loaded.model, cal);
    const r = qdqOf(model, 'r');
    assert.equal(r.zeroPointType, DataType.UINT8);
    assert.equal(r.zeroPoint, 0);
    assert.equal(r.scale, Math.fround(5.1 / 255));
    const x = qdqOf(model, 'x');
    assert.equal(x.zeroPointType, DataType.INT8);
    assert.equal(x.zeroPoint, 0);
    assert.equal(x.scale, Math.fround(2.5 / 127));
    assert.deepEqual(summary.layersTouched.sort(), ['fc1', 'fc2']);
    assert.match(summary.notes.join('\n'), /1 unsigned .*1 signed/);
    // Asymmetric int8 moves the zero point; uint8 everywhere gives x a zero point too.
    const asym = qdqOf(quantizeActivations(loaded.model, cal, { symmetric: false }).model, 'x');
    assert.equal(asym.zeroPointType, DataType.INT8);
    assert.equal(asym.zeroPoint, Math.round(-128 + 2.5 / asym.scale));
    const u8 = quantizeActivations(loaded.model, cal, { mode: 'uint8' }).model;
    assert.equal(qdqOf(u8, 'x').zeroPointType, DataType.UINT8);
    assert.ok(qdqOf(u8, 'x').zeroPoint > 0);
    assert.equal(
      qdqOf(quantizeActivations(loaded.model, cal, { mode: 'int8' }).model, 'r').zeroPointType,
      DataType.INT8,
    );
  });

  test('the range always holds 0 and a constant tensor never gets a zero scale', () => {
    assert.deepEqual(activationParams({ min: 2, max: 4 }), {
      dataType: DataType.UINT8,
      scale: Math.fround(4 / 255),
      zeroPoint: 0,
    });
    assert.equal(activationParams({ min: 0, max: 0 }).scale, 1);
    assert.equal(activationParams({ min: -3, max: -3 }).dataType, DataType.INT8);
    const p = activationParams({ min: -1, max: 1 }, { bits: 16 });
    assert.equal(p.dataType, DataType.INT16);
    assert.equal(p.scale, Math.fround(1 / 32767));
  });

  test('ONNX Runtime computes exactly the fake-quantized network; outputs keep the float value', async () => {
    const loaded = mlp();
    const cal = await calibrateActivations(loaded, { samples: 4 });
    const { model } = quantizeActivations(loaded.model, cal);
    const set = randomInputsFor(inputSpecs(loaded), { seed: 9 });
    const original = await runModel(encodeModel(loaded.model), set);
    const quantized = await runModel(encodeModel(model), set);
    assert.deepEqual(quantized.y.dims, [2, 3]);
    // y = q(r)·W2 with q the int8/uint8 rounding, recomputed here from the stored parameters.
    const fake = (v: number, p: { scale: number; zeroPoint: number; zeroPointType: DataType }) => {
      const [lo, hi] = p.zeroPointType === DataType.UINT8 ? [0, 255] : [-128, 127];
      const q = Math.min(hi, Math.max(lo, Math.round(v / p.scale) + p.zeroPoint));
      return (q - p.zeroPoint) * p.scale;
    };
    const xq = Array.from(set.x.data as Float32Array, (v) => fake(v, qdqOf(model, 'x')));
    const h = matmul(xq, weightValues(loaded, 'w1'), 2, 4, 8);
    const rq = Array.from(h, (v) => fake(Math.fround(Math.max(v, 0)), qdqOf(model, 'r')));
    const y = matmul(rq, weightValues(loaded, 'w2'), 2, 8, 3);
    y.forEach((v, i) => assert.ok(Math.abs(v - quantized.y.data[i]) < 1e-4, `y[${i}]`));
    // The graph output 'r' keeps the float value (off the uint8 grid): only readers see q(r).
    const rFloat = Array.from(h, (v) => Math.fround(Math.max(v, 0)));
    rFloat.forEach((v, i) => assert.ok(Math.abs(v - quantized.r.data[i]) < 1e-5, `r[${i}]`));
    assert.notDeepEqual(rFloat, rq);
    assert.notDeepEqual(quantized.y.data, original.y.data, 'the activations were quantized');
  });

  test('after quantizeWeights: weights stay DequantizeLinear, activations get QDQ, it runs', async () => {
    const loaded = mlp();
    const weights = quantizeWeights(loaded.model, { bits: 8 }, loaded.external);
    // Calibrated on the inputs verify uses (seed 0): nothing clips, the rounding alone is measured.
    const cal = await calibrateActivations({ ...loaded, model: weights.model }, { seed: 0 });
    const { model } = quantizeActivations(weights.model, cal);
    const ops = (op: string) => model.graph.nodes.filter((n: Node) => n.opType === op).length;
    assert.equal(ops('QuantizeLinear'), 2);
    assert.equal(ops('DequantizeLinear'), 4);
    const result = await verifyModels(encodeModel(loaded.model), encodeModel(model));
    console.log(`mlp: W8A8 ${result.sqnrDb.toFixed(1)} dB`);
    assert.ok(result.sqnrDb > 30, `W8A8 SQNR ${result.sqnrDb}`);
    refusal(() => quantizeActivations(model, cal), /2 activation input\(s\) are already quantized/);
  });

  test('--layers limits it to the activations a layer reads', () => {
    const loaded = mlp();
    const cal = calibration({ x: { min: -1, max: 1 }, r: { min: 0, max: 1 } });
    const { model, summary } = quantizeActivations(loaded.model, cal, { layers: ['fc2'] });
    assert.deepEqual(
      model.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.inputs[0]),
      ['r'],
    );
    assert.deepEqual(summary.layersTouched, ['fc2']);
  });

  test('refusals say why', () => {
    const loaded = mlp();
    const cal = calibration({ x: { min: -1, max: 1 }, r: { min: 0, max: 1 } });
    refusal(
      () => quantizeActivations(loaded.model, cal, { layers: ['nope'] }),
      /no layer named 'nope'/,
    );
    refusal(
      () => quantizeActivations(loaded.model, calibration({})),
      /no calibrated range for any of the 2 activation\(s\)/,
    );

    const plain = new ModelBuilder();
    const [r] = plain.node('Relu', [plain.input('x', DataType.INT64, [4])], {}, {});
    plain.output(r);
    refusal(
      () => quantizeActivations(plain.build(), cal),
      /no float activation feeds a Conv, ConvTranspose, Gemm or MatMul/,
    );
  });

  test('an opset-9 Upsample is converted to Resize on the way to QuantizeLinear (opset 10)', async () => {
    const old = new ModelBuilder({ opset: 9 });
    const x = old.input('x', DataType.FLOAT, [1, 1, 2, 2]);
    const scales = old.initializer('scales', DataType.FLOAT, [4], [1, 1, 2, 2]);
    const [u] = old.node('Upsample', [x, scales], {}, { name: 'up' });
    const [y] = old.node('MatMul', [u, old.weight('w', [4, 3])], {}, { name: 'fc' });
    old.output(y, DataType.FLOAT, [1, 1, 4, 3]);
    const model = old.build();
    const { model: q, summary } = quantizeActivations(
      model,
      calibration({ x: { min: -2, max: 2 }, up_out0: { min: -2, max: 2 } }),
    );
    assert.equal(q.opsetImport[0].version, 10);
    assert.ok(
      summary.notes.includes(
        'opset raised 9 → 10 for QuantizeLinear/DequantizeLinear (Upsample→Resize ×1 converted)',
      ),
      summary.notes.join('\n'),
    );
    const ops = q.graph.nodes.map((n) => n.opType);
    assert.ok(ops.includes('Resize') && !ops.includes('Upsample'), ops.join(', '));
    const result = await verifyModels(encodeModel(model), encodeModel(q));
    assert.ok(result.sqnrDb > 30, `A8 SQNR ${result.sqnrDb}`);
  });

  test('raises the opset to 10 when it can, and 16-bit activations to 21', async () => {
    const loaded = mlp(9);
    const cal = await calibrateActivations(loaded, { seed: 0 });
    const eight = quantizeActivations(loaded.model, cal);
    assert.match(eight.summary.notes.join('\n'), /opset raised 9 → 10/);
    const sixteen = quantizeActivations(loaded.model, cal, { bits: 16 });
    assert.match(sixteen.summary.notes.join('\n'), /opset raised 9 → 21/);
    assert.equal(qdqOf(sixteen.model, 'r').zeroPointType, DataType.UINT16);
    const original = encodeModel(loaded.model);
    const db8 = (await verifyModels(original, encodeModel(eight.model))).sqnrDb;
    const db16 = (await verifyModels(original, encodeModel(sixteen.model))).sqnrDb;
    console.log(`mlp: A8 ${db8.toFixed(1)} dB, A16 ${db16.toFixed(1)} dB`);
    assert.ok(db8 > 35, `A8 SQNR ${db8}`);
    assert.ok(db16 > db8 + 30, `A16 SQNR ${db16}`);
  });
});

/** The exported fixtures (no ../shared needed), with the shapes generate.py ran them at. */
describe('exported fixtures', () => {
  const dir = path.resolve(__dirname, '../../fixtures/exported');
  const reference = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as {
    models: Record<string, { file: string; inputs: { name: string; shape: number[] }[] }>;
  };
  // control_flow is left out: its If takes a branch on h.mean() > 0, which rounding can flip.
  for (const name of ['audio_conv1d', 'detector', 'lstm_gru', 'transformer_op17']) {
    test(`${name}: A8 and W8A8 run in ONNX Runtime with the same outputs, SQNR ≥ 40 dB`, async () => {
      const ref = reference.models[name];
      const loaded = loadModelFile(path.join(dir, ref.file));
      const inputShapes = new Map(ref.inputs.map((i) => [i.name, i.shape]));
      const original = encodeModel(loaded.model);
      const cal = await calibrateActivations(loaded, { inputShapes });
      const a8 = quantizeActivations(loaded.model, cal, {}, loaded.external).model;
      const w8 = quantizeWeights(loaded.model, { bits: 8 }, loaded.external).model;
      const w8a8 = quantizeActivations(w8, cal, {}, loaded.external).model;
      for (const [label, model] of [
        ['A8', a8],
        ['W8A8', w8a8],
      ] as const) {
        // verifyModels refuses different output names or shapes.
        const r = await verifyModels(original, encodeModel(model), { inputShapes });
        console.log(`${name} ${label}: output SQNR ${r.sqnrDb.toFixed(1)} dB`);
        assert.ok(r.sqnrDb >= 40, `${name} ${label} SQNR ${r.sqnrDb.toFixed(1)} dB`);
      }
    });
  }
});

const shared = sharedModels();
/** Measured (8 random calibration samples, seed 1; verified on seed 0): W8A8 / A8 in dB. */
const FLOORS: Record<string, { w8a8: number; a8: number }> = {
  mobilenet_v2: { w8a8: 30, a8: 30 }, // measured 32.7 / 32.7
  resnet18: { w8a8: 34, a8: 35 }, // measured 36.5 / 38.4
  squeezenet1_0: { w8a8: 36, a8: 38 }, // measured 39.0 / 41.8
};

describe('shared models', () => {
  for (const name of Object.keys(FLOORS)) {
    const skip = 'skip' in shared ? shared.skip : false;
    test(
      `${name}: W8A8 int8 keeps the output SQNR floor; ReLU outputs are uint8, zero point 0`,
      { skip },
      async () => {
        if (!('models' in shared)) return;
        const loaded = loadModelFile(path.join(SHARED_MODELS_DIR, shared.models[name].file));
        const started = performance.now();
        const cal = await calibrateActivations(loaded);
        const calibrated = performance.now();
        const a8 = quantizeActivations(loaded.model, cal, {}, loaded.external);
        const w8 = quantizeWeights(loaded.model, { bits: 8 }, loaded.external).model;
        const w8a8 = quantizeActivations(w8, cal, {}, loaded.external);
        const quantized = performance.now();
        const original = encodeModel(loaded.model);
        const ra8 = await verifyModels(original, encodeModel(a8.model));
        const rw8a8 = await verifyModels(original, encodeModel(w8a8.model));
        console.log(
          `${name}: A8 ${ra8.sqnrDb.toFixed(1)} dB, W8A8 ${rw8a8.sqnrDb.toFixed(1)} dB, top-1 ${rw8a8.top1Agreement}; calibration ${((calibrated - started) / 1000).toFixed(2)} s, quantization ${((quantized - calibrated) / 1000).toFixed(2)} s`,
        );
        assert.ok(ra8.sqnrDb >= FLOORS[name].a8, `A8 ${ra8.sqnrDb}`);
        assert.ok(rw8a8.sqnrDb >= FLOORS[name].w8a8, `W8A8 ${rw8a8.sqnrDb}`);
        // Every activation produced by Relu (resnet, squeezenet) or Clip(0, 6) (mobilenet) is unsigned.
        const producers = new Map(
          loaded.model.graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n.opType])),
        );
        const quantizedTensors = w8a8.model.graph.nodes.filter(
          (n) => n.opType === 'QuantizeLinear',
        );
        const afterRelu = quantizedTensors.filter((q) =>
          ['Relu', 'Clip'].includes(producers.get(q.inputs[0]) ?? ''),
        );
        assert.ok(afterRelu.length >= 5, `${afterRelu.length} activations after ReLU`);
        for (const q of afterRelu) {
          const p = qdqOf(w8a8.model, q.inputs[0]);
          assert.equal(p.zeroPointType, DataType.UINT8, q.inputs[0]);
          assert.equal(p.zeroPoint, 0);
        }
        // The graph input (N(0, 1) here) is signed.
        assert.equal(qdqOf(w8a8.model, 'input').zeroPointType, DataType.INT8);
      },
    );
  }
});
