/**
 * Fit to device with grids (issue 15): ternary, binary and pow2-N are plan options where the
 * device supports their logical width, chosen by measured error like any width, and applied
 * exactly (formatPerLayer → quantizeWeights).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  noiseFraction,
  planBitsForDevice,
  quantizeOptionsFor,
  type FitPlan,
} from '../../../src/core/advisor/fitPlan';
import { measureSensitivity, type LayerSensitivity } from '../../../src/core/advisor/sensitivity';
import { analyzeLoaded } from '../../../src/core/analyze';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import {
  formatBits,
  formatCounts,
  formatName,
  gridFormatsFor,
  type WeightFormat,
} from '../../../src/core/compress/weightFormat';
import type { DeviceProfile } from '../../../src/core/devices';
import { encodeModel } from '../../../src/core/onnx/encode';
import { loadModelFile, type LoadedModel } from '../../../src/core/onnx/load';
import { verifyModels } from '../../../src/core/verify';
import { SHARED_MODELS_DIR } from '../../helpers/sharedModels';
import { gemmMlp } from '../../helpers/gemmMlp';

const SIZES: [number, number, number, number] = [16, 32, 32, 10];
const LAYERS = ['fc1', 'fc2', 'fc3'];

function mlp(): LoadedModel {
  return gemmMlp(SIZES, 7);
}

function device(flashBytes: number, supportedWeightBits: number[]) {
  return {
    id: 'test',
    name: 'test device',
    ramBytes: 1 << 30,
    flashBytes,
    macsPerSecond: {},
    supportedWeightBits,
    supportedActivationBits: [8, 32],
    source: 'test',
  } satisfies DeviceProfile;
}

/**
 * Fabricated: fc2 robust (its ternary costs little), fc1 and fc3 sensitive; fc3's pow2-4 beats
 * its int4 (a heavy-tailed weight), the others' doesn't.
 */
const TABLE: LayerSensitivity[] = [
  {
    layer: 'fc1',
    outputSqnrDb: { 8: 45, 4: 18 },
    gridOutputSqnrDb: { 'pow2-4': 15, ternary: 9, binary: 5 },
  },
  {
    layer: 'fc2',
    outputSqnrDb: { 8: 50, 4: 28 },
    gridOutputSqnrDb: { 'pow2-4': 24, ternary: 20, binary: 14 },
  },
  {
    layer: 'fc3',
    outputSqnrDb: { 8: 42, 4: 20 },
    gridOutputSqnrDb: { 'pow2-4': 23, ternary: 8, binary: 4 },
  },
];

/** Bytes of layer l's weight at k bits, computed independently: k-bit elements + fp32 scales. */
function layerBytes(l: number, k: number): number {
  const [out, inp] = [SIZES[l + 1], SIZES[l]];
  return Math.ceil((out * inp * k) / 8) + out * 4;
}

const BIAS_BYTES = (SIZES[1] + SIZES[2] + SIZES[3]) * 4;

function dbOf(l: number, f: WeightFormat): number {
  const t = TABLE[l];
  return typeof f === 'number' ? t.outputSqnrDb[f] : t.gridOutputSqnrDb![formatName(f)];
}

/** The least-error assignment over every combination of `formats` that fits, or undefined. */
function bruteForce(formats: readonly WeightFormat[], flash: number) {
  let best: { names: string[]; bytes: number; error: number } | undefined;
  for (const a of formats)
    for (const b of formats)
      for (const c of formats) {
        const pick = [a, b, c];
        const bytes =
          BIAS_BYTES + pick.reduce<number>((s, f, l) => s + layerBytes(l, formatBits(f)), 0);
        const error = pick.reduce<number>((s, f, l) => s + noiseFraction(dbOf(l, f)), 0);
        if (bytes <= flash && (!best || error < best.error))
          best = { names: pick.map(formatName), bytes, error };
      }
  return best;
}

const names = (plan: FitPlan): (string | undefined)[] =>
  LAYERS.map((l) => {
    const f = plan.formatPerLayer.get(l);
    return f === undefined ? undefined : formatName(f);
  });

const ALL: WeightFormat[] = [
  8,
  4,
  { grid: 'pow2', bits: 4 },
  { grid: 'ternary' },
  { grid: 'binary' },
];

