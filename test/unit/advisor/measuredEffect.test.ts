/**
 * measureEffects (src/core/advisor/measuredEffect.ts): what it measures for a layer and setting
 * is exactly what the compression of that layer alone does to the model, checked against
 * quantizeWeights / pruneUnstructured / quantizeCalibrated / pruneCalibrated verified on the same
 * samples; and the effect's kind follows the model's output.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  measuredSubset,
  measureEffects,
  type EffectTable,
} from '../../../src/core/advisor/measuredEffect';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import { pruneUnstructured } from '../../../src/core/compress/pruneUnstructured';
import { quantizeCalibrated } from '../../../src/core/calibrated/calibratedQuantize';
import { pruneCalibrated } from '../../../src/core/calibrated/calibratedPrune';
import { encodeModel } from '../../../src/core/onnx/encode';
import type { LoadedModel } from '../../../src/core/onnx/load';
import { DataType, type Model } from '../../../src/core/onnx/types';
import {
  inputSpecs,
  ModelRunner,
  randomInputsFor,
  verifyModels,
  type InputSet,
  type VerifyResult,
} from '../../../src/core/verify';
import { gemmMlp } from '../../helpers/gemmMlp';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { LayerRunner } from '../../../src/core/advisor/layerRunner';
import { makeTensor } from '../../../src/core/onnx/build';
import { readFloats } from '../../../src/core/compress/prunedWeights';
import { ExternalData } from '../../../src/core/onnx/externalData';

function sets(loaded: LoadedModel, n: number, seed = 3): InputSet[] {
  const specs = inputSpecs(loaded);
  return Array.from({ length: n }, (_, sample) => randomInputsFor(specs, { seed, sample }));
}

async function verifyOn(
  loaded: LoadedModel,
  model: Model,
  inputs: readonly InputSet[],
  labels?: readonly number[],
): Promise<VerifyResult> {
  return verifyModels(encodeModel(loaded.model), encodeModel(model), {
    inputs: { sets: [...inputs] },
    ...(labels ? { labels } : {}),
    klDivergence: true,
    hostKernels: false,
  });
}

function close(a: number, b: number, what: string): void {
  assert.ok(
    Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(a), Math.abs(b)) + 1e-12,
    `${what}: ${a} vs ${b}`,
  );
}

describe('measureEffects', () => {
  const loaded = gemmMlp([16, 32, 32, 10], 7);
  const inputs = sets(loaded, 12);

  it('measures each layer as quantizeWeights and pruneUnstructured change it alone', async () => {
    const table = await measureEffects(loaded, {
      sets: inputs,
      bits: [8, 4, 2],
      sparsities: [0.5, 0.9],
    });
    assert.equal(table.metric, 'kl');
    assert.equal(table.rows, 'logits');
    // Nearest rounding needs no layer inputs: every sample is measured.
    assert.equal(table.samples, 12);
    assert.equal(table.hessianSamples, 0);
    assert.deepEqual(
      table.layers.map((u) => u.layer),
      ['fc1', 'fc2', 'fc3'],
    );
    for (const u of table.layers) {
      assert.equal(u.skipped, undefined);
      assert.ok(u.bits[8].value < u.bits[4].value, `${u.layer}: 8 bits moves less than 4`);
      assert.ok(u.bits[4].value < u.bits[2].value, `${u.layer}: 4 bits moves less than 2`);
      assert.ok(u.sparsity[0.5].value < u.sparsity[0.9].value);
    }
    const fc2 = table.layers[1];
    const q = quantizeWeights(loaded.model, { bits: 4, layers: ['fc2'] }, loaded.external);
    const v = await verifyOn(loaded, q.model, inputs);
    close(v.klDivergence!, fc2.bits[4].value, 'fc2 at 4 bits');
    close(v.top1Agreement, fc2.bits[4].agreement, 'fc2 agreement');
    const fc3 = table.layers[2];
    const p = pruneUnstructured(
      loaded.model,
      { sparsity: 0.5, scope: 'layer', layers: ['fc3'] },
      loaded.external,
    );
    close(
      (await verifyOn(loaded, p.model, inputs)).klDivergence!,
      fc3.sparsity[0.5].value,
      'fc3 at 50%',
    );
  });

  it('measures GPTQ and SparseGPT with layer inputs from samples it does not measure on', async () => {
    const many = sets(loaded, 32, 5);
    const table = await measureEffects(loaded, {
      sets: many,
      bits: [3],
      sparsities: [0.6],
      rounding: 'gptq',
      pruning: 'sparsegpt',
    });
    const subset = measuredSubset({ sets: many });
    assert.equal(table.samples, 16);
    assert.equal(table.hessianSamples, 16);
    assert.equal(table.hessianApart, true);
    assert.ok(subset.sets.every((s) => !subset.hessianSets.includes(s)));
    const calibration = { inputs: subset.hessianSets };
    const q = await quantizeCalibrated(loaded, { bits: 3, layers: ['fc1'] }, calibration);
    close(
      (await verifyOn(loaded, q.model, subset.sets)).klDivergence!,
      table.layers[0].bits[3].value,
      'fc1 GPTQ 3 bits',
    );
    const p = await pruneCalibrated(loaded, { pattern: 0.6, layers: ['fc2'] }, calibration);
    close(
      (await verifyOn(loaded, p.model, subset.sets)).klDivergence!,
      table.layers[1].sparsity[0.6].value,
      'fc2 SparseGPT 60%',
    );
  });

  it('with labels, measures the accuracy change beside the KL', async () => {
    // One label per row of the first output: 4 rows per sample.
    const labels = Array.from({ length: inputs.length * 4 }, (_, i) => (i * 7) % 10);
    const table: EffectTable = await measureEffects(loaded, {
      sets: inputs,
      labels,
      bits: [2],
    });
    assert.ok(table.referenceAccuracy !== undefined);
    const u = table.layers[0];
    const q = quantizeWeights(loaded.model, { bits: 2, layers: ['fc1'] }, loaded.external);
    const v = await verifyOn(loaded, q.model, inputs, labels);
    close(table.referenceAccuracy!, v.labelled!.accuracyOriginal, 'reference accuracy');
    close(
      u.bits[2].accuracyDelta!,
      v.labelled!.accuracyCompressed - v.labelled!.accuracyOriginal,
      'accuracy change',
    );
  });

  it('takes a model that ends in Softmax as probabilities, and a feature map as output noise', async () => {
    const b = new ModelBuilder({ seed: 2 });
    const x = b.input('x', DataType.FLOAT, [2, 8]);
    const [h] = b.node('Gemm', [x, b.weight('w', [6, 8])], { transB: 1 }, { name: 'fc' });
    const [y] = b.node('Softmax', [h], { axis: 1 }, { name: 'softmax' });
    b.output(y, DataType.FLOAT, [2, 6]);
    const soft = b.load();
    const st = await measureEffects(soft, { sets: sets(soft, 4), bits: [2] });
    assert.equal(st.metric, 'kl');
    assert.equal(st.rows, 'probabilities');

    const c = new ModelBuilder({ seed: 4 });
    const img = c.input('x', DataType.FLOAT, [1, 3, 8, 8]);
    const [f] = c.node(
      'Conv',
      [img, c.weight('k', [4, 3, 3, 3])],
      { pads: [1, 1, 1, 1] },
      {
        name: 'conv',
      },
    );
    c.output(f, DataType.FLOAT, [1, 4, 8, 8]);
    const conv = c.load();
    const samples = sets(conv, 4);
    const ct = await measureEffects(conv, { sets: samples, bits: [4] });
    assert.equal(ct.metric, 'noise');
    const q = quantizeWeights(conv.model, { bits: 4, layers: ['conv'] }, conv.external);
    const v = await verifyOn(conv, q.model, samples);
    close(ct.layers[0].bits[4].value, 10 ** (-v.sqnrDb / 10), 'noise power');
  });

  it('runs only the layers after the weight, fed the cut (residual, int64 shape, Constant weight)', async () => {
    const b = new ModelBuilder({ opset: 13, seed: 6 });
    const x = b.input('x', DataType.FLOAT, ['N', 8]);
    const w3 = makeTensor(
      'w3',
      DataType.FLOAT,
      [10, 8],
      Array.from({ length: 80 }, (_, i) => Math.sin(i)),
    );
    // fc3's weight is made by a Constant node placed first: it lies in every prefix.
    b.node('Constant', [], { value: w3 }, { name: 'w3_const', outputs: ['w3'] });
    const [shape] = b.node('Shape', [x], {}, { name: 'shape' });
    const [h1] = b.node('Gemm', [x, b.weight('w1', [8, 8])], { transB: 1 }, { name: 'fc1' });
    const [r1] = b.node('Relu', [h1], {}, { name: 'relu1' });
    const [h2] = b.node('Gemm', [r1, b.weight('w2', [8, 8])], { transB: 1 }, { name: 'fc2' });
    const [sum] = b.node('Add', [h2, r1], {}, { name: 'residual' });
    const [back] = b.node('Reshape', [sum, shape], {}, { name: 'reshape' });
    const [y] = b.node('Gemm', [back, 'w3'], { transB: 1 }, { name: 'fc3' });
    b.output(y, DataType.FLOAT, ['N', 10]);
    const net = b.load();
    const samples = sets(net, 6);
    // fc2's runs start at fc2, fed relu1's output and the int64 shape.
    const w2 = net.model.graph.initializers.find((t) => t.name === 'w2')!;
    const runner = await LayerRunner.create(net, { source: 'w2', tensor: w2 }, samples);
    try {
      assert.equal(runner.suffixOnly, true);
      const whole = await ModelRunner.create(encodeModel(net.model));
      const values = readFloats(w2, new ExternalData(undefined));
      for (let i = 0; i < samples.length; i++) {
        const expected = await whole.run(samples[i]);
        const got = await runner.run(i, values);
        // The same computation; a weight fed at run time takes another kernel path than a
        // prepacked constant, so the last bit may differ.
        const scale = Math.max(...expected[y].data.map(Math.abs));
        got[y].data.forEach((v, j) =>
          assert.ok(Math.abs(v - expected[y].data[j]) <= 1e-5 * scale, `sample ${i}[${j}]`),
        );
      }
      await whole.release();
    } finally {
      await runner.release();
    }
    const table = await measureEffects(net, { sets: samples, bits: [3], sparsities: [0.5] });
    assert.deepEqual(
      table.layers.map((u) => u.source),
      ['w1', 'w2', 'w3'],
    );
    for (const u of table.layers) {
      const q = quantizeWeights(net.model, { bits: 3, layers: [u.layer] }, net.external);
      close(
        (await verifyOn(net, q.model, samples)).klDivergence!,
        u.bits[3].value,
        `${u.layer} 3 bits`,
      );
      const p = pruneUnstructured(
        net.model,
        { sparsity: 0.5, scope: 'layer', layers: [u.layer] },
        net.external,
      );
      close(
        (await verifyOn(net, p.model, samples)).klDivergence!,
        u.sparsity[0.5].value,
        `${u.layer} 50%`,
      );
    }
  });

  it('skips what it cannot measure, and stops when cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      measureEffects(loaded, { sets: inputs, bits: [8], signal: controller.signal }),
      (e: Error) => e.name === 'AbortError',
    );
    const none = await measureEffects(loaded, { sets: inputs, bits: [], sparsities: [] });
    assert.ok(none.layers.every((u) => u.skipped === undefined || /no candidate/.test(u.skipped)));
  });
});
