/**
 * The "Fit the model to …" quick fix with grids (issue 15), run directly on a model state (no
 * language server): on a device with 1- and 2-bit weights it may choose ternary/binary, applies
 * exactly the plan's formats, and names them; with calibration samples, GPTQ rounds them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeLoaded } from '../../../src/core/analyze';
import { quantizedWeightBytes, weightGridOf } from '../../../src/core/cost/nodeFigures';
import type { DeviceProfile } from '../../../src/core/devices';
import { encodeModel } from '../../../src/core/onnx/encode';
import type { LoadedModel } from '../../../src/core/onnx/load';
import { inputSpecs, readInputsDir, verifyModels, writeNpy } from '../../../src/core/verify';
import type { OpenModel } from '../../../src/server/modelStore';
import { runFix, sensitivityOf } from '../../../src/server/quickFixes';
import { gemmMlp } from '../../helpers/gemmMlp';
import { seededRandom } from '../../helpers/modelBuilder';

const SIZES: [number, number, number, number] = [32, 64, 64, 10];

function mlp(): LoadedModel {
  return gemmMlp(SIZES, 5);
}

function stateOf(loaded: LoadedModel): OpenModel {
  return {
    path: '/virtual/mlp.onnx',
    text: '',
    loaded,
    fixes: [],
    key: 'k',
    report: analyzeLoaded(loaded, { skipBitHints: true }),
    nodesByLine: new Map(),
    linesByNode: new Map(),
  };
}

function device(flashBytes: number, supportedWeightBits: number[]): DeviceProfile {
  return {
    id: 'tiny',
    name: 'Tiny MCU',
    ramBytes: 1 << 30,
    flashBytes,
    macsPerSecond: {},
    supportedWeightBits,
    supportedActivationBits: [8, 32],
    source: 'test',
  };
}

/** Weight bytes with every main weight at `bits` (biases float32), as the analysis counts them. */
function bytesAt(bits: number): number {
  let total = 0;
  for (let l = 0; l < 3; l++) {
    total += quantizedWeightBytes(SIZES[l] * SIZES[l + 1], SIZES[l + 1], bits) + SIZES[l + 1] * 4;
  }
  return total;
}

