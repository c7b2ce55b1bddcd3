import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import { analyzeBytes } from '../../../src/core/analyze';
import { encodeModel } from '../../../src/core/onnx/encode';
import { loadModelFile } from '../../../src/core/onnx/load';
import { seededRandom } from '../../helpers/modelBuilder';
import { SHARED_MODELS_DIR, sharedModels } from '../../helpers/sharedModels';

const shared = sharedModels();

/** Runs a model on one seeded random 1×3×224×224 input (the shared models' `input`). */
async function run(bytes: Uint8Array): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  const random = seededRandom(42);
  const x = Float32Array.from({ length: 3 * 224 * 224 }, () => random() * 2 - 1);
  const out = await session.run({ input: new ort.Tensor('float32', x, [1, 3, 224, 224]) });
  const y = out[session.outputNames[0]];
  return { data: y.data as Float32Array, dims: y.dims };
}

function sqnrDb(reference: Float32Array, actual: Float32Array): number {
  let signal = 0;
  let noise = 0;
  reference.forEach((v, i) => {
    signal += v * v;
    noise += (v - actual[i]) ** 2;
  });
  return 10 * Math.log10(signal / noise);
}

for (const [name, ref] of Object.entries(
  'models' in shared ? shared.models : { none: undefined },
)) {
  const skip = 'skip' in shared ? shared.skip : false;
  test(
    `${name}: int8 per-channel and int4 run in ONNX Runtime, smaller, same MACs`,
    { skip },
    async () => {
      if (!ref) return;
      const loaded = loadModelFile(path.join(SHARED_MODELS_DIR, ref.file));
      const original = encodeModel(loaded.model);
      const before = analyzeBytes(original).totals;
      const reference = await run(original);
      for (const [bits, maxShare] of [
        [8, 0.27],
        [4, 0.15],
      ]) {
        const { model, summary } = quantizeWeights(loaded.model, { bits }, loaded.external);
        const bytes = encodeModel(model);
        const out = await run(bytes);
        assert.deepEqual(out.dims, reference.dims);
        const db = sqnrDb(reference.data, out.data);
        const share = bytes.length / original.length;
        // Printed so the measured figures show in the test log.
        console.log(
          `${name} ${summary.operation}: output SQNR ${db.toFixed(1)} dB, file ${(share * 100).toFixed(1)}%`,
        );
        if (bits === 8) assert.ok(db >= 30, `${name} int8 SQNR ${db.toFixed(1)} dB`);
        assert.ok(share <= maxShare, `${name} int${bits} file is ${(share * 100).toFixed(1)}%`);
        const after = analyzeBytes(bytes).totals;
        assert.ok(after.weightBytes < before.weightBytes);
        assert.equal(after.weightBytes, summary.bytesAfter);
        assert.equal(after.macs, before.macs);
        assert.equal(after.macs, ref.macs);
      }
    },
  );
}
