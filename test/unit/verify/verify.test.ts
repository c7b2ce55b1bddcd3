import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadModelFile, saveModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import {
  randomInputs,
  runModel,
  verifyModels,
  VerifyError,
  type InputSet,
} from '../../../src/core/verify';
import { verifyCommand, verifyJson } from '../../../src/cli/verifyCommand';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { SHARED_MODELS_DIR } from '../../helpers/sharedModels';

const K = 6;
const N = 5;

/** y = x·W with W [K, N] given row-major; x is [batch, K] with a symbolic batch. */
function linear(w: readonly number[], inputName = 'x'): Uint8Array {
  const b = new ModelBuilder();
  const x = b.input(inputName, DataType.FLOAT, ['batch', K]);
  const weight = b.initializer('w', DataType.FLOAT, [K, N], w);
  b.node('MatMul', [x, weight], {}, { outputs: ['y'] });
  b.output('y', DataType.FLOAT, ['batch', N]);
  return b.bytes();
}

const W = Array.from({ length: K * N }, (_, i) => Math.sin(i + 1));

/** SQNR in dB computed from first principles, in float64, for y = xW vs y' = xW'. */
function expectedSqnr(w: readonly number[], w2: readonly number[], sets: InputSet[]): number {
  let signal = 0;
  let noise = 0;
  for (const set of sets) {
    const x = set.x.data as Float32Array;
    const rows = x.length / K;
    for (let r = 0; r < rows; r++) {
      for (let n = 0; n < N; n++) {
        let y = 0;
        let y2 = 0;
        for (let k = 0; k < K; k++) {
          y += x[r * K + k] * w[k * N + n];
          y2 += x[r * K + k] * w2[k * N + n];
        }
        signal += y * y;
        noise += (y - y2) ** 2;
      }
    }
  }
  return 10 * Math.log10(signal / noise);
}

