import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { analyzeBytes } from '../../../src/core/analyze';
import { predictStructuredMacs, pruneFilters } from '../../../src/core/compress/pruneStructured';
import { CompressionRefusal } from '../../../src/core/compress/summary';
import { encodeModel } from '../../../src/core/onnx/encode';
import { loadModelFile } from '../../../src/core/onnx/load';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { runModel, verifyModels } from '../../../src/core/verify';
import { ModelBuilder, float, seededRandom } from '../../helpers/modelBuilder';
import { SHARED_MODELS_DIR, sharedModels } from '../../helpers/sharedModels';

/**
 * Random filters, except the listed ones, which are all zero. A zero filter with a zero bias
 * contributes nothing after Relu, so removing it must leave the model's output unchanged.
 */
function filters(count: number, size: number, zero: readonly number[], seed: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: count * size }, (_, i) =>
    zero.includes(Math.floor(i / size)) ? 0 : random() * 2 - 1,
  );
}

/** Per-channel values, zero at the listed channels. */
function perChannel(count: number, zero: readonly number[], seed: number, offset = 0): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => (zero.includes(i) ? 0 : offset + random()));
}

function values(model: Model, name: string): number[] {
  const t = model.graph.initializers.find((i) => i.name === name);
  assert.ok(t, `initializer ${name}`);
  return tensorNumbers(t);
}

function dims(model: Model, name: string): readonly number[] {
  return model.graph.initializers.find((i) => i.name === name)!.dims;
}

/** Picks entries of a row-major [rows, cols] array: the given columns of every row. */
function columns(data: readonly number[], cols: number, keep: readonly number[]): number[] {
  const out: number[] = [];
  for (let r = 0; r < data.length / cols; r++) for (const c of keep) out.push(data[r * cols + c]);
  return out;
}

/** Loads both models in ORT: same output shapes, and outputs equal (pruned filters were zero). */
async function assertSameOutputs(original: Model, pruned: Model): Promise<void> {
  const a = encodeModel(original);
  const b = encodeModel(pruned);
  const result = await verifyModels(a, b, { samples: 2, seed: 3 });
  assert.ok(result.maxAbsError < 1e-5, `max abs error ${result.maxAbsError}`);
  const inputs = Object.fromEntries(
    original.graph.inputs.map((i) => {
      const shape = i.type!.shape as number[];
      const n = shape.reduce((p, d) => p * d, 1);
      return [i.name, { dtype: 'float32', dims: shape, data: new Float32Array(n).fill(0.5) }];
    }),
  );
  const [before, after] = [await runModel(a, inputs), await runModel(b, inputs)];
  for (const name of Object.keys(before)) assert.deepEqual(after[name].dims, before[name].dims);
}

function macs(model: Model): number {
  return analyzeBytes(encodeModel(model)).totals.macs;
}

