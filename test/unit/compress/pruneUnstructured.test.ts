import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  pruneUnstructured,
  sparseToDense,
  zeroSmallest,
} from '../../../src/core/compress/pruneUnstructured';
import { CompressionRefusal } from '../../../src/core/compress/summary';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import { loadModelFile } from '../../../src/core/onnx/load';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { ModelBuilder, seededRandom } from '../../helpers/modelBuilder';
import { SHARED_MODELS_DIR, sharedModels } from '../../helpers/sharedModels';

/** Conv (216 weights) → Flatten → Gemm (transB, 10×128 = 1280 weights) → MatMul (10×6). */
function model(): Model {
  const b = new ModelBuilder({ opset: 13, seed: 7 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 4, 4]);
  const [c] = b.node(
    'Conv',
    [x, b.weight('conv_w', [8, 3, 3, 3])],
    { pads: [1, 1, 1, 1] },
    {
      name: 'conv',
    },
  );
  const [f] = b.node('Flatten', [c], { axis: 1 });
  const [g] = b.node(
    'Gemm',
    [f, b.weight('fc_w', [10, 128]), b.weight('fc_b', [10])],
    {
      transB: 1,
    },
    { name: 'fc' },
  );
  const [y] = b.node('MatMul', [g, b.weight('head_w', [10, 6])], {}, { name: 'head' });
  b.output(y, DataType.FLOAT, [1, 6]);
  return b.load().model;
}

function weightValues(m: Model, name: string): number[] {
  const dense = m.graph.initializers.find((t) => t.name === name);
  if (dense) return tensorNumbers(dense);
  const sparse = m.graph.sparseInitializers.find((s) => s.values?.name === name);
  assert.ok(sparse, `weight '${name}' is stored`);
  return Array.from(sparseToDense(sparse));
}

const zeroCount = (v: readonly number[]): number => v.filter((x) => x === 0).length;