describe('verifyModels', () => {
  it('reports identical models as identical', async () => {
    const model = linear(W);
    const r = await verifyModels(model, model);
    assert.equal(r.sqnrDb, Infinity);
    assert.equal(r.cosine, 1);
    assert.equal(r.top1Agreement, 1);
    assert.equal(r.maxAbsError, 0);
    assert.equal(r.samples, 8);
    assert.deepEqual(r.outputs, ['y']);
    assert.equal(r.labelled, undefined);
  });

  it('measures 40 dB when a weight tensor is scaled by 1.01 (error = 0.01·y)', async () => {
    const scaled = W.map((v) => v * 1.01);
    const r = await verifyModels(linear(W), linear(scaled), { samples: 4, seed: 7 });
    // 10·log10(Σy² / Σ(0.01·y)²) = 10·log10(10⁴) = 40 dB, up to float32 rounding of W·1.01.
    assert.ok(Math.abs(r.sqnrDb - 40) < 0.01, `sqnr ${r.sqnrDb}`);
    const sets = [0, 1, 2, 3].map((sample) => randomInputs(linear(W), { seed: 7, sample }));
    assert.ok(Math.abs(r.sqnrDb - expectedSqnr(W, scaled, sets)) < 0.01);
    assert.ok(r.cosine > 0.99999);
    assert.equal(r.top1Agreement, 1, 'a uniform scale never changes the argmax');
  });

  it('matches a hand-computed SQNR when a single weight element changes', async () => {
    const changed = W.slice();
    changed[0] *= 1.01; // W[0][0]: only output column 0 moves, by 0.01·x₀·W₀₀
    const r = await verifyModels(linear(W), linear(changed), { samples: 3, seed: 1 });
    const sets = [0, 1, 2].map((sample) => randomInputs(linear(W), { seed: 1, sample }));
    const expected = expectedSqnr(W, changed, sets);
    assert.ok(Math.abs(r.sqnrDb - expected) < 0.05, `${r.sqnrDb} vs ${expected}`);
    let maxErr = 0;
    for (const s of sets) {
      const x = s.x.data as Float32Array;
      for (let row = 0; row < x.length / K; row++) {
        maxErr = Math.max(maxErr, Math.abs(0.01 * x[row * K] * W[0]));
      }
    }
    assert.ok(Math.abs(r.maxAbsError - maxErr) < 1e-5, `${r.maxAbsError} vs ${maxErr}`);
  });

  it('fixes symbolic dims with inputShapes', async () => {
    const model = linear(W);
    const r = await verifyModels(model, model, {
      inputShapes: new Map([['x', [3, K]]]),
      samples: 2,
    });
    assert.equal(r.samples, 2);
    const out = await runModel(
      model,
      randomInputs(model, { inputShapes: new Map([['x', [3, K]]]) }),
    );
    assert.deepEqual(out.y.dims, [3, N]);
    await assert.rejects(
      verifyModels(model, model, { inputShapes: new Map([['nope', [1]]]) }),
      (e: unknown) => e instanceof VerifyError && /no input 'nope'/.test(e.message),
    );
  });

  it('runs on samples already read (a part of a data folder), with their labels', async () => {
    const model = linear(W);
    const other = linear(W.map((v, i) => (i % N === 0 ? -v : v)));
    const sets = randomInputs(model, { inputShapes: new Map([['x', [1, K]]]) });
    const part = [sets, randomInputs(model, { seed: 1, inputShapes: new Map([['x', [1, K]]]) })];
    const r = await verifyModels(model, other, { inputs: { sets: part, labels: [0, 1] } });
    assert.equal(r.samples, 2);
    assert.equal(r.inputSource, 'folder');
    assert.equal(
      r.labelled?.confusion.flat().reduce((a, b) => a + b, 0),
      2,
    );
  });

  it('rejects models with different input names', async () => {
    await assert.rejects(
      verifyModels(linear(W, 'x'), linear(W, 'image')),
      (e: unknown) =>
        e instanceof VerifyError && /different inputs/.test(e.message) && !e.message.includes('\n'),
    );
  });

  it('names the model ONNX Runtime cannot load', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', DataType.FLOAT, ['batch', K]);
    b.node('NoSuchOp', [x], {}, { outputs: ['y'] });
    b.output('y', DataType.FLOAT, ['batch', N]);
    await assert.rejects(
      verifyModels(linear(W), b.bytes()),
      (e: unknown) =>
        e instanceof VerifyError &&
        e.message.startsWith('compressed model: ONNX Runtime cannot load it') &&
        !e.message.includes('\n'),
    );
  });
});

describe('dtype conversion', () => {
  it('feeds a float16 model the same values, rounded to half precision', async () => {
    const original = new ModelBuilder();
    original.input('x', DataType.FLOAT, [2, 64]);
    original.node('Identity', ['x'], {}, { outputs: ['y'] });
    original.output('y', DataType.FLOAT, [2, 64]);
    const half = new ModelBuilder();
    half.input('x', DataType.FLOAT16, [2, 64]);
    half.node('Cast', ['x'], { to: DataType.FLOAT }, { outputs: ['y'] });
    half.output('y', DataType.FLOAT, [2, 64]);
    const r = await verifyModels(original.bytes(), half.bytes(), { samples: 2 });
    // Round-to-nearest half keeps 11 significant bits: relative error ≤ 2⁻¹¹, so SQNR ≥ 66 dB.
    assert.ok(r.sqnrDb > 66 && r.sqnrDb < 90, String(r.sqnrDb));
    assert.ok(r.maxAbsError > 0 && r.maxAbsError < 4 * 2 ** -11);
  });
});

