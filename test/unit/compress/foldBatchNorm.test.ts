import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { foldBatchNorm } from '../../../src/core/compress/foldBatchNorm';
import { CompressionRefusal } from '../../../src/core/compress/summary';
import { encodeModel } from '../../../src/core/onnx/encode';
import { verifyModels } from '../../../src/core/verify';
import { loadModelFile } from '../../../src/core/onnx/load';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { ModelBuilder, float, seededRandom, type AttrValue } from '../../helpers/modelBuilder';

const FIXTURE = path.resolve(__dirname, '../../fixtures/exported/audio_conv1d.onnx');

/** BN parameters with non-trivial statistics (variance in [0.5, 1.5)). */
function bnParams(b: ModelBuilder, prefix: string, c: number, seed: number): string[] {
  const rnd = seededRandom(seed);
  const vals = (f: () => number) => Array.from({ length: c }, f);
  return [
    b.initializer(
      `${prefix}_gamma`,
      DataType.FLOAT,
      [c],
      vals(() => 0.5 + rnd()),
    ),
    b.initializer(
      `${prefix}_beta`,
      DataType.FLOAT,
      [c],
      vals(() => rnd() - 0.5),
    ),
    b.initializer(
      `${prefix}_mean`,
      DataType.FLOAT,
      [c],
      vals(() => rnd() - 0.5),
    ),
    b.initializer(
      `${prefix}_var`,
      DataType.FLOAT,
      [c],
      vals(() => 0.5 + rnd()),
    ),
  ];
}

/** x → Conv (bias or not) → BatchNormalization → Relu → y; the Conv output is in value_info. */
function convBn(options: { bias: boolean; transpose?: boolean }): Model {
  const b = new ModelBuilder({ opset: 13, seed: 5 });
  const x = b.input('x', DataType.FLOAT, [1, 4, 6, 6]);
  const op = options.transpose ? 'ConvTranspose' : 'Conv';
  // ConvTranspose weight [Cin, Cout/group, k, k] with group 2 → 6 output channels.
  const w = b.weight('w', options.transpose ? [4, 3, 3, 3] : [6, 4, 3, 3]);
  const inputs = options.bias ? [x, w, b.weight('b', [6])] : [x, w];
  const attrs: Record<string, AttrValue> = options.transpose
    ? { group: 2, strides: [2, 2] }
    : { pads: [1, 1, 1, 1] };
  const [c] = b.node(op, inputs, attrs, { name: 'conv' });
  b.declare(c, DataType.FLOAT, options.transpose ? [1, 6, 13, 13] : [1, 6, 6, 6]);
  const [n] = b.node(
    'BatchNormalization',
    [c, ...bnParams(b, 'bn', 6, 9)],
    { epsilon: float(1e-3) },
    {
      name: 'bn',
    },
  );
  const [y] = b.node('Relu', [n], {}, { name: 'relu' });
  b.output(y, DataType.FLOAT);
  return b.load().model;
}

function randomInput(dims: number[], seed: number): ort.Tensor {
  const rnd = seededRandom(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  return new ort.Tensor(
    'float32',
    Float32Array.from({ length: n }, () => rnd() * 2 - 1),
    dims,
  );
}

async function run(model: Model, feeds: Record<string, ort.Tensor>): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  try {
    const out = await session.run(feeds);
    return session.outputNames.map((n) => out[n].data as Float32Array);
  } finally {
    await session.release();
  }
}

/** max |a − b| / max |a|: the error relative to the output's scale. */
function relativeError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return err / scale;
}

async function assertSameOutputs(a: Model, b: Model, feeds: Record<string, ort.Tensor>) {
  const [ya, yb] = [await run(a, feeds), await run(b, feeds)];
  ya.forEach((y, i) =>
    assert.ok(relativeError(y, yb[i]) < 1e-4, `error ${relativeError(y, yb[i])}`),
  );
}

for (const bias of [false, true]) {
  test(`Conv ${bias ? 'with' : 'without'} bias + BatchNormalization folds and matches in ORT`, async () => {
    const m = convBn({ bias });
    const { model: folded, summary } = foldBatchNorm(m);
    assert.deepEqual(
      folded.graph.nodes.map((n) => n.opType),
      ['Conv', 'Relu'],
    );
    const conv = folded.graph.nodes[0];
    assert.deepEqual(conv.outputs, ['bn_out0'], 'the Conv takes over the BN output name');
    assert.equal(conv.inputs.length, 3, 'a bias is always written');
    assert.deepEqual(
      folded.graph.initializers.map((t) => t.name).sort(),
      bias ? ['b', 'w'] : ['conv_bias', 'w'],
    );
    assert.deepEqual(folded.graph.valueInfo, [], 'the old Conv output is gone from value_info');
    assert.deepEqual(summary.layersTouched, ['conv']);
    assert.equal(summary.macsAfter, summary.macsBefore);
    // 4 BN vectors of 6 floats go; a missing bias (6 floats) comes.
    assert.equal(summary.bytesBefore - summary.bytesAfter, (bias ? 4 : 3) * 6 * 4);
    assert.match(summary.notes[0], /folded 'bn' into Conv 'conv'/);
    await assertSameOutputs(m, folded, { x: randomInput([1, 4, 6, 6], 1) });
  });
}