describe('planBitsForDevice with grids', () => {
  const loaded = mlp();
  const lowest = BIAS_BYTES + [0, 1, 2].reduce((s, l) => s + layerBytes(l, 1), 0);
  const highest = BIAS_BYTES + [0, 1, 2].reduce((s, l) => s + layerBytes(l, 8), 0);

  it('picks the least-error mix of widths and grids on a 1/2/4/8-bit device (brute force)', () => {
    const seen = new Set<string>();
    for (let flash = lowest; flash <= highest + 8; flash += 8) {
      const plan = planBitsForDevice(loaded, {
        device: device(flash, [1, 2, 4, 8]),
        sensitivity: TABLE,
      });
      const expected = bruteForce(ALL, flash);
      assert.ok(expected);
      assert.equal(plan.fits, true, plan.reason);
      assert.deepEqual(names(plan), expected.names, `flash ${flash}`);
      assert.equal(plan.weightBytes, expected.bytes);
      assert.ok(Math.abs(plan.predictedErrorDb - -10 * Math.log10(expected.error)) < 1e-9);
      // bitsPerLayer keeps the counted width of every quantized layer.
      for (const [l, f] of plan.formatPerLayer)
        assert.equal(plan.bitsPerLayer.get(l), formatBits(f));
      for (const n of names(plan)) seen.add(n ?? 'kept');
    }
    // The sweep reaches every kind of choice, the pow2-4 of fc3 included.
    for (const n of ['int8', 'int4', 'pow2-4', 'ternary', 'binary']) assert.ok(seen.has(n), n);
  });

  it('never picks a grid whose width the device lacks', () => {
    for (let flash = lowest; flash <= highest + 8; flash += 16) {
      // 4/8 only: no ternary, no binary (pow2-4 is fine: 4 bits).
      const plan48 = planBitsForDevice(loaded, {
        device: device(flash, [4, 8]),
        sensitivity: TABLE,
      });
      const expected48 = bruteForce([8, 4, { grid: 'pow2', bits: 4 }], flash);
      assert.equal(plan48.fits, expected48 !== undefined, `flash ${flash}`);
      for (const n of names(plan48)) assert.ok(n !== 'ternary' && n !== 'binary', `flash ${flash}`);
      if (expected48) assert.deepEqual(names(plan48), expected48.names);
      // 2/4/8: ternary, never binary.
      const plan248 = planBitsForDevice(loaded, {
        device: device(flash, [2, 4, 8]),
        sensitivity: TABLE,
      });
      for (const n of names(plan248)) assert.notEqual(n, 'binary');
      // 8 only: no pow2-4 either.
      const plan8 = planBitsForDevice(loaded, {
        device: device(flash, [8, 32]),
        sensitivity: TABLE,
      });
      for (const n of names(plan8)) assert.ok(n === undefined || n === 'int8', `${n}`);
    }
    // A budget below all-int4 fits only where ternary/binary may be used.
    const flash = BIAS_BYTES + [0, 1, 2].reduce((s, l) => s + layerBytes(l, 4), 0) - 200;
    assert.equal(
      planBitsForDevice(loaded, { device: device(flash, [4, 8]), sensitivity: TABLE }).fits,
      false,
    );
    const forced = planBitsForDevice(loaded, {
      device: device(flash, [2, 4, 8]),
      sensitivity: TABLE,
    });
    assert.equal(forced.fits, true, forced.reason);
    assert.ok(names(forced).includes('ternary'));
    // allowedBits narrows grids by their width too.
    const narrowed = planBitsForDevice(loaded, {
      device: device(flash, [1, 2, 4, 8]),
      sensitivity: TABLE,
      allowedBits: [4, 8, 1],
    });
    assert.ok(!names(narrowed).includes('ternary') && names(narrowed).includes('binary'));
  });

  it('is applied exactly: quantizeOptionsFor writes each layer on its format, analyze agrees on bytes', async () => {
    // A budget where fc2 goes ternary, fc3 pow2-4 (see the table).
    const flash = BIAS_BYTES + layerBytes(0, 4) + layerBytes(1, 2) + layerBytes(2, 4);
    const plan = planBitsForDevice(loaded, {
      device: device(flash, [1, 2, 4, 8]),
      sensitivity: TABLE,
    });
    assert.deepEqual(names(plan), ['int4', 'ternary', 'pow2-4']);
    assert.equal(formatCounts(plan.formatPerLayer.values()), '1 int4, 1 pow2-4, 1 ternary');
    const r = quantizeWeights(loaded.model, quantizeOptionsFor(plan), loaded.external);
    assert.equal(r.summary.bytesAfter, plan.weightBytes);
    const after = analyzeLoaded({ ...loaded, model: r.model }, { skipBitHints: true });
    const bits = Object.fromEntries(after.nodes.map((n) => [n.name, [n.weightBits, n.weightGrid]]));
    assert.deepEqual(bits.fc1, [4, undefined]);
    assert.deepEqual(bits.fc2, [2, 'ternary']);
    assert.deepEqual(bits.fc3, [4, 'pow2']);
    const v = await verifyModels(encodeModel(loaded.model), encodeModel(r.model), { samples: 2 });
    assert.ok(Number.isFinite(v.sqnrDb));
  });

  it('plans on measured grids and the result runs in ONNX Runtime', async () => {
    const sensitivity = await measureSensitivity(loaded, {
      bits: [8, 4],
      grids: gridFormatsFor([1, 2, 4, 8], [8, 4]),
      samples: 2,
    });
    for (const s of sensitivity) {
      assert.deepEqual(Object.keys(s.gridOutputSqnrDb ?? {}), [
        'pow2-8',
        'pow2-4',
        'ternary',
        'binary',
      ]);
    }
    // Below all-int4: something must go to 2 or 1 bits.
    const flash = BIAS_BYTES + [0, 1, 2].reduce((s, l) => s + layerBytes(l, 4), 0) - 150;
    const plan = planBitsForDevice(loaded, { device: device(flash, [1, 2, 4, 8]), sensitivity });
    assert.equal(plan.fits, true, plan.reason);
    assert.ok(
      [...plan.bitsPerLayer.values()].some((b) => b <= 2),
      JSON.stringify([...plan.formatPerLayer]),
    );
    const r = quantizeWeights(loaded.model, quantizeOptionsFor(plan), loaded.external);
    assert.ok(r.summary.bytesAfter <= flash);
    const v = await verifyModels(encodeModel(loaded.model), encodeModel(r.model), {
      samples: 4,
      seed: 0,
    });
    // First-order noise addition holds roughly for these small perturbations too.
    assert.ok(
      Math.abs(v.sqnrDb - plan.predictedErrorDb) < 6,
      `${v.sqnrDb} vs ${plan.predictedErrorDb}`,
    );
  });
});

