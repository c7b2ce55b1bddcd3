import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import {
  factorizationCandidates,
  factorizeLowRank,
  truncatedSvd,
} from '../../../src/core/compress/factorize';
import { CompressionRefusal } from '../../../src/core/compress/summary';
import { analyzeBytes } from '../../../src/core/analyze';
import { encodeModel } from '../../../src/core/onnx/encode';
import { verifyModels } from '../../../src/core/verify';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { ModelBuilder, float, seededRandom } from '../../helpers/modelBuilder';

const K = 24;
const N = 16;

/** A [K, N] weight of rank 4: W = P·Q with P [K, 4] and Q [4, N] random. */
function lowRankWeight(seed: number): Float64Array {
  const rnd = seededRandom(seed);
  const p = Array.from({ length: K * 4 }, () => rnd() * 2 - 1);
  const q = Array.from({ length: 4 * N }, () => rnd() * 2 - 1);
  const w = new Float64Array(K * N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < 4; j++) w[k * N + n] += p[k * 4 + j] * q[j * N + n];
    }
  }
  return w;
}

function transpose(w: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
  return t;
}

/** x [2, 3, K] → MatMul(W [K, N]) → Relu → y. */
function matmulModel(w: Float64Array): Model {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [2, 3, K]);
  const [h] = b.node(
    'MatMul',
    [x, b.initializer('w', DataType.FLOAT, [K, N], w)],
    {},
    {
      name: 'proj',
    },
  );
  const [y] = b.node('Relu', [h]);
  b.output(y, DataType.FLOAT, [2, 3, N]);
  return b.load().model;
}

