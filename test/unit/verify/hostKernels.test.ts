/**
 * Verification is the same on every CPU: the verifier reports the QDQ graph as written (ORT's
 * basic optimisations), and ORT's fused integer kernels of this machine only as a second,
 * labelled figure, with a warning when the two differ. Tested on whatever CPU runs the tests:
 * the assertions hold on AVX2-only hosts (where the fused figure drops) and VNNI hosts alike.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { calibrateActivations } from '../../../src/core/compress/calibrate';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import { quantizeActivations } from '../../../src/core/compress/quantizeActivations';
import { encodeModel } from '../../../src/core/onnx/encode';
import { loadModelFile, saveModelFile } from '../../../src/core/onnx/load';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType } from '../../../src/core/onnx/types';
import {
  ErrorAccumulator,
  inputSpecs,
  ModelRunner,
  randomInputsFor,
  verifyModels,
} from '../../../src/core/verify';
import { hostKernelWarning, type Kernels } from '../../../src/core/verify/verify';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { SHARED_MODELS_DIR } from '../../helpers/sharedModels';

const cli = path.resolve(__dirname, '../../../dist/cli.js');

/** Conv → ReLU → Conv → ReLU → pool → Gemm: ORT fuses its QDQ form into QLinearConv & co. */
function convNet() {
  const b = new ModelBuilder({ opset: 13, seed: 3 });
  const x = b.input('x', DataType.FLOAT, [1, 8, 12, 12]);
  const [c1] = b.node('Conv', [x, b.weight('w1', [16, 8, 3, 3]), b.weight('b1', [16])], {
    pads: [1, 1, 1, 1],
  });
  const [r1] = b.node('Relu', [c1]);
  const [c2] = b.node('Conv', [r1, b.weight('w2', [16, 16, 3, 3]), b.weight('b2', [16])], {
    pads: [1, 1, 1, 1],
  });
  const [r2] = b.node('Relu', [c2]);
  b.classifierHead(r2, 16);
  return b.load();
}

async function w8a8(loaded: ReturnType<typeof convNet>) {
  const weights = quantizeWeights(loaded.model, { bits: 8 }, loaded.external).model;
  const cal = await calibrateActivations({ ...loaded, model: weights }, { seed: 0 });
  return quantizeActivations(weights, cal).model;
}

/** SQNR of `test` against `reference`, both run with the given kernels on the same inputs. */
async function sqnrWith(
  kernels: Kernels,
  reference: Uint8Array,
  test: Uint8Array,
  loaded: ReturnType<typeof convNet>,
): Promise<number> {
  const ref = await ModelRunner.create(reference, 'reference', 'as-written');
  const run = await ModelRunner.create(test, 'test', kernels);
  const acc = new ErrorAccumulator();
  try {
    for (let sample = 0; sample < 8; sample++) {
      const set = randomInputsFor(inputSpecs(loaded), { seed: 0, sample });
      const [r, t] = [await ref.run(set), await run.run(set)];
      acc.add(r.logits.data, t.logits.data);
    }
  } finally {
    await Promise.all([ref.release(), run.release()]);
  }
  return acc.sqnrDb;
}