const FMNIST = path.join(SHARED_MODELS_DIR, 'fmnist_vgg.onnx');
const TEST1000 = path.resolve(SHARED_MODELS_DIR, '../data/fashion-mnist/test1000');

describe(
  'fit fmnist_vgg to a 1/2/4/8-bit device',
  { skip: !fs.existsSync(FMNIST) && 'no ../shared/models' },
  () => {
    it('a tight flash budget takes grids, and the model runs (top-1 on test1000 when present)', async (t) => {
      const loaded = loadModelFile(FMNIST);
      const widths = [1, 2, 4, 8];
      let started = performance.now();
      const sensitivity = await measureSensitivity(loaded, {
        bits: [8, 4],
        grids: gridFormatsFor(widths, [8, 4]),
        samples: 2,
      });
      t.diagnostic(
        `sensitivity, 6 layers × 6 formats: ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      for (const s of sensitivity) {
        t.diagnostic(
          `  ${s.layer}: ${Object.entries<number>({ ...s.outputSqnrDb, ...s.gridOutputSqnrDb })
            .map(([k, v]) => `${k} ${v.toFixed(1)}`)
            .join(', ')} dB`,
        );
      }
      // 60% and 40% of all-int4's bytes: the big Gemm (86% of the weights) can't stay at 4 bits.
      const int4 = planBitsForDevice(loaded, { device: device(1e9, [4]), sensitivity }).weightBytes;
      const labelled = fs.existsSync(TEST1000);
      for (const fraction of [0.6, 0.4]) {
        const flash = Math.round(int4 * fraction);
        const plan = planBitsForDevice(loaded, { device: device(flash, widths), sensitivity });
        assert.equal(plan.fits, true, plan.reason);
        const used = [...plan.formatPerLayer.values()].map(formatName);
        assert.ok(used.includes('ternary') || used.includes('binary'), used.join(', '));
        started = performance.now();
        const r = quantizeWeights(loaded.model, quantizeOptionsFor(plan), loaded.external);
        assert.equal(r.summary.bytesAfter, plan.weightBytes);
        assert.ok(plan.weightBytes <= flash);
        const v = await verifyModels(
          FMNIST,
          encodeModel(r.model),
          labelled ? { inputsDir: TEST1000 } : { samples: 4 },
        );
        const top1 = labelled
          ? `; top-1 ${(100 * (v.labelled?.accuracyCompressed ?? NaN)).toFixed(1)}% (float ${(100 * (v.labelled?.accuracyOriginal ?? NaN)).toFixed(1)}%)`
          : '';
        t.diagnostic(
          `flash ${flash} B (${fraction * 100}% of all-int4 ${int4} B): ${formatCounts(plan.formatPerLayer.values())}; ${JSON.stringify([...plan.formatPerLayer].map(([l, f]) => [l, formatName(f)]))}; predicted ${plan.predictedErrorDb.toFixed(1)} dB, measured ${v.sqnrDb.toFixed(1)} dB${top1}; quantize + verify ${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
        assert.ok(Number.isFinite(v.sqnrDb));
        // Far above chance (10%): the fit keeps the classifier working (94% at 60%, measured).
        if (labelled) assert.ok((v.labelled?.accuracyCompressed ?? 0) > 0.5);
      }
    });
  },
);