test('(1) Conv→BN→Relu→Conv: the 4 zero filters go, BN and the next conv follow', async () => {
  const zero = [1, 3, 4, 6];
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const w1 = b.initializer('w1', DataType.FLOAT, [8, 3, 3, 3], filters(8, 27, zero, 1));
  const b1 = b.initializer('b1', DataType.FLOAT, [8], perChannel(8, zero, 2));
  const [c1] = b.node('Conv', [x, w1, b1], { pads: [1, 1, 1, 1] }, { name: 'conv1' });
  const bn = ['scale', 'beta', 'mean'].map((n, i) =>
    b.initializer(n, DataType.FLOAT, [8], perChannel(8, zero, 10 + i, 0.5)),
  );
  const vr = b.initializer('var', DataType.FLOAT, [8], perChannel(8, [], 13, 0.5));
  const [n1] = b.node(
    'BatchNormalization',
    [c1, ...bn, vr],
    { epsilon: float(1e-5) },
    { name: 'bn' },
  );
  const [r1] = b.node('Relu', [n1], {}, { name: 'relu' });
  const w2 = b.weight('w2', [4, 8, 3, 3]);
  const [y] = b.node('Conv', [r1, w2], { pads: [1, 1, 1, 1] }, { name: 'conv2' });
  b.output(y, DataType.FLOAT, [1, 4, 8, 8]);
  // Exporters declare intermediate shapes; ORT rejects a stale one, so they must shrink too.
  b.declare(c1, DataType.FLOAT, [1, 8, 8, 8]);
  b.declare(r1, DataType.FLOAT, [1, 8, 8, 8]);
  const original = b.load().model;

  const { model, summary } = pruneFilters(original, { fraction: 0.5 });
  const kept = [0, 2, 5, 7];
  assert.deepEqual(
    model.graph.valueInfo.map((v) => v.type?.shape),
    [
      [1, 4, 8, 8],
      [1, 4, 8, 8],
    ],
  );
  assert.deepEqual(dims(model, 'w1'), [4, 3, 3, 3]);
  const w1All = values(original, 'w1');
  assert.deepEqual(
    values(model, 'w1'),
    kept.flatMap((k) => w1All.slice(k * 27, k * 27 + 27)),
  );
  for (const p of ['b1', 'scale', 'beta', 'mean', 'var']) {
    const all = values(original, p);
    assert.deepEqual(
      values(model, p),
      kept.map((k) => all[k]),
      p,
    );
  }
  assert.deepEqual(dims(model, 'w2'), [4, 4, 3, 3]);
  // w2 viewed as [out·in, 3·3]: keep input channels `kept` of each output filter.
  const w2Rows = [0, 1, 2, 3].flatMap((o) => kept.map((k) => o * 8 + k));
  const w2All = values(original, 'w2');
  assert.deepEqual(
    values(model, 'w2'),
    w2Rows.flatMap((r) => w2All.slice(r * 9, r * 9 + 9)),
  );

  // Hand prediction: conv1 4·64 outputs × 27, conv2 4·64 outputs × 4·9 (BN has no MACs).
  const predicted = 4 * 64 * 27 + 4 * 64 * 4 * 9;
  assert.equal(summary.macsBefore, 8 * 64 * 27 + 4 * 64 * 8 * 9);
  assert.equal(summary.macsAfter, predicted);
  assert.equal(macs(model), predicted);
  assert.equal(predictStructuredMacs(original, { fraction: 0.5 }).macsAfter, predicted);
  assert.ok(summary.bytesAfter < summary.bytesBefore);
  assert.deepEqual(summary.layersTouched.sort(), ['bn', 'conv1', 'conv2']);
  await assertSameOutputs(original, model);
});

test('(2) residual block: both summands lose the same channels, scored together', async () => {
  // convA zero at {0, 2, 5}, convB zero at {2, 5}: scored alone convA would lose {0, 2}; summed
  // over the group, channel 0 has convB's weight, so {2, 5} go.
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 4, 6, 6]);
  const wa = b.initializer('wa', DataType.FLOAT, [8, 4, 1, 1], filters(8, 4, [0, 2, 5], 1));
  const ba = b.initializer('ba', DataType.FLOAT, [8], perChannel(8, [2, 5], 2));
  const [a] = b.node('Conv', [x, wa, ba], {}, { name: 'convA' });
  const [r] = b.node('Relu', [a], {}, { name: 'reluA' });
  const wb = b.initializer('wb', DataType.FLOAT, [8, 8, 3, 3], filters(8, 72, [2, 5], 3));
  const [cb] = b.node('Conv', [r, wb], { pads: [1, 1, 1, 1] }, { name: 'convB' });
  const [sum] = b.node('Add', [cb, r], {}, { name: 'add' });
  const [r2] = b.node('Relu', [sum], {}, { name: 'reluB' });
  const [y] = b.node('Conv', [r2, b.weight('wc', [2, 8, 1, 1])], {}, { name: 'convC' });
  b.output(y, DataType.FLOAT, [1, 2, 6, 6]);
  const original = b.load().model;

  const { model, summary } = pruneFilters(original, { fraction: 0.25 });
  const kept = [0, 1, 3, 4, 6, 7];
  assert.deepEqual(dims(model, 'wa'), [6, 4, 1, 1]);
  assert.deepEqual(dims(model, 'wb'), [6, 6, 3, 3], 'convB: filters and inputs, same indices');
  assert.deepEqual(dims(model, 'wc'), [2, 6, 1, 1]);
  assert.deepEqual(values(model, 'wc'), columns(values(original, 'wc'), 8, kept));
  assert.deepEqual(
    values(model, 'ba'),
    kept.map((k) => values(original, 'ba')[k]),
  );
  const predicted = 6 * 36 * 4 + 6 * 36 * 6 * 9 + 2 * 36 * 6;
  assert.equal(summary.macsBefore, 8 * 36 * 4 + 8 * 36 * 8 * 9 + 2 * 36 * 8);
  assert.equal(summary.macsAfter, predicted);
  assert.equal(predictStructuredMacs(original, { fraction: 0.25 }).macsAfter, predicted);
  assert.ok(summary.notes.includes('convA (+1 joined): 8 → 6 channels'), summary.notes.join('; '));
  await assertSameOutputs(original, model);
});