describe('verification independent of the host CPU', () => {
  test('a W8A8 model under both optimisation levels: the verifier reports the as-written figure, the fused one labelled beside it, and warns exactly when they differ', async () => {
    const loaded = convNet();
    const original = encodeModel(loaded.model);
    const quantized = encodeModel(await w8a8(loaded));
    const r = await verifyModels(original, quantized);
    const asWritten = await sqnrWith('as-written', original, quantized, loaded);
    const fused = await sqnrWith('host-optimized', original, quantized, loaded);
    console.log(
      `W8A8 conv net: as written ${asWritten.toFixed(2)} dB, ORT fused kernels on this machine ${fused.toFixed(2)} dB`,
    );
    assert.ok(Math.abs(r.sqnrDb - asWritten) < 1e-9, `${r.sqnrDb} vs ${asWritten}`);
    // 8-bit weights and activations on a small net: well above 30 dB when evaluated as written.
    assert.ok(r.sqnrDb > 30, `as written ${r.sqnrDb} dB`);
    assert.ok(r.hostKernels, 'a quantized model gets the second figure');
    assert.ok(Math.abs(r.hostKernels.sqnrDb - fused) < 1e-9);
    const differs =
      Math.abs(asWritten - fused) > 1 ||
      Math.abs(r.top1Agreement - r.hostKernels.top1Agreement) > 0.005;
    assert.equal(!!r.hostKernels.warning, differs);
  });

  test('the warning: silent within 1 dB and half a point, else it names the figures, the cause and the remedies', () => {
    const asWritten = { sqnrDb: 40, top1Agreement: 1 };
    assert.equal(hostKernelWarning(asWritten, { sqnrDb: 39.2, top1Agreement: 0.996 }), undefined);
    const w = hostKernelWarning(asWritten, { sqnrDb: 8.6, top1Agreement: 0.9 });
    assert.ok(w);
    assert.match(w, /8\.6 dB against 40\.0 dB/);
    assert.match(w, /without VNNI/);
    assert.match(w, /--reduce-range/);
    assert.match(w, /u8u8/);
    // With labels, accuracy decides and is what the warning quotes.
    const labelled = {
      ...asWritten,
      labelled: {
        accuracyOriginal: 0.944,
        accuracyCompressed: 0.942,
        recall: [],
        confusion: [],
        kappa: 0.9,
      },
    };
    const lw = hostKernelWarning(labelled, {
      sqnrDb: 39.5,
      top1Agreement: 0.95,
      accuracyCompressed: 0.89,
    });
    assert.match(lw ?? '', /accuracy 89\.0% against 94\.2%/);
    assert.equal(
      hostKernelWarning(labelled, { sqnrDb: 39.5, top1Agreement: 1, accuracyCompressed: 0.939 }),
      undefined,
    );
    // Identical outputs on both (∞ dB) are no difference.
    assert.equal(
      hostKernelWarning(
        { sqnrDb: Infinity, top1Agreement: 1 },
        { sqnrDb: Infinity, top1Agreement: 1 },
      ),
      undefined,
    );
  });

  test('a float model, or one with quantized weights only (it computes in float), gets no second figure', async () => {
    const loaded = convNet();
    const original = encodeModel(loaded.model);
    const weightsOnly = quantizeWeights(loaded.model, { bits: 8 }, loaded.external).model;
    assert.equal((await verifyModels(original, original)).hostKernels, undefined);
    assert.equal((await verifyModels(original, encodeModel(weightsOnly))).hostKernels, undefined);
  });

  test(
    'compress --reduce-range stores 7-bit weights in int8; verify prints the labelled second figure',
    { skip: fs.existsSync(cli) ? false : 'dist/cli.js not built' },
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-reduce-'));
      const model = path.join(dir, 'net.onnx');
      saveModelFile(convNet().model, model);
      const out = path.join(dir, 'net.w8a8.onnx');
      const run = (...args: string[]) =>
        spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
      const c = run(
        'compress',
        model,
        '-o',
        out,
        '--quantize',
        'int8',
        '--reduce-range',
        '--activations',
        'auto',
      );
      assert.equal(c.status, 0, c.stderr);
      assert.match(c.stdout, /reduced range/);
      const q = loadModelFile(out);
      const weights = q.model.graph.initializers.filter(
        (t) => t.dataType === DataType.INT8 && t.name.endsWith('_quantized'),
      );
      assert.ok(weights.length >= 3);
      for (const t of weights) {
        const values = tensorNumbers(t);
        assert.ok(Math.min(...values) >= -64 && Math.max(...values) <= 63, t.name);
        assert.ok(
          values.some((v) => Math.abs(v) > 31),
          `${t.name} uses the 7-bit range`,
        );
      }
      const v = run('verify', model, out);
      assert.equal(v.status, 0, v.stderr);
      assert.match(v.stdout, /ORT optimised kernels .*this machine/);
      const j = run('verify', model, out, '--json');
      const doc = JSON.parse(j.stdout);
      assert.equal(typeof doc.hostKernels.sqnrDb, 'number');
      assert.equal(
        run('compress', model, '-o', out, '--quantize', 'int4', '--reduce-range').status,
        2,
      );
    },
  );

  const vgg = path.join(SHARED_MODELS_DIR, 'fmnist_vgg.onnx');
  const data = path.resolve(SHARED_MODELS_DIR, '../data/fashion-mnist');
  test(
    'fmnist_vgg W8A8 calibrated on calib64: labelled accuracy on test1000 within 0.3 pt of float, on any CPU',
    { skip: fs.existsSync(vgg) && fs.existsSync(data) ? false : 'no ../shared/models or data' },
    async () => {
      const loaded = loadModelFile(vgg);
      const weights = quantizeWeights(loaded.model, { bits: 8 }, loaded.external).model;
      const cal = await calibrateActivations(
        { ...loaded, model: weights },
        { inputsDir: path.join(data, 'calib64') },
      );
      const quantized = quantizeActivations(weights, cal).model;
      const r = await verifyModels(vgg, encodeModel(quantized), {
        inputsDir: path.join(data, 'test1000'),
      });
      const l = r.labelled!;
      console.log(
        `fmnist_vgg W8A8: float ${(l.accuracyOriginal * 100).toFixed(1)}%, as written ${(l.accuracyCompressed * 100).toFixed(1)}%, ORT fused kernels on this machine ${((r.hostKernels?.accuracyCompressed ?? NaN) * 100).toFixed(1)}%`,
      );
      assert.ok(Math.abs(l.accuracyOriginal - 0.944) < 1e-9, 'the published float accuracy');
      assert.ok(
        l.accuracyOriginal - l.accuracyCompressed <= 0.003,
        `${l.accuracyCompressed} vs ${l.accuracyOriginal}`,
      );
    },
  );
});
