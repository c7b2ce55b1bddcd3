import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  measureSensitivity,
  sensitivityCacheKey,
  type LayerSensitivity,
} from '../../../src/core/advisor/sensitivity';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import { encodeModel } from '../../../src/core/onnx/encode';
import { DataType } from '../../../src/core/onnx/types';
import { verifyModels } from '../../../src/core/verify';
import type { LoadedModel } from '../../../src/core/onnx/load';
import { ModelBuilder, seededRandom } from '../../helpers/modelBuilder';

const SIZES = [16, 32, 32, 10];
const STEP = 0.125; // a power of two, so k·STEP and 7·STEP/7 are exact in float32

/**
 * x [4, 16] → fc1 → Relu → fc2 → Relu → fc3 (Gemm, transB = 1, W [out, in], bias).
 * With `exactFc2`, fc2's weights are k·STEP for integers k in −7..7 and every row (output
 * channel) holds a 7, so per-channel 4-bit quantization (scale = 7·STEP / 7) is exact.
 */
function mlp(exactFc2 = false): LoadedModel {
  const b = new ModelBuilder({ seed: 7 });
  let h = b.input('x', DataType.FLOAT, [4, SIZES[0]]);
  const rand = seededRandom(11);
  for (let l = 0; l < 3; l++) {
    const [inp, out] = [SIZES[l], SIZES[l + 1]];
    let w: string;
    if (exactFc2 && l === 1) {
      const values = Array.from({ length: out * inp }, (_, i) =>
        i % inp === 0 ? 7 * STEP : (Math.floor(rand() * 15) - 7) * STEP,
      );
      w = b.initializer(`w${l + 1}`, DataType.FLOAT, [out, inp], values);
    } else {
      w = b.weight(`w${l + 1}`, [out, inp]);
    }
    const bias = b.weight(`b${l + 1}`, [out]);
    [h] = b.node('Gemm', [h, w, bias], { transB: 1 }, { name: `fc${l + 1}` });
    if (l < 2) [h] = b.node('Relu', [h], {}, { name: `relu${l + 1}` });
  }
  b.output(h, DataType.FLOAT, [4, SIZES[3]]);
  return b.load();
}

function byLayer(result: readonly LayerSensitivity[]): Map<string, Record<number, number>> {
  return new Map(result.map((r) => [r.layer, r.outputSqnrDb]));
}