test('(3) depthwise conv between pointwise convs: its filters and group follow', async () => {
  const zero = [0, 3, 4, 6];
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 4, 8, 8]);
  const w1 = b.initializer('pw1', DataType.FLOAT, [8, 4, 1, 1], filters(8, 4, zero, 1));
  const [p1] = b.node('Conv', [x, w1], {}, { name: 'pw1' });
  const [r1] = b.node('Relu', [p1]);
  // The depthwise filters count in the channel score too: zero them on the same channels.
  const wd = b.initializer('dw', DataType.FLOAT, [8, 1, 3, 3], filters(8, 9, zero, 5));
  const bd = b.initializer('dwb', DataType.FLOAT, [8], perChannel(8, zero, 4));
  const [d] = b.node('Conv', [r1, wd, bd], { group: 8, pads: [1, 1, 1, 1] }, { name: 'dwconv' });
  const [r2] = b.node('Relu', [d]);
  const [y] = b.node('Conv', [r2, b.weight('pw2', [4, 8, 1, 1])], {}, { name: 'pw2' });
  b.output(y, DataType.FLOAT, [1, 4, 8, 8]);
  const original = b.load().model;

  const { model, summary } = pruneFilters(original, { fraction: 0.5 });
  const kept = [1, 2, 5, 7];
  const dw = model.graph.nodes.find((n) => n.name === 'dwconv')!;
  assert.equal(dw.attributes.find((a) => a.name === 'group')?.i, 4);
  assert.deepEqual(dims(model, 'dw'), [4, 1, 3, 3]);
  const dwAll = values(original, 'dw');
  assert.deepEqual(
    values(model, 'dw'),
    kept.flatMap((k) => dwAll.slice(k * 9, k * 9 + 9)),
  );
  assert.deepEqual(dims(model, 'dwb'), [4]);
  assert.deepEqual(values(model, 'pw2'), columns(values(original, 'pw2'), 8, kept));
  // pw1 4·64 × 4, depthwise 4·64 × 9, pw2 4·64 × 4.
  const predicted = 4 * 64 * 4 + 4 * 64 * 9 + 4 * 64 * 4;
  assert.equal(summary.macsBefore, 8 * 64 * 4 + 8 * 64 * 9 + 4 * 64 * 8);
  assert.equal(summary.macsAfter, predicted);
  await assertSameOutputs(original, model);
});

