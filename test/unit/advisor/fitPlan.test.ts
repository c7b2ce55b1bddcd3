import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { noiseFraction, planBitsForDevice } from '../../../src/core/advisor/fitPlan';
import { measureSensitivity, type LayerSensitivity } from '../../../src/core/advisor/sensitivity';
import { analyzeLoaded } from '../../../src/core/analyze';
import { quantizeWeights } from '../../../src/core/compress/quantize';
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

function device(flashBytes: number, supportedWeightBits: number[], ramBytes = 1 << 30) {
  return {
    id: 'test',
    name: 'test device',
    ramBytes,
    flashBytes,
    macsPerSecond: {},
    supportedWeightBits,
    supportedActivationBits: [8, 32],
    source: 'test',
  } satisfies DeviceProfile;
}

/** Fabricated: fc1 and fc3 sensitive, fc2 robust, with different slopes. */
const TABLE: LayerSensitivity[] = [
  { layer: 'fc1', outputSqnrDb: { 8: 45, 6: 33, 4: 18 } },
  { layer: 'fc2', outputSqnrDb: { 8: 50, 6: 40, 4: 28 } },
  { layer: 'fc3', outputSqnrDb: { 8: 42, 6: 31, 4: 20 } },
];

/** Bytes of layer l's weight at k bits, computed independently: k-bit elements + fp32 scales. */
function layerBytes(l: number, k: number): number {
  const [out, inp] = [SIZES[l + 1], SIZES[l]];
  return Math.ceil((out * inp * k) / 8) + out * 4;
}

/** Float bytes outside the main weights (the biases). */
const BIAS_BYTES = (SIZES[1] + SIZES[2] + SIZES[3]) * 4;

/** The least-error assignment over all 27 whose bytes fit, or undefined. */
function bruteForce(widths: readonly number[], flash: number) {
  let best: { bits: number[]; bytes: number; error: number } | undefined;
  for (const a of widths)
    for (const b of widths)
      for (const c of widths) {
        const bits = [a, b, c];
        const bytes = BIAS_BYTES + bits.reduce((s, k, l) => s + layerBytes(l, k), 0);
        const error = bits.reduce((s, k, l) => s + noiseFraction(TABLE[l].outputSqnrDb[k]), 0);
        if (bytes <= flash && (!best || error < best.error)) best = { bits, bytes, error };
      }
  return best;
}

describe('planBitsForDevice', () => {
  const loaded = mlp();

  it('agrees with analyze on the float weight bytes', () => {
    const total = analyzeLoaded(loaded, { skipBitHints: true }).totals.weightBytes;
    assert.equal(
      total,
      BIAS_BYTES + [0, 1, 2].reduce((s, l) => s + SIZES[l] * SIZES[l + 1] * 4, 0),
    );
  });

  it('meets the budget with the least-error assignment (brute force over 3 × 3)', () => {
    const widths = [8, 6, 4];
    const lowest = BIAS_BYTES + [0, 1, 2].reduce((s, l) => s + layerBytes(l, 4), 0);
    const highest = BIAS_BYTES + [0, 1, 2].reduce((s, l) => s + layerBytes(l, 8), 0);
    let checked = 0;
    for (let flash = lowest; flash <= highest + 8; flash += 16) {
      const plan = planBitsForDevice(loaded, { device: device(flash, widths), sensitivity: TABLE });
      const expected = bruteForce(widths, flash);
      assert.ok(expected);
      assert.equal(plan.fits, true, plan.reason);
      assert.ok(plan.weightBytes <= flash);
      assert.deepEqual(
        LAYERS.map((l) => plan.bitsPerLayer.get(l)),
        expected.bits,
        `flash ${flash}`,
      );
      assert.equal(plan.weightBytes, expected.bytes);
      assert.ok(Math.abs(plan.predictedErrorDb - -10 * Math.log10(expected.error)) < 1e-9);
      checked++;
    }
    assert.ok(checked > 20);
  });

  it('says why when even the lowest widths do not fit', () => {
    const lowest = BIAS_BYTES + [0, 1, 2].reduce((s, l) => s + layerBytes(l, 4), 0);
    const plan = planBitsForDevice(loaded, {
      device: device(lowest - 1, [8, 6, 4]),
      sensitivity: TABLE,
    });
    assert.equal(plan.fits, false);
    assert.match(plan.reason ?? '', /at least \d+ bytes.*flash holds/);
    // The smallest plan is returned, for the user to see how far off it is.
    assert.deepEqual(
      LAYERS.map((l) => plan.bitsPerLayer.get(l)),
      [4, 4, 4],
    );
    assert.equal(plan.weightBytes, lowest);
  });

  it('never picks a width the device does not support', () => {
    for (let flash = 1500; flash <= 6000; flash += 50) {
      const plan = planBitsForDevice(loaded, { device: device(flash, [8, 4]), sensitivity: TABLE });
      for (const bits of plan.bitsPerLayer.values()) assert.notEqual(bits, 6);
      const expected = bruteForce([8, 4], flash);
      assert.equal(plan.fits, expected !== undefined, `flash ${flash}: ${plan.reason}`);
      if (expected) {
        assert.deepEqual(
          LAYERS.map((l) => plan.bitsPerLayer.get(l)),
          expected.bits,
        );
      }
    }
    // allowedBits narrows further.
    const plan = planBitsForDevice(loaded, {
      device: device(1e6, [8, 6, 4]),
      sensitivity: TABLE,
      allowedBits: [4],
    });
    assert.deepEqual([...plan.bitsPerLayer.values()], [4, 4, 4]);
  });

  it('keeps float weights when the device runs them and they fit', () => {
    const plan = planBitsForDevice(loaded, { device: device(1e6, [8, 32]), sensitivity: TABLE });
    assert.equal(plan.bitsPerLayer.size, 0);
    assert.equal(plan.predictedErrorDb, Infinity);
    assert.equal(plan.fits, true);
    // A tighter flash quantizes the least sensitive layer first.
    const float = analyzeLoaded(loaded, { skipBitHints: true }).totals.weightBytes;
    const tight = planBitsForDevice(loaded, {
      device: device(float - 2000, [8, 32]),
      sensitivity: TABLE,
    });
    assert.deepEqual([...tight.bitsPerLayer], [['fc2', 8]]);
  });

  it('cannot fix peak activation RAM with weight bits', () => {
    const plan = planBitsForDevice(loaded, { device: device(1e6, [8], 16), sensitivity: TABLE });
    assert.equal(plan.fits, false);
    assert.match(plan.reason ?? '', /activation RAM/);
  });

  it('leaves refused layers as they are, with a note', () => {
    const plan = planBitsForDevice(loaded, {
      device: device(1e6, [8]),
      sensitivity: [
        { layer: 'fc1', outputSqnrDb: {}, skipped: 'refused for a reason' },
        { layer: 'fc2', outputSqnrDb: { 8: 40 } },
      ],
    });
    assert.deepEqual([...plan.bitsPerLayer], [['fc2', 8]]);
    assert.match(plan.notes?.join('\n') ?? '', /fc1: refused for a reason/);
  });
});

