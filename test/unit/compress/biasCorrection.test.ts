import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  biasCorrect,
  biasCorrectionTargets,
  correctBias,
} from '../../../src/core/compress/biasCorrection';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import { encodeModel } from '../../../src/core/onnx/encode';
import type { LoadedModel } from '../../../src/core/onnx/load';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { runModel, writeNpy } from '../../../src/core/verify';
import { ModelBuilder } from '../../helpers/modelBuilder';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * A calibration folder of `count` samples of input `x`: every input channel (axis `axis`) has
 * its own positive mean, constant over the other axes within a sample (so that a Conv without
 * padding sees exactly the channel mean in every column of its window), plus per-sample noise.
 */
function writeSamples(dir: string, dims: number[], axis: number, count = 6): Float32Array[] {
  const random = seeded(42);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channels = dims[axis];
  const n = dims.reduce((a, b) => a * b, 1);
  const samples: Float32Array[] = [];
  for (let s = 0; s < count; s++) {
    const noise = Array.from({ length: channels }, () => random() - 0.5);
    const data = Float32Array.from({ length: n }, (_, i) => {
      const c = Math.floor(i / inner) % channels;
      return 1 + c / 4 + noise[c];
    });
    fs.mkdirSync(path.join(dir, String(s)), { recursive: true });
    fs.writeFileSync(
      path.join(dir, String(s), 'x.npy'),
      writeNpy({ dtype: 'float32', dims, data }),
    );
    samples.push(data);
  }
  return samples;
}

/** Mean of output `y` over the samples, per index of its axis `axis`. */
async function outputMeans(
  model: Model,
  samples: Float32Array[],
  dims: number[],
  axis: number,
): Promise<Float64Array> {
  let sums: Float64Array | undefined;
  let count = 0;
  for (const data of samples) {
    const out = await runModel(encodeModel(model), { x: { data, dims, dtype: 'float32' } });
    const y = out.y;
    const channels = y.dims[axis];
    const inner = y.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    sums ??= new Float64Array(channels);
    y.data.forEach((v, i) => (sums![Math.floor(i / inner) % channels] += v));
    count += y.data.length / channels;
  }
  return sums!.map((s) => s / count);
}

function maxGap(a: Float64Array, b: Float64Array): number {
  return Math.max(...a.map((v, i) => Math.abs(v - b[i])));
}

/**
 * Quantizes `loaded` at 3 bits (rounding to nearest), corrects the biases from `samples`, and
 * checks that the corrected output means match the float model's where the uncorrected ones
 * were clearly off.
 */
async function checkCorrection(
  loaded: LoadedModel,
  dir: string,
  samples: Float32Array[],
  inputDims: number[],
  outputAxis: number,
): Promise<Model> {
  const quantized = quantizeWeights(loaded.model, { bits: 3, perChannel: true }).model;
  const corrected = await biasCorrect(
    { model: quantized, external: loaded.external, fileBytes: 0 },
    loaded,
    { inputsDir: dir },
  );
  const float = await outputMeans(loaded.model, samples, inputDims, outputAxis);
  const before = await outputMeans(quantized, samples, inputDims, outputAxis);
  const after = await outputMeans(corrected.model, samples, inputDims, outputAxis);
  assert.ok(
    maxGap(before, float) > 0.05,
    `3-bit rounding shifts the mean: ${maxGap(before, float)}`,
  );
  assert.ok(maxGap(after, float) < 1e-4, `corrected mean off by ${maxGap(after, float)}`);
  assert.match(corrected.summary.notes[0], /bias correction .* 1 layer\(s\)/);
  assert.match(corrected.summary.notes[0], /over 6 sample\(s\) from the calibration folder/);
  return corrected.model;
}