describe('measureSensitivity', () => {
  it('measures every quantizable layer, 8 bits better than 4', async () => {
    const result = await measureSensitivity(mlp(), { bits: [8, 4], samples: 2 });
    assert.deepEqual(
      result.map((r) => r.layer),
      ['fc1', 'fc2', 'fc3'],
    );
    for (const r of result) {
      assert.ok(r.outputSqnrDb[8] > r.outputSqnrDb[4], `${r.layer}: ${JSON.stringify(r)}`);
      assert.ok(r.outputSqnrDb[8] > 30, `${r.layer} at 8 bits: ${r.outputSqnrDb[8]}`);
      assert.ok(Number.isFinite(r.outputSqnrDb[4]));
    }
  });

  it('gives a layer whose weights are exactly representable at 4 bits a very high SQNR', async () => {
    const result = byLayer(await measureSensitivity(mlp(true), { bits: [8, 4], samples: 2 }));
    const fc2 = result.get('fc2');
    assert.ok(fc2);
    assert.ok(fc2[4] > 100, `fc2 at 4 bits: ${fc2[4]} dB`);
    // At 8 bits the grid 7·STEP/127 does not hold k·STEP, so it is worse than at 4 here.
    assert.ok(fc2[8] < fc2[4]);
    assert.ok(Number.isFinite(result.get('fc1')?.[4] ?? NaN));
  });

  it('is deterministic for a seed', async () => {
    const a = await measureSensitivity(mlp(), { bits: [4], layers: ['fc1'], samples: 1, seed: 3 });
    const b = await measureSensitivity(mlp(), { bits: [4], layers: ['fc1'], samples: 1, seed: 3 });
    assert.deepEqual(a, b);
  });

  it('skips a layer that cannot be quantized, with no entries', async () => {
    const result = await measureSensitivity(mlp(), {
      bits: [8, 4],
      layers: ['relu1', 'fc3'],
      samples: 1,
    });
    assert.deepEqual(result[0].outputSqnrDb, {});
    assert.match(result[0].skipped ?? '', /relu1/);
    assert.ok(result[1].outputSqnrDb[8] > 30);
  });

  it('reports progress once per layer × width', async () => {
    const calls: [number, number, string][] = [];
    await measureSensitivity(mlp(), {
      bits: [8, 6, 4],
      layers: ['fc1', 'relu1', 'fc3'],
      samples: 1,
      onProgress: (done, total, layer) => calls.push([done, total, layer]),
    });
    // relu1 is refused at its first width and counts its three widths at once.
    assert.deepEqual(calls, [
      [1, 9, 'fc1'],
      [2, 9, 'fc1'],
      [3, 9, 'fc1'],
      [6, 9, 'relu1'],
      [7, 9, 'fc3'],
      [8, 9, 'fc3'],
      [9, 9, 'fc3'],
    ]);
  });

  it('measures the grids asked for under gridOutputSqnrDb, as the verifier sees them', async () => {
    const loaded = mlp();
    const result = await measureSensitivity(loaded, {
      bits: [4],
      grids: [{ grid: 'pow2', bits: 4 }, { grid: 'ternary' }, { grid: 'binary' }],
      layers: ['fc2', 'relu1'],
      samples: 2,
    });
    const [fc2, relu1] = result;
    assert.deepEqual(Object.keys(fc2.outputSqnrDb), ['4']);
    assert.deepEqual(Object.keys(fc2.gridOutputSqnrDb ?? {}), ['pow2-4', 'ternary', 'binary']);
    const db = fc2.gridOutputSqnrDb!;
    for (const v of Object.values(db)) assert.ok(Number.isFinite(v), JSON.stringify(db));
    // Fewer levels, more noise: int4 (15 levels) > ternary (3) > binary (2).
    assert.ok(fc2.outputSqnrDb[4] > db.ternary && db.ternary > db.binary, JSON.stringify(fc2));
    // The same figure as quantizing that layer alone on the grid and verifying (same inputs).
    const { model } = quantizeWeights(loaded.model, { bits: 2, grid: 'ternary', layers: ['fc2'] });
    const v = await verifyModels(encodeModel(loaded.model), encodeModel(model), {
      samples: 2,
      seed: 0,
    });
    assert.ok(Math.abs(v.sqnrDb - db.ternary) < 1e-9, `${v.sqnrDb} vs ${db.ternary}`);
    // A refused layer has neither table.
    assert.match(relu1.skipped ?? '', /relu1/);
    assert.deepEqual(relu1.outputSqnrDb, {});
    assert.equal(relu1.gridOutputSqnrDb, undefined);
    // Without grids the entry has no grid table at all (the result is as before).
    const plain = await measureSensitivity(loaded, { bits: [8], layers: ['fc1'], samples: 1 });
    assert.deepEqual(Object.keys(plain[0]), ['layer', 'outputSqnrDb']);
  });

  it('refuses a grid it cannot write before measuring', async () => {
    await assert.rejects(measureSensitivity(mlp(), { grids: [{ grid: 'pow2', bits: 2 }] }), {
      message: 'pow2: 2 bits is out of range (3 to 8: sign, zero and at least ±1, ±2)',
    });
  });

  it('stops early with an AbortError when cancelled', async () => {
    const controller = new AbortController();
    let calls = 0;
    await assert.rejects(
      measureSensitivity(mlp(), {
        bits: [8, 6, 4],
        samples: 1,
        signal: controller.signal,
        onProgress: () => {
          if (++calls === 2) controller.abort();
        },
      }),
      (e: Error) => e.name === 'AbortError',
    );
    assert.equal(calls, 2);
    // Already aborted: nothing runs.
    await assert.rejects(measureSensitivity(mlp(), { signal: AbortSignal.abort() }), {
      name: 'AbortError',
    });
  });
});

describe('sensitivityCacheKey', () => {
  const stamp = { path: '/m/model.onnx', size: 100, mtimeMs: 5 };
  it('changes with the file and the options, not the callbacks', () => {
    const key = sensitivityCacheKey(stamp, { bits: [8, 4] });
    assert.equal(key, sensitivityCacheKey(stamp, { bits: [8, 4], onProgress: () => undefined }));
    assert.notEqual(key, sensitivityCacheKey({ ...stamp, mtimeMs: 6 }, { bits: [8, 4] }));
    assert.notEqual(key, sensitivityCacheKey({ ...stamp, size: 101 }, { bits: [8, 4] }));
    assert.notEqual(key, sensitivityCacheKey(stamp, { bits: [8, 6] }));
    assert.notEqual(key, sensitivityCacheKey(stamp, { bits: [8, 4], samples: 2 }));
    assert.notEqual(key, sensitivityCacheKey(stamp, { bits: [8, 4], perChannel: false }));
    assert.notEqual(key, sensitivityCacheKey(stamp, { bits: [8, 4], layers: ['fc1'] }));
    assert.notEqual(key, sensitivityCacheKey(stamp, { bits: [8, 4], grids: [{ grid: 'binary' }] }));
    // No grids and an empty list are the same request (and the key made before grids existed).
    assert.equal(key, sensitivityCacheKey(stamp, { bits: [8, 4], grids: [] }));
    // Defaults spelled out give the same key.
    assert.equal(
      sensitivityCacheKey(stamp),
      sensitivityCacheKey(stamp, { bits: [8, 6, 4], samples: 4, seed: 0, perChannel: true }),
    );
  });

  it('stats a path', () => {
    const key = JSON.parse(sensitivityCacheKey(__filename)) as { size: number };
    assert.ok(key.size > 0);
  });
});