test('(4) Concat of two convs feeding a conv: kept channels move to their offsets', async () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 6, 6]);
  const w1 = b.initializer('w1', DataType.FLOAT, [4, 3, 1, 1], filters(4, 3, [0, 3], 1));
  const [c1] = b.node('Conv', [x, w1], {}, { name: 'left' });
  const w2 = b.initializer('w2', DataType.FLOAT, [6, 3, 3, 3], filters(6, 27, [1, 2, 4], 2));
  const b2 = b.initializer('b2', DataType.FLOAT, [6], perChannel(6, [1, 2, 4], 3));
  const [c2] = b.node('Conv', [x, w2, b2], { pads: [1, 1, 1, 1] }, { name: 'right' });
  const [r1] = b.node('Relu', [c1]);
  const [r2] = b.node('Relu', [c2]);
  const [cat] = b.node('Concat', [r1, r2], { axis: 1 }, { name: 'cat' });
  const [y] = b.node('Conv', [cat, b.weight('w3', [2, 10, 1, 1])], {}, { name: 'head' });
  b.output(y, DataType.FLOAT, [1, 2, 6, 6]);
  const original = b.load().model;

  const { model, summary } = pruneFilters(original, { fraction: 0.5 });
  assert.deepEqual(dims(model, 'w1'), [2, 3, 1, 1]);
  assert.deepEqual(dims(model, 'w2'), [3, 3, 3, 3]);
  // left keeps {1, 2} at offset 0, right keeps {0, 3, 5} at offset 4.
  assert.deepEqual(values(model, 'w3'), columns(values(original, 'w3'), 10, [1, 2, 4, 7, 9]));
  const predicted = 2 * 36 * 3 + 3 * 36 * 27 + 2 * 36 * 5;
  assert.equal(summary.macsBefore, 4 * 36 * 3 + 6 * 36 * 27 + 2 * 36 * 10);
  assert.equal(summary.macsAfter, predicted);
  await assertSameOutputs(original, model);
});

test('(5) Flatten→Gemm: each removed channel takes its H·W consecutive inputs', async () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 2, 4, 4]);
  const w = b.initializer('w', DataType.FLOAT, [4, 2, 3, 3], filters(4, 18, [1, 2], 1));
  const [c] = b.node('Conv', [x, w], { pads: [1, 1, 1, 1] }, { name: 'conv' });
  const [r] = b.node('Relu', [c]);
  const [p] = b.node('MaxPool', [r], { kernel_shape: [2, 2], strides: [2, 2] });
  const [f] = b.node('Flatten', [p], { axis: 1 }, { name: 'flatten' });
  const fc = b.weight('fc', [3, 16]);
  const [y] = b.node('Gemm', [f, fc, b.weight('fcb', [3])], { transB: 1 }, { name: 'fc' });
  b.output(y, DataType.FLOAT, [1, 3]);
  const original = b.load().model;

  const { model, summary } = pruneFilters(original, { fraction: 0.5 });
  assert.deepEqual(dims(model, 'fc'), [3, 8]);
  const rows = [0, 1, 2, 3, 12, 13, 14, 15];
  assert.deepEqual(values(model, 'fc'), columns(values(original, 'fc'), 16, rows));
  const predicted = 2 * 16 * 18 + 3 * 8;
  assert.equal(summary.macsBefore, 4 * 16 * 18 + 3 * 16);
  assert.equal(summary.macsAfter, predicted);
  assert.equal(predictStructuredMacs(original, { fraction: 0.5 }).macsAfter, predicted);
  await assertSameOutputs(original, model);
});