test('ConvTranspose (group 2) + BatchNormalization folds and matches in ORT', async () => {
  const m = convBn({ bias: true, transpose: true });
  const { model: folded } = foldBatchNorm(m);
  assert.deepEqual(
    folded.graph.nodes.map((n) => n.opType),
    ['ConvTranspose', 'Relu'],
  );
  await assertSameOutputs(m, folded, { x: randomInput([1, 4, 6, 6], 2) });
});

test('the exported audio_conv1d fixture folds all 4 BatchNormalizations and still matches', async () => {
  const loaded = loadModelFile(FIXTURE);
  const m = loaded.model;
  assert.equal(m.graph.nodes.filter((n) => n.opType === 'BatchNormalization').length, 4);
  const { model: folded, summary } = foldBatchNorm(m, {}, loaded.external);
  assert.equal(summary.layersTouched.length, 4);
  assert.ok(!folded.graph.nodes.some((n) => n.opType === 'BatchNormalization'));
  // features.9's BN read features.5's γ/β through Identity (the exporter shares equal tensors):
  // with both BNs gone, the Identity nodes and the shared tensors go too.
  assert.ok(!folded.graph.nodes.some((n) => n.opType === 'Identity'));
  assert.ok(!folded.graph.initializers.some((t) => /running_|features\.(1|5|9|12)\./.test(t.name)));
  assert.equal(summary.macsAfter, summary.macsBefore);
  assert.ok(summary.bytesAfter < summary.bytesBefore);
  await assertSameOutputs(m, folded, { waveform: randomInput([2, 1, 4000], 3) });
  const v = await verifyModels(encodeModel(m), encodeModel(folded), {
    samples: 4,
    seed: 1,
    inputShapes: new Map([['waveform', [2, 1, 4000]]]),
  });
  assert.ok(v.sqnrDb > 80, `SQNR ${v.sqnrDb} dB`);
  assert.equal(v.top1Agreement, 1);
});

test('only the named pairs are folded', () => {
  const loaded = loadModelFile(FIXTURE);
  const { model: folded, summary } = foldBatchNorm(loaded.model, {
    layers: ['/features/features.5/BatchNormalization', '/features/features.11/Conv'],
  });
  assert.deepEqual(summary.layersTouched, [
    '/features/features.4/Conv',
    '/features/features.11/Conv',
  ]);
  assert.equal(folded.graph.nodes.filter((n) => n.opType === 'BatchNormalization').length, 2);
  // features.9's BN still reads features.5's γ/β through Identity, so they stay.
  assert.ok(folded.graph.initializers.some((t) => t.name === 'features.5.weight'));
});

test('refusals name the reason', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 2, 4, 4]);
  const [c] = b.node('Conv', [x, b.weight('w', [2, 2, 1, 1])], {}, { name: 'conv' });
  const [r] = b.node('Relu', [c], {}, { name: 'relu' });
  const [n] = b.node('BatchNormalization', [r, ...bnParams(b, 'bn', 2, 1)], {}, { name: 'bn1' });
  b.output(n);
  assert.throws(
    () => foldBatchNorm(b.build()),
    (e: unknown) =>
      e instanceof CompressionRefusal &&
      e.message === "no Conv → BatchNormalization pair: bn1 reads a Relu ('relu')",
  );

  const shared = new ModelBuilder({ opset: 13 });
  const sx = shared.input('x', DataType.FLOAT, [1, 2, 4, 4]);
  const [sc] = shared.node('Conv', [sx, shared.weight('w', [2, 2, 1, 1])], {}, { name: 'conv' });
  const [sn] = shared.node(
    'BatchNormalization',
    [sc, ...bnParams(shared, 'bn', 2, 1)],
    {},
    {
      name: 'bn',
    },
  );
  shared.output(sn);
  shared.output(sc);
  assert.throws(
    () => foldBatchNorm(shared.build()),
    /the output of 'conv' also feeds a graph output, not only 'bn'/,
  );
  assert.throws(
    () => foldBatchNorm(convBn({ bias: true }), { layers: ['x'] }),
    /no layer named 'x'/,
  );

  const none = new ModelBuilder({ opset: 13 });
  none.output(none.node('Relu', [none.input('x', DataType.FLOAT, [1])])[0]);
  assert.throws(
    () => foldBatchNorm(none.build()),
    /^CompressionRefusal: no BatchNormalization in the model$/,
  );
});