describe('randomInputs', () => {
  it('is deterministic for a seed and sample, and differs across them', () => {
    const model = linear(W);
    const a = randomInputs(model, { seed: 3 });
    const b = randomInputs(model, { seed: 3 });
    const c = randomInputs(model, { seed: 4 });
    const d = randomInputs(model, { seed: 3, sample: 1 });
    assert.deepEqual(a.x.data, b.x.data);
    assert.notDeepEqual(a.x.data, c.x.data);
    assert.notDeepEqual(a.x.data, d.x.data);
    assert.equal(a.x.dtype, 'float32');
    assert.deepEqual(a.x.dims, [1, K]);
  });

  it('gives an embedding model int64 ids inside its table', async () => {
    const vocab = 7;
    const dim = 4;
    const table = Array.from({ length: vocab * dim }, (_, i) => i);
    const b = new ModelBuilder();
    const ids = b.input('input_ids', DataType.INT64, [1, 'seq']);
    const emb = b.initializer('emb', DataType.FLOAT, [vocab, dim], table);
    b.node('Gather', [emb, ids], { axis: 0 }, { outputs: ['h'] });
    b.output('h', DataType.FLOAT, [1, 'seq', dim]);
    const model = b.bytes();
    const shapes = new Map([['input_ids', [1, 50]]]);
    const inputs = randomInputs(model, { inputShapes: shapes, seed: 5 });
    const data = inputs.input_ids.data;
    assert.ok(data instanceof BigInt64Array);
    assert.equal(inputs.input_ids.dtype, 'int64');
    const values = Array.from(data, Number);
    assert.ok(values.every((v) => v >= 0 && v < vocab));
    assert.ok(new Set(values).size > 1);
    const out = await runModel(model, inputs);
    assert.deepEqual(out.h.dims, [1, 50, dim]);
    for (let t = 0; t < 50; t++) assert.equal(out.h.data[t * dim], values[t] * dim);
    const r = await verifyModels(model, model, { inputShapes: shapes });
    assert.equal(r.sqnrDb, Infinity);
  });
});

describe('verify CLI', () => {
  it('prints the fixed JSON fields and fails below --min-sqnr', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-cli-'));
    try {
      const a = path.join(dir, 'a.onnx');
      const b = path.join(dir, 'b.onnx');
      fs.writeFileSync(a, linear(W));
      fs.writeFileSync(b, linear(W.map((v) => v * 1.01)));
      const r = await verifyModels(a, a, { samples: 2 });
      assert.deepEqual(Object.keys(verifyJson(r) as object), [
        'sqnrDb',
        'maxAbsError',
        'cosine',
        'top1Agreement',
        'samples',
      ]);
      assert.equal((verifyJson(r) as { sqnrDb: unknown }).sqnrDb, null);
      const written: string[] = [];
      const out = process.stdout.write;
      const err = process.stderr.write;
      process.stdout.write = ((s: string) => written.push(s) > 0) as typeof process.stdout.write;
      process.stderr.write = (() => true) as typeof process.stderr.write;
      let ok: number;
      let failed: number;
      try {
        ok = await verifyCommand({
          original: a,
          compressed: b,
          inputShapes: new Map(),
          json: true,
          minSqnrDb: 30,
        });
        failed = await verifyCommand({
          original: a,
          compressed: b,
          inputShapes: new Map(),
          json: false,
          minSqnrDb: 50,
        });
      } finally {
        process.stdout.write = out;
        process.stderr.write = err;
      }
      assert.equal(ok, 0);
      assert.equal(failed, 1);
      const json = JSON.parse(written[0]) as { sqnrDb: number; samples: number };
      assert.ok(Math.abs(json.sqnrDb - 40) < 0.01);
      assert.equal(json.samples, 8);
      assert.match(written[1], /SQNR\s+40\.0 dB/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('shared ResNet-18', () => {
  const file = path.join(SHARED_MODELS_DIR, 'resnet18.onnx');
  it(
    'matches itself re-saved exactly',
    { skip: !fs.existsSync(file) && 'no ../shared/models' },
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-resnet-'));
      try {
        const copy = path.join(dir, 'resnet18-resaved.onnx');
        saveModelFile(loadModelFile(file).model, copy);
        const t0 = performance.now();
        const r = await verifyModels(file, copy);
        const ms = performance.now() - t0;
        console.log(
          `    resnet18 × ${r.samples} samples: ${ms.toFixed(0)} ms (incl. loading both models)`,
        );
        assert.equal(r.sqnrDb, Infinity);
        assert.equal(r.top1Agreement, 1);
        assert.equal(r.cosine, 1);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