const RESNET = path.join(SHARED_MODELS_DIR, 'resnet18.onnx');

describe('fit plan on resnet18', { skip: !fs.existsSync(RESNET) && 'no ../shared/models' }, () => {
  it('measures, plans and verifies the plan', async () => {
    const loaded = loadModelFile(RESNET);
    const report = analyzeLoaded(loaded, { skipBitHints: true });
    const convs = report.nodes.filter((n) => n.op === 'Conv').slice(0, 3);
    const gemm = report.nodes.find((n) => n.op === 'Gemm');
    assert.ok(gemm);
    const layers = [...convs, gemm].map((n) => n.name);

    let started = performance.now();
    const sensitivity = await measureSensitivity(loaded, { bits: [8, 4], layers, samples: 2 });
    const measureSeconds = (performance.now() - started) / 1000;
    console.log(
      `resnet18 sensitivity, 4 layers × [8, 4], 2 samples: ${measureSeconds.toFixed(1)} s`,
    );
    for (const s of sensitivity) {
      console.log(
        `  ${s.layer}: 8 bits ${s.outputSqnrDb[8]?.toFixed(1)} dB, 4 bits ${s.outputSqnrDb[4]?.toFixed(1)} dB`,
      );
      assert.ok(s.outputSqnrDb[8] > 30, `${s.layer}: ${JSON.stringify(s)}`);
      assert.ok(s.outputSqnrDb[8] > s.outputSqnrDb[4]);
    }

    // With only these 4 layers planned, 40% of ALL float weights is out of reach (the other
    // convs hold ~95% of the bytes and stay float): the plan must say so.
    const floatBytes = report.totals.weightBytes;
    const whole = planBitsForDevice(loaded, {
      device: device(0.4 * floatBytes, [4, 8, 32]),
      sensitivity,
    });
    assert.equal(whole.fits, false);
    assert.match(whole.reason ?? '', /flash/);

    // So the budget is the unplanned weights as they are + a fraction of the planned layers'
    // float weights (their params include the bias; layers not in the plan stay float32, not
    // 8 bits). The device takes 8 and 4 bits only, so every planned layer is quantized: at 40%
    // all four fit at 8 bits, at 20% some must go to 4.
    const plannedFloat = [...convs, gemm].reduce((s, n) => s + n.weightBytes, 0);
    for (const fraction of [0.4, 0.2]) {
      const flash = floatBytes - plannedFloat + fraction * plannedFloat;
      const plan = planBitsForDevice(loaded, { device: device(flash, [4, 8]), sensitivity });
      assert.equal(plan.fits, true, plan.reason);
      assert.ok(plan.weightBytes <= flash);
      assert.equal(plan.bitsPerLayer.size, 4);
      if (fraction === 0.4) assert.deepEqual([...new Set(plan.bitsPerLayer.values())], [8]);
      else assert.ok([...plan.bitsPerLayer.values()].includes(4));

      started = performance.now();
      const { model, summary } = quantizeWeights(
        loaded.model,
        { bits: 8, bitsPerLayer: plan.bitsPerLayer, layers: [...plan.bitsPerLayer.keys()] },
        loaded.external,
      );
      const verified = await verifyModels(RESNET, encodeModel(model), { samples: 2, seed: 0 });
      console.log(
        `  ${fraction * 100}% of planned weights: ${JSON.stringify([...plan.bitsPerLayer])}; plan ${plan.weightBytes} B (analyze after quantizing: ${summary.bytesAfter} B); measured ${verified.sqnrDb.toFixed(1)} dB vs predicted ${plan.predictedErrorDb.toFixed(1)} dB; quantize + verify ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      // 4 and 8 bits are stored as such, so analyze of the result counts what the plan counted.
      assert.equal(summary.bytesAfter, plan.weightBytes);
      // First-order noise addition: the measured SQNR is near the prediction.
      assert.ok(Math.abs(verified.sqnrDb - plan.predictedErrorDb) < 6);
    }
  });
});
