/**
 * Issue 11's bar on a real trained classifier: ../shared/models/fmnist_vgg.onnx calibrated on
 * calib64/ (64 training images) and judged on test1000/ (1,000 labelled test images) in ONNX
 * Runtime, the QDQ graph run as written. Nearest rounding, measured the same way: int4 94.5%,
 * 3-bit 90.6% (−3.8 pt), 2-bit 12.0% (data README). Skips without ../shared.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { quantizeCalibrated } from '../../../src/core/calibrated/calibratedQuantize';
import { calibrateActivations } from '../../../src/core/compress/calibrate';
import { quantizeActivations } from '../../../src/core/compress/quantizeActivations';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import { encodeModel } from '../../../src/core/onnx/encode';
import { loadModelFile } from '../../../src/core/onnx/load';
import type { Model } from '../../../src/core/onnx/types';
import { verifyModels } from '../../../src/core/verify';
import { SHARED_MODELS_DIR } from '../../helpers/sharedModels';

const FMNIST = path.join(SHARED_MODELS_DIR, 'fmnist_vgg.onnx');
const DATA = path.resolve(SHARED_MODELS_DIR, '../data/fashion-mnist');
const CALIB = path.join(DATA, 'calib64');
const TEST = path.join(DATA, 'test1000');
const present = fs.existsSync(FMNIST) && fs.existsSync(CALIB) && fs.existsSync(TEST);

describe('GPTQ on fmnist_vgg (calib64 → test1000)', { skip: !present && 'no ../shared' }, () => {
  const loaded = present ? loadModelFile(FMNIST) : undefined!;

  async function top1(model: Model): Promise<{ original: number; compressed: number }> {
    const v = await verifyModels(FMNIST, encodeModel(model), { inputsDir: TEST });
    assert.ok(v.labelled);
    return { original: v.labelled.accuracyOriginal, compressed: v.labelled.accuracyCompressed };
  }

  const cases: { bits: number; maxDrop: number }[] = [
    { bits: 4, maxDrop: 0.005 },
    { bits: 3, maxDrop: 0.01 },
    // Nearest gives 12% (chance is 10%); the issue asks for "far above" and the figure.
    { bits: 2, maxDrop: 0.2 },
  ];
  for (const { bits, maxDrop } of cases) {
    it(`${bits}-bit per-channel weights: top-1 within ${maxDrop * 100} pt of float`, async (t) => {
      const started = performance.now();
      const r = await quantizeCalibrated(loaded, { bits, perChannel: true }, { inputsDir: CALIB });
      const seconds = (performance.now() - started) / 1000;
      const gptq = await top1(r.model);
      const nearest = await top1(
        quantizeWeights(loaded.model, { bits, perChannel: true }, loaded.external).model,
      );
      t.diagnostic(
        `${bits}-bit: float ${pct(gptq.original)}, nearest ${pct(nearest.compressed)}, GPTQ ${pct(gptq.compressed)} (${seconds.toFixed(1)} s); ${r.summary.notes[0]}`,
      );
      assert.match(r.summary.notes[0], /error-compensating rounding \(GPTQ\) of 6 layer/);
      assert.ok(
        gptq.compressed >= gptq.original - maxDrop - 1e-9,
        `${pct(gptq.compressed)} vs float ${pct(gptq.original)}`,
      );
      assert.ok(gptq.compressed >= nearest.compressed, 'never worse than nearest here');
    });
  }

  it('W8A8 (int8 weights by GPTQ, activations from calib64): within 0.3 pt of float', async (t) => {
    const weights = await quantizeCalibrated(
      loaded,
      { bits: 8, perChannel: true },
      { inputsDir: CALIB },
    );
    const current = { ...loaded, model: weights.model };
    const calibration = await calibrateActivations(current, { inputsDir: CALIB });
    const r = quantizeActivations(weights.model, calibration, { mode: 'auto' }, loaded.external);
    const acc = await top1(r.model);
    t.diagnostic(`W8A8: float ${pct(acc.original)}, compressed ${pct(acc.compressed)}`);
    assert.ok(acc.compressed >= acc.original - 0.003 - 1e-9);
  });
});

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}