describe('fit to device with grids', () => {
  it('below all-int4 on a 1/2/4/8-bit device: grids, applied and named', async (t) => {
    const loaded = mlp();
    const state = stateOf(loaded);
    const progress: string[] = [];
    const flash = Math.round((bytesAt(4) + bytesAt(2)) / 2);
    const outcome = await runFix(
      state,
      { kind: 'fitToDevice' },
      { device: device(flash, [1, 2, 4, 8]), progress: (m) => progress.push(m) },
    );
    t.diagnostic(outcome.description);
    assert.match(
      outcome.description,
      /^fit to tiny: 3 layers \((\d (int8|int4|pow2-\d|ternary|binary)(, |\)))+, predicted output SQNR -?\d+\.\d dB$/,
    );
    assert.match(outcome.description, /ternary|binary/);
    // The written weights are what the description names.
    const marked = outcome.model.graph.initializers
      .map((t) => weightGridOf(t.docString)?.grid)
      .filter((g) => g !== undefined);
    for (const g of ['ternary', 'binary', 'pow2'])
      assert.equal(
        marked.filter((m) => m === g).length,
        Number(new RegExp(`(\\d) ${g}`).exec(outcome.description)?.[1] ?? 0),
        `${g}: ${outcome.description}`,
      );
    const [summary] = outcome.summaries;
    assert.ok(summary.bytesAfter <= flash, `${summary.bytesAfter} > ${flash}`);
    assert.match(summary.operation, /^quantize mixed \(/);
    const v = await verifyModels(encodeModel(loaded.model), encodeModel(outcome.model), {
      samples: 2,
    });
    assert.ok(Number.isFinite(v.sqnrDb));
    // The grids were measured with the widths, and kept on the state for the next fit.
    const table = state.sensitivity;
    assert.ok(table);
    assert.deepEqual(Object.keys(table.get('fc2')?.gridOutputSqnrDb ?? {}).sort(), [
      'binary',
      'pow2-4',
      'ternary',
    ]);
    assert.ok(
      progress.some((m) => m === 'measuring sensitivity: fc3 (18/18)'),
      progress.at(-2),
    );
  });

  it('never writes a grid for a device without 1- or 2-bit weights', async () => {
    const loaded = mlp();
    const outcome = await runFix(
      stateOf(loaded),
      { kind: 'fitToDevice' },
      { device: device(Math.round(bytesAt(4) * 1.05), [4, 8]) },
    );
    assert.doesNotMatch(outcome.description, /ternary|binary|pow2/);
    assert.ok(outcome.model.graph.initializers.every((t) => !weightGridOf(t.docString)));
    // And below all-int4 it can't fit there at all: refused with the reason.
    await assert.rejects(
      runFix(
        stateOf(loaded),
        { kind: 'fitToDevice' },
        { device: device(bytesAt(4) - 100, [4, 8]) },
      ),
      /cannot fit Tiny MCU: weights need at least \d+ bytes/,
    );
  });

  it('with calibration samples: integer widths rounded by GPTQ, progress in two halves', async () => {
    // 12 samples of x [4, 32], as fixData.ts hands the calibration part to the engines.
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-fit-calibration-'));
    try {
      const random = seededRandom(3);
      for (let i = 0; i < 12; i++) {
        fs.mkdirSync(path.join(folder, String(i)));
        const data = Float32Array.from({ length: 4 * SIZES[0] }, () => random() * 2 - 1);
        const npy = writeNpy({ dtype: 'float32', dims: [4, SIZES[0]], data });
        fs.writeFileSync(path.join(folder, String(i), 'x.npy'), npy);
      }
      const progress: [string, number][] = [];
      const outcome = await runFix(
        stateOf(mlp()),
        { kind: 'fitToDevice' },
        {
          device: device(Math.round(bytesAt(4) * 1.05), [4, 8]),
          progress: (m, f) => progress.push([m, f]),
          calibration: {
            inputs: readInputsDir(folder, inputSpecs(mlp())).sets,
            description: '12 calibration samples of data',
          },
        },
      );
      assert.match(outcome.description, /\(GPTQ on data\)$/);
      assert.match(
        outcome.summaries[0].notes[0],
        /^error-compensating rounding \(GPTQ\) of 3 layer/,
      );
      assert.equal(outcome.method, 'rounded by GPTQ on 12 calibration samples of data');
      // Sensitivity fills the first half of the bar, calibration the second; never backwards.
      const measuring = progress.filter(([m]) => m.startsWith('measuring sensitivity'));
      const calibrating = progress.filter(([m]) => m.startsWith('calibrating on sample'));
      assert.ok(measuring.length > 0 && measuring.every(([, f]) => f <= 0.5));
      assert.equal(calibrating.length, 11);
      assert.ok(calibrating.every(([, f]) => f > 0.5 && f < 1));
      assert.ok(progress.every(([, f], i) => i === 0 || f >= progress[i - 1][1]));
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it('a table measured without grids gets only the missing grids', async () => {
    const state = stateOf(mlp());
    await sensitivityOf(state, {});
    const before = state.sensitivity!.get('fc1')!;
    const widths = { ...before.outputSqnrDb };
    assert.equal(before.gridOutputSqnrDb, undefined);
    let measured = 0;
    const progress: string[] = [];
    await sensitivityOf(state, { progress: (m) => progress.push(m), measured: () => measured++ }, [
      { grid: 'ternary' },
      { grid: 'binary' },
    ]);
    assert.equal(progress.at(-1), 'measuring sensitivity: fc3 (6/6)');
    assert.equal(measured, 1);
    const after = state.sensitivity!.get('fc1')!;
    assert.deepEqual(after.outputSqnrDb, widths, 'the widths are not measured again');
    assert.deepEqual(Object.keys(after.gridOutputSqnrDb ?? {}), ['ternary', 'binary']);
    // Asked again: nothing to measure.
    let again = 0;
    await sensitivityOf(state, { measured: () => again++ }, [{ grid: 'ternary' }]);
    assert.equal(again, 0);
  });
});