/** Every zeroed original weight is no larger in magnitude than every kept one. */
function assertSmallestZeroed(original: number[], pruned: number[]): void {
  let maxZeroed = 0;
  let minKept = Infinity;
  original.forEach((w, i) => {
    if (pruned[i] === 0) maxZeroed = Math.max(maxZeroed, Math.abs(w));
    else {
      minKept = Math.min(minKept, Math.abs(w));
      assert.equal(pruned[i], w, 'kept weights are unchanged');
    }
  });
  assert.ok(maxZeroed <= minKept, `zeroed up to ${maxZeroed}, kept from ${minKept}`);
}

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>) {
  const session = await ort.InferenceSession.create(bytes);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
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

test('per-layer pruning zeroes exactly the sparsity of each weight, smallest magnitudes first', () => {
  const m = model();
  const { model: pruned, summary } = pruneUnstructured(m, { sparsity: 0.6, scope: 'layer' });
  for (const [name, n] of [
    ['conv_w', 216],
    ['fc_w', 1280],
    ['head_w', 60],
  ] as const) {
    const after = weightValues(pruned, name);
    assert.equal(zeroCount(after), Math.round(0.6 * n), name);
    assertSmallestZeroed(weightValues(m, name), after);
  }
  assert.deepEqual(weightValues(pruned, 'fc_b'), weightValues(m, 'fc_b'), 'biases are not pruned');
  assert.deepEqual(summary.layersTouched, ['conv', 'fc', 'head']);
  assert.equal(summary.macsAfter, summary.macsBefore);
  // 60% < 2/3: sparse storage would be larger, so the weights stay dense.
  assert.equal(pruned.graph.sparseInitializers.length, 0);
  assert.equal(summary.bytesAfter, summary.bytesBefore);
  assert.ok(
    summary.notes.some((n) => /only shrinks once compressed/.test(n)),
    summary.notes.join('\n'),
  );
});

test('global pruning uses one threshold over all layers and hits the total sparsity exactly', () => {
  const m = model();
  const names = ['conv_w', 'fc_w', 'head_w'];
  const { model: pruned } = pruneUnstructured(m, {
    sparsity: 0.5,
    scope: 'global',
    storage: 'dense',
  });
  const before = names.flatMap((n) => weightValues(m, n));
  const after = names.flatMap((n) => weightValues(pruned, n));
  assert.equal(zeroCount(after), Math.round(0.5 * before.length));
  assertSmallestZeroed(before, after);
  // The layers do not all reach 50%: that is what makes it global.
  const perLayer = names.map((n) => zeroCount(weightValues(pruned, n)) / weightValues(m, n).length);
  assert.ok(new Set(perLayer.map((p) => p.toFixed(3))).size > 1, perLayer.join(', '));
});

test('only the named layers are pruned; ties at the threshold still give the exact count', () => {
  const m = model();
  const { model: pruned, summary } = pruneUnstructured(m, {
    sparsity: 0.25,
    scope: 'layer',
    layers: ['head'],
  });
  assert.deepEqual(summary.layersTouched, ['head']);
  assert.deepEqual(weightValues(pruned, 'conv_w'), weightValues(m, 'conv_w'));
  assert.equal(zeroCount(weightValues(pruned, 'head_w')), 15);
  const ties = Float32Array.from([0, 1, 1, 1, -1, 2, 0.5]);
  zeroSmallest([ties], 4);
  assert.deepEqual(Array.from(ties), [0, 0, 0, 1, -1, 2, 0]);
});

test('above 2/3 sparsity weights are stored as sparse_initializer, which round-trips and runs in ORT', async () => {
  const m = model();
  const dense = pruneUnstructured(m, { sparsity: 0.9, scope: 'layer', storage: 'dense' });
  const sparse = pruneUnstructured(m, { sparsity: 0.9, scope: 'layer' });
  const reread = decodeModel(encodeModel(sparse.model));
  assert.deepEqual(
    reread.graph.sparseInitializers.map((s) => s.values?.name),
    ['conv_w', 'fc_w', 'head_w'],
  );
  const conv = reread.graph.sparseInitializers[0];
  assert.deepEqual(conv.dims, [8, 3, 3, 3]);
  assert.equal(conv.indices?.dataType, DataType.INT64);
  assert.deepEqual(conv.indices?.dims, [216 - Math.round(0.9 * 216)]);
  for (const name of ['conv_w', 'fc_w', 'head_w']) {
    assert.deepEqual(weightValues(reread, name), weightValues(dense.model, name), name);
  }
  assert.ok(sparse.summary.notes.some((n) => /sparse_initializer/.test(n)));
  assert.ok(encodeModel(sparse.model).length < encodeModel(dense.model).length / 2);
  const x = randomInput([1, 3, 4, 4], 3);
  const a = await run(encodeModel(dense.model), { x });
  const b = await run(encodeModel(sparse.model), { x });
  assert.deepEqual(
    Array.from(b.head_out0.data as Float32Array),
    Array.from(a.head_out0.data as Float32Array),
  );
});

test('analyze counts a sparse-stored weight at its dense shape, as ONNX Runtime loads it', () => {
  const { summary } = pruneUnstructured(model(), { sparsity: 0.9, scope: 'layer' });
  assert.equal(summary.macsAfter, summary.macsBefore);
  assert.equal(summary.bytesAfter, summary.bytesBefore, 'the runtime holds the densified weights');
});

test("storage 'sparse' forces sparse initializers even below 2/3 sparsity", () => {
  const { model: pruned } = pruneUnstructured(model(), {
    sparsity: 0.5,
    scope: 'layer',
    storage: 'sparse',
  });
  assert.equal(pruned.graph.sparseInitializers.length, 3);
  assert.equal(pruned.graph.initializers.map((t) => t.name).join(), 'fc_b');
});

test('refusals: sparsity out of range, unknown layer, layer without a weight', () => {
  const m = model();
  assert.throws(
    () => pruneUnstructured(m, { sparsity: 1.5, scope: 'layer' }),
    (e: unknown) => e instanceof CompressionRefusal && /out of range/.test(e.message),
  );
  assert.throws(
    () => pruneUnstructured(m, { sparsity: 0.5, scope: 'layer', layers: ['nope'] }),
    /no layer named 'nope'/,
  );
  assert.throws(
    () => pruneUnstructured(m, { sparsity: 0.5, scope: 'layer', layers: ['flatten_1'] }),
    /has no known main weight/,
  );
});

const shared = sharedModels();
for (const file of ['squeezenet1_0.onnx', 'mobilenet_v2.onnx', 'resnet18.onnx']) {
  test(
    `${file}: 50% pruning runs in ORT with unchanged output shapes`,
    { skip: 'skip' in shared ? shared.skip : !fs.existsSync(path.join(SHARED_MODELS_DIR, file)) },
    async () => {
      const loaded = loadModelFile(path.join(SHARED_MODELS_DIR, file));
      const { model: pruned, summary } = pruneUnstructured(
        loaded.model,
        { sparsity: 0.5, scope: 'layer' },
        loaded.external,
      );
      assert.equal(summary.macsAfter, summary.macsBefore);
      assert.ok(summary.layersTouched.length > 10);
      const input = randomInput([1, 3, 224, 224], 11);
      const name = loaded.model.graph.inputs[0].name;
      const before = await run(fs.readFileSync(path.join(SHARED_MODELS_DIR, file)), {
        [name]: input,
      });
      const after = await run(encodeModel(pruned), { [name]: input });
      for (const key of Object.keys(before)) assert.deepEqual(after[key].dims, before[key].dims);
    },
  );
}