describe('bias correction', () => {
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-bias-'));
  });

  test('grouped Conv without a bias: one is created and gives back the float output mean', async () => {
    const b = new ModelBuilder({ opset: 13, seed: 3 });
    const x = b.input('x', DataType.FLOAT, [1, 4, 6, 6]);
    b.node(
      'Conv',
      [x, b.weight('w', [6, 2, 3, 3])],
      { group: 2 },
      { name: 'conv', outputs: ['y'] },
    );
    b.output('y', DataType.FLOAT, [1, 6, 4, 4]);
    const dir = path.join(root, 'conv');
    const samples = writeSamples(dir, [1, 4, 6, 6], 1);
    const model = await checkCorrection(b.load(), dir, samples, [1, 4, 6, 6], 1);
    const conv = model.graph.nodes.find((n) => n.name === 'conv')!;
    assert.equal(conv.inputs.length, 3);
    const bias = model.graph.initializers.find((t) => t.name === conv.inputs[2])!;
    assert.deepEqual(bias.dims, [6]);
  });

  test('Gemm with transB, alpha and beta: C is corrected in its broadcast shape', async () => {
    const b = new ModelBuilder({ opset: 13, seed: 5 });
    const x = b.input('x', DataType.FLOAT, [4, 16]);
    const c = b.initializer('c', DataType.FLOAT, [1, 1], [0.25]);
    b.node(
      'Gemm',
      [x, b.weight('w', [8, 16]), c],
      { transB: 1, alpha: 0.5, beta: 1.5 },
      { name: 'fc', outputs: ['y'] },
    );
    b.output('y', DataType.FLOAT, [4, 8]);
    const dir = path.join(root, 'gemm');
    const samples = writeSamples(dir, [4, 16], 1);
    const model = await checkCorrection(b.load(), dir, samples, [4, 16], 1);
    const corrected = model.graph.initializers.find((t) => t.name === 'c')!;
    assert.deepEqual(corrected.dims, [1, 8], 'widened from [1, 1] to one value per output');
  });

  test("MatMul: the constant of the Add after it is corrected, as a copy when it's shared", async () => {
    const b = new ModelBuilder({ opset: 13, seed: 7 });
    const x = b.input('x', DataType.FLOAT, [2, 3, 12]);
    const bias = b.weight('bias', [5]);
    const [h] = b.node('MatMul', [x, b.weight('w', [12, 5])], {}, { name: 'mm' });
    b.node('Add', [h, bias], {}, { name: 'add', outputs: ['y'] });
    // Another reader of the same constant must keep the original values.
    b.node('Add', [bias, bias], {}, { name: 'other', outputs: ['z'] });
    b.output('y', DataType.FLOAT, [2, 3, 5]);
    b.output('z', DataType.FLOAT, [5]);
    const dir = path.join(root, 'matmul');
    const samples = writeSamples(dir, [2, 3, 12], 2);
    const loaded = b.load();
    const model = await checkCorrection(loaded, dir, samples, [2, 3, 12], 2);
    const add = model.graph.nodes.find((n) => n.name === 'add')!;
    assert.notEqual(add.inputs[1], 'bias');
    const original = loaded.model.graph.initializers.find((t) => t.name === 'bias')!;
    const kept = model.graph.initializers.find((t) => t.name === 'bias')!;
    assert.deepEqual(tensorNumbers(kept), tensorNumbers(original));
  });

  test('correctBias alone: the shift is (W − Ŵ)·E[x]; layers already quantized are left alone', () => {
    const b = new ModelBuilder({ opset: 13, seed: 9 });
    const x = b.input('x', DataType.FLOAT, [1, 4]);
    const [h] = b.node('MatMul', [x, b.weight('w', [4, 3])], {}, { name: 'mm' });
    b.node('Add', [h, b.initializer('bias', DataType.FLOAT, [3], [0, 0, 0])], {}, { name: 'add' });
    const original = b.build();
    const quantized = quantizeWeights(original, { bits: 2, perChannel: true }).model;
    // Quantizing again finds no float weight in `quantized`: nothing to correct there.
    assert.equal(biasCorrectionTargets(quantized, quantized).length, 0);
    const [target] = biasCorrectionTargets(quantized, original);
    assert.equal(target.label, 'mm');
    const means = new Map([['x', Float64Array.from([1, -2, 0.5, 3])]]);
    const r = correctBias(quantized, original, means);
    const w = tensorNumbers(original.graph.initializers.find((t) => t.name === 'w')!);
    const dq = quantized.graph.nodes.find((n) => n.opType === 'DequantizeLinear')!;
    const init = (name: string) => quantized.graph.initializers.find((t) => t.name === name)!;
    const q = tensorNumbers(init(dq.inputs[0]));
    const scales = tensorNumbers(init(dq.inputs[1]));
    const expected = [0, 1, 2].map((n) =>
      [0, 1, 2, 3].reduce(
        (sum, k) =>
          sum + (w[k * 3 + n] - Math.fround(q[k * 3 + n] * scales[n])) * means.get('x')![k],
        0,
      ),
    );
    const bias = tensorNumbers(r.model.graph.initializers.find((t) => t.name === 'bias')!);
    bias.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `${v} vs ${expected[i]}`));
    // Means of the wrong length are refused for that layer, with a note.
    const wrong = correctBias(quantized, original, new Map([['x', new Float64Array(2)]]));
    assert.match(wrong.summary.notes.join('\n'), /not corrected: mm \(no input means\)/);
  });
});
