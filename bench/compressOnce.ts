/**
 * One compression benchmark run in a fresh process: int8 per-channel weight quantization of a
 * model (load + quantize + encode), verification of a model against itself on 8 inputs, or the
 * calibrated engines (src/core/calibrated/) on 64 seeded calibration inputs: GPTQ 4-bit per-channel
 * rounding ('gptq') or 50% SparseGPT pruning ('sparsegpt'), each load + compress + save.
 * Prints one JSON line `{task, file, ms, peakRssBytes, fileBytes}`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pruneCalibrated } from '../src/core/calibrated/calibratedPrune';
import { quantizeCalibrated } from '../src/core/calibrated/calibratedQuantize';
import { quantizeWeights } from '../src/core/compress/quantize';
import { loadModelFile, saveModelFile } from '../src/core/onnx/load';
import { verifyModels } from '../src/core/verify';

async function main(): Promise<void> {
  const [task, file] = process.argv.slice(2);
  const start = performance.now();
  if (task === 'quantize') {
    const loaded = loadModelFile(file);
    const { model } = quantizeWeights(loaded.model, { bits: 8, perChannel: true }, loaded.external);
    saveModelFile(
      model,
      path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-q-')), 'int8.onnx'),
    );
  } else if (task === 'gptq' || task === 'sparsegpt') {
    const loaded = loadModelFile(file);
    const calibration = { samples: 64 };
    const { model } =
      task === 'gptq'
        ? await quantizeCalibrated(loaded, { bits: 4, perChannel: true }, calibration)
        : await pruneCalibrated(loaded, { pattern: 0.5 }, calibration);
    saveModelFile(
      model,
      path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-c-')), 'c.onnx'),
    );
  } else {
    await verifyModels(file, file, { samples: 8 });
  }
  const ms = performance.now() - start;
  console.log(
    JSON.stringify({
      task,
      file: path.basename(file),
      ms,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      fileBytes: fs.statSync(file).size,
    }),
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