/** Gemm(x, W stored transposed [N, K], C [N]) with alpha and beta; transA takes x as [K, M]. */
function gemmModel(w: Float64Array, transA: boolean): Model {
  const b = new ModelBuilder({ opset: 13, seed: 4 });
  const x = b.input('x', DataType.FLOAT, transA ? [K, 5] : [5, K]);
  const wt = b.initializer('fc_w', DataType.FLOAT, [N, K], transpose(w, K, N));
  const attrs = { transB: 1, alpha: float(0.5), beta: float(2), ...(transA ? { transA: 1 } : {}) };
  const [y] = b.node('Gemm', [x, wt, b.weight('fc_b', [N])], attrs, { name: 'fc' });
  b.output(y, DataType.FLOAT, [5, N]);
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

async function run(model: Model, x: ort.Tensor): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  try {
    const out = await session.run({ x });
    return out[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

/** max |a − b| / max |a|. */
async function relativeError(a: Model, b: Model, x: ort.Tensor): Promise<number> {
  const [ya, yb] = [await run(a, x), await run(b, x)];
  let err = 0;
  let scale = 0;
  ya.forEach((v, i) => {
    err = Math.max(err, Math.abs(v - yb[i]));
    scale = Math.max(scale, Math.abs(v));
  });
  return err / scale;
}

test('a rank-4 MatMul weight factorized at rank 4 reproduces the outputs; analyze counts less', async () => {
  const m = matmulModel(lowRankWeight(1));
  const { model: f, summary } = factorizeLowRank(m, { layer: 'proj', rank: 4 });
  assert.deepEqual(
    f.graph.nodes.map((n) => `${n.opType}:${n.name}`),
    ['MatMul:proj_lowrank', 'MatMul:proj', 'Relu:relu_1'],
  );
  assert.deepEqual(
    f.graph.initializers.map((t) => `${t.name}[${t.dims.join(',')}]`),
    [`w_lowrank_a[${K},4]`, `w_lowrank_b[4,${N}]`],
  );
  const err = await relativeError(m, f, randomInput([2, 3, K], 2));
  assert.ok(err < 1e-4, `relative error ${err}`);
  const v = await verifyModels(encodeModel(m), encodeModel(f), { samples: 4, seed: 1 });
  assert.ok(v.sqnrDb > 80, `SQNR ${v.sqnrDb} dB`);
  const energy = Number(
    /retained energy Σσ²\(kept\)\/Σσ² = ([\d.]+)/.exec(summary.notes.join('\n'))?.[1],
  );
  assert.ok(energy > 0.999999, `energy ${energy}`);
  const [before, after] = [analyzeBytes(encodeModel(m)), analyzeBytes(encodeModel(f))];
  assert.equal(before.totals.params, K * N);
  assert.equal(after.totals.params, 4 * (K + N));
  assert.equal(before.totals.macs, 6 * K * N);
  assert.equal(after.totals.macs, 6 * 4 * (K + N));
  assert.equal(summary.macsBefore, before.totals.macs);
  assert.equal(summary.macsAfter, after.totals.macs);
  assert.equal(summary.bytesAfter, after.totals.weightBytes);
});

for (const transA of [false, true]) {
  test(`Gemm (transB, alpha, beta, bias${transA ? ', transA' : ''}) factorizes into x·A then a Gemm with C`, async () => {
    const m = gemmModel(lowRankWeight(2), transA);
    const { model: f } = factorizeLowRank(m, { layer: 'fc', rank: 4 });
    const ops = f.graph.nodes.map((n) => n.opType);
    assert.deepEqual(ops, [transA ? 'Gemm' : 'MatMul', 'Gemm']);
    assert.deepEqual(f.graph.nodes[1].inputs.slice(2), ['fc_b'], 'the bias stays as Gemm C');
    assert.ok(!f.graph.initializers.some((t) => t.name === 'fc_w'), 'the old weight is gone');
    const err = await relativeError(m, f, randomInput(transA ? [K, 5] : [5, K], 3));
    assert.ok(err < 1e-4, `relative error ${err}`);
  });
}

test('below the weight rank the retained energy is < 1 and is the tail of the spectrum', () => {
  const w = lowRankWeight(3);
  const { model: f, summary } = factorizeLowRank(matmulModel(w), { layer: 'proj', rank: 2 });
  assert.ok(f.graph.initializers.some((t) => t.dims[1] === 2));
  const svd = truncatedSvd(w, K, N, 2);
  assert.ok(svd.retainedEnergy < 1 && svd.retainedEnergy > 0.3, `${svd.retainedEnergy}`);
  assert.ok(svd.singularValues[4] < 1e-6 * svd.singularValues[0], 'rank 4: σ_5 ≈ 0');
  assert.ok(summary.notes.some((n) => n.includes(`= ${svd.retainedEnergy.toFixed(6)}`)));
  // Eckart–Young: ‖W − A·B‖²_F equals the sum of the dropped σ².
  let residual = 0;
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      let v = 0;
      for (let j = 0; j < 2; j++) v += svd.a[k * 2 + j] * svd.b[j * N + n];
      residual += (w[k * N + n] - v) ** 2;
    }
  }
  const tail = svd.singularValues.slice(2).reduce((s, x) => s + x * x, 0);
  assert.ok(Math.abs(residual - tail) < 1e-9 * (1 + tail), `${residual} vs ${tail}`);
});

test('truncatedSvd agrees with numpy.linalg.svd on a fixed matrix', () => {
  // numpy 2.4: np.linalg.svd([[3, 1, 1], [-1, 3, 1]]) → singular values √12, √10.
  const s = truncatedSvd(Float64Array.from([3, 1, 1, -1, 3, 1]), 2, 3, 1);
  assert.ok(Math.abs(s.singularValues[0] - Math.sqrt(12)) < 1e-12);
  assert.ok(Math.abs(s.singularValues[1] - Math.sqrt(10)) < 1e-12);
  assert.ok(Math.abs(s.retainedEnergy - 12 / 22) < 1e-12);
});

test('a rank that would not save parameters is refused; candidates list the useful ranks', () => {
  const m = matmulModel(lowRankWeight(4));
  // K·N/(K+N) = 384/40 = 9.6: rank 9 saves parameters, rank 10 does not.
  assert.deepEqual(factorizationCandidates(m), [{ layer: 'proj', K, N, maxUsefulRank: 9 }]);
  assert.doesNotThrow(() => factorizeLowRank(m, { layer: 'proj', rank: 9 }));
  assert.throws(
    () => factorizeLowRank(m, { layer: 'proj', rank: 10 }),
    (e: unknown) =>
      e instanceof CompressionRefusal &&
      e.message ===
        "rank 10 would not save parameters for 'proj' (K=24, N=16): r·(K+N) = 400 ≥ K·N = 384; useful ranks are below K·N/(K+N) = 9.6 (1 to 9)",
  );
  assert.throws(() => factorizeLowRank(m, { layer: 'proj', rank: 0 }), /not a positive integer/);
  assert.throws(() => factorizeLowRank(m, { layer: 'relu_1', rank: 2 }), /only Gemm and MatMul/);
  assert.throws(() => factorizeLowRank(m, { layer: 'nope', rank: 2 }), /no layer named 'nope'/);
});