describe('(6) refusals and skipped groups name the blocking dependency', () => {
  function reshaped(): Model {
    const b = new ModelBuilder({ opset: 13 });
    const x = b.input('x', DataType.FLOAT, [1, 2, 4, 4]);
    const [c] = b.node('Conv', [x, b.weight('w', [4, 2, 1, 1])], {}, { name: 'conv' });
    const [r] = b.node('Reshape', [c, b.ints('shape', [1, -1])], {}, { name: 'reshape' });
    const [y] = b.node('Gemm', [r, b.weight('fc', [64, 3])], {}, { name: 'fc' });
    b.output(y, DataType.FLOAT, [1, 3]);
    return b.load().model;
  }
  const reason = "channel axis of 'conv_out0' consumed by Reshape 'reshape' (unknown layout)";

  test('a named layer whose channels reach a Reshape', () => {
    assert.throws(
      () => pruneFilters(reshaped(), { fraction: 0.5, layers: ['conv'] }),
      (e: unknown) => e instanceof CompressionRefusal && e.message === reason,
    );
  });

  test('a model with nothing prunable refuses with the first reason', () => {
    assert.throws(
      () => pruneFilters(reshaped(), { fraction: 0.5 }),
      (e: unknown) => e instanceof CompressionRefusal && e.message === reason,
    );
  });

  test('a group reaching a graph output is skipped with a note; the others are pruned', () => {
    const b = new ModelBuilder({ opset: 13 });
    const x = b.input('x', DataType.FLOAT, [1, 2, 4, 4]);
    const [c1] = b.node('Conv', [x, b.weight('w1', [4, 2, 1, 1])], {}, { name: 'c1' });
    const [y] = b.node('Conv', [c1, b.weight('w2', [4, 4, 1, 1])], {}, { name: 'c2' });
    b.output(y, DataType.FLOAT, [1, 4, 4, 4]);
    const original = b.load().model;
    const { model, summary } = pruneFilters(original, { fraction: 0.5 });
    assert.deepEqual(dims(model, 'w1'), [2, 2, 1, 1]);
    assert.deepEqual(dims(model, 'w2'), [4, 2, 1, 1]);
    assert.ok(
      summary.notes.includes("skipped c2: c2 output reaches graph output 'c2_out0' directly"),
      summary.notes.join('; '),
    );
    assert.throws(
      () => pruneFilters(original, { fraction: 0.5, layers: ['c2'] }),
      /^CompressionRefusal: c2 output reaches graph output 'c2_out0' directly$/,
    );
  });

  test('never prunes a group to zero channels, and checks the fraction', () => {
    const b = new ModelBuilder({ opset: 13 });
    const x = b.input('x', DataType.FLOAT, [1, 2, 4, 4]);
    const [c1] = b.node('Conv', [x, b.weight('w1', [4, 2, 1, 1])], {}, { name: 'c1' });
    const [y] = b.node('Conv', [c1, b.weight('w2', [3, 4, 1, 1])], {}, { name: 'c2' });
    b.output(y);
    const original = b.load().model;
    assert.deepEqual(dims(pruneFilters(original, { fraction: 1 }).model, 'w1'), [1, 2, 1, 1]);
    assert.throws(() => pruneFilters(original, { fraction: 1.5 }), /out of range/);
    assert.throws(() => pruneFilters(original, { fraction: 0.1 }), /removes no filter/);
  });
});

const shared = sharedModels();

describe('shared models: 25% structured pruning', { skip: 'skip' in shared && shared.skip }, () => {
  for (const ref of Object.values('models' in shared ? shared.models : {})) {
    test(`${ref.file}: ORT runs it, output shape unchanged, MACs as predicted`, async () => {
      const loaded = loadModelFile(path.join(SHARED_MODELS_DIR, ref.file));
      const { model, summary } = pruneFilters(loaded.model, { fraction: 0.25 }, loaded.external);
      const predicted = predictStructuredMacs(loaded.model, { fraction: 0.25 }, loaded.external);
      assert.ok(summary.macsAfter < summary.macsBefore);
      assert.equal(summary.macsBefore, predicted.macsBefore);
      assert.equal(summary.macsAfter, predicted.macsAfter);
      const skipped = summary.notes.filter((n) => n.startsWith('skipped'));
      // Printed so the figures show in the test log.
      console.log(
        `${ref.file}: MACs ${summary.macsBefore} → ${summary.macsAfter}, weight bytes ${summary.bytesBefore} → ${summary.bytesAfter}; ${skipped.length ? skipped.join('; ') : 'no group skipped'}`,
      );
      const random = seededRandom(7);
      const input = {
        dtype: 'float32',
        dims: [1, 3, 224, 224],
        data: Float32Array.from({ length: 3 * 224 * 224 }, () => random() * 2 - 1),
      };
      const before = await runModel(encodeModel(loaded.model), { input });
      const after = await runModel(encodeModel(model), { input });
      for (const name of Object.keys(before)) assert.deepEqual(after[name].dims, before[name].dims);
    });
  }
});
