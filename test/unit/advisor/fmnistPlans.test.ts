/**
 * Issue 11.5 and 12.4 on a real trained classifier: ../shared/models/fmnist_vgg.onnx, per-layer
 * plans chosen by effects measured on calib64/ (64 unlabelled training images: the effect is the
 * KL of the class distribution) and judged on test1000/ (1,000 labelled test images, 94.4% float).
 * The same engine as `compress --prune 0.5 --calibration calib64 --evaluation test1000`.
 * Skips without ../shared.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  EFFECT_BITS,
  EFFECT_SPARSITIES,
  measureEffects,
} from '../../../src/core/advisor/measuredEffect';
import { budgetDevice, planSparsity, planWidths } from '../../../src/core/advisor/effectPlan';
import { effectData, verifyPlan } from '../../../src/core/advisor/effectRun';
import { pruneCalibrated } from '../../../src/core/calibrated/calibratedPrune';
import { quantizeCalibrated } from '../../../src/core/calibrated/calibratedQuantize';
import { quantizeOptionsFor } from '../../../src/core/advisor/fitPlan';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import { analyzeLoaded } from '../../../src/core/analyze';
import { loadModelFile } from '../../../src/core/onnx/load';
import { SHARED_MODELS_DIR } from '../../helpers/sharedModels';

const FMNIST = path.join(SHARED_MODELS_DIR, 'fmnist_vgg.onnx');
const DATA = path.resolve(SHARED_MODELS_DIR, '../data/fashion-mnist');
const CALIB = path.join(DATA, 'calib64');
const TEST = path.join(DATA, 'test1000');
const present = fs.existsSync(FMNIST) && fs.existsSync(CALIB) && fs.existsSync(TEST);

/** The issue's bar: at most one point of top-1 below float on test1000. */
const MAX_DROP = 0.01;

describe(
  'measured plans on fmnist_vgg (calib64 → test1000)',
  { skip: !present && 'no ../shared' },
  () => {
    const loaded = present ? loadModelFile(FMNIST) : undefined!;
    const data = present
      ? effectData(loaded, { calibrationDir: CALIB, evaluationDir: TEST })
      : undefined!;
    const calibration = { inputs: data?.calibration };

    it('50% overall sparsity with measured allocation: within 1 pt of float', async (t) => {
      const started = performance.now();
      const table = await measureEffects(loaded, {
        sets: data.calibration,
        sparsities: EFFECT_SPARSITIES,
        pruning: 'sparsegpt',
      });
      const plan = planSparsity(table, 0.5);
      const measured = await pruneCalibrated(
        loaded,
        { pattern: 0.5, sparsityPerLayer: plan.perLayer },
        calibration,
      );
      const seconds = (performance.now() - started) / 1000;
      const v = await verifyPlan(loaded, measured.model, data);
      const uniform = await pruneCalibrated(loaded, { pattern: 0.5 }, calibration);
      const u = await verifyPlan(loaded, uniform.model, data);
      const l = v.labelled!;
      t.diagnostic(
        `50%: float ${pct(l.accuracyOriginal)}, measured allocation ${pct(l.accuracyCompressed)} ` +
          `(${plan.choices.map((c) => `${c.layer} ${Math.round(c.sparsity * 100)}%`).join(', ')}; ` +
          `${pct(plan.achieved)} overall; predicted KL ${plan.predicted.effect.toExponential(1)}, ` +
          `measured ${v.klDivergence!.toExponential(1)}), uniform per layer ${pct(u.labelled!.accuracyCompressed)} ` +
          `(KL ${u.klDivergence!.toExponential(1)}); measure ${table.seconds.toFixed(1)} s, plan and prune ${seconds.toFixed(1)} s`,
      );
      assert.ok(plan.achieved >= 0.5);
      assert.ok(
        l.accuracyCompressed >= l.accuracyOriginal - MAX_DROP - 1e-9,
        `${pct(l.accuracyCompressed)} vs float ${pct(l.accuracyOriginal)}`,
      );
      // The plan's prediction is a fair guide to the real run: same order of magnitude.
      const ratio = v.klDivergence! / plan.predicted.effect;
      assert.ok(
        ratio > 0.1 && ratio < 10,
        `predicted ${plan.predicted.effect}, measured ${v.klDivergence}`,
      );
    });

    it('widths within 1.15× the int4 weight bytes: within 1 pt of float', async (t) => {
      const int4 = analyzeLoaded(
        { ...loaded, model: quantizeWeights(loaded.model, { bits: 4 }, loaded.external).model },
        { skipBitHints: true },
      ).totals.weightBytes;
      const budget = Math.floor(1.15 * int4);
      const started = performance.now();
      const table = await measureEffects(loaded, {
        sets: data.calibration,
        bits: EFFECT_BITS,
        rounding: 'gptq',
      });
      const plan = planWidths(loaded, table, budgetDevice(budget));
      assert.equal(plan.fit.fits, true, plan.fit.reason);
      assert.ok(plan.fit.weightBytes <= budget);
      const r = await quantizeCalibrated(loaded, quantizeOptionsFor(plan.fit), calibration);
      const seconds = (performance.now() - started) / 1000;
      // What the plan counted is what the analysis of the written model counts.
      const after = analyzeLoaded({ ...loaded, model: r.model }, { skipBitHints: true });
      assert.equal(after.totals.weightBytes, plan.fit.weightBytes);
      const v = await verifyPlan(loaded, r.model, data);
      const l = v.labelled!;
      t.diagnostic(
        `widths within ${budget} bytes (1.15 × int4 ${int4}): ${[...plan.fit.bitsPerLayer].map(([k, b]) => `${k} ${b}`).join(', ')} ` +
          `(others float), ${plan.fit.weightBytes} bytes; float ${pct(l.accuracyOriginal)}, plan ${pct(l.accuracyCompressed)}; ` +
          `predicted KL ${plan.predicted.effect.toExponential(1)}, measured ${v.klDivergence!.toExponential(1)}; ` +
          `measure ${table.seconds.toFixed(1)} s, total ${seconds.toFixed(1)} s`,
      );
      assert.ok(
        l.accuracyCompressed >= l.accuracyOriginal - MAX_DROP - 1e-9,
        `${pct(l.accuracyCompressed)} vs float ${pct(l.accuracyOriginal)}`,
      );
    });
  },
);

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}
