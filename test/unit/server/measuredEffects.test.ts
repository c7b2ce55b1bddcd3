/**
 * Measured effects in the editor (src/server/measuredEffects.ts): with a data folder, Measure
 * Layer Sensitivity also measures each layer's effect on it; the hover shows it, the prune quick
 * pick predicts each choice, and whole-model pruning and fit to device follow the measured plan.
 * First on a model state directly, then through the language server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeLoaded } from '../../../src/core/analyze';
import type { DeviceProfile } from '../../../src/core/devices';
import { saveModelFile, type LoadedModel } from '../../../src/core/onnx/load';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { inputSpecs, randomInputsFor, writeNpy } from '../../../src/core/verify';
import { readFloats } from '../../../src/core/compress/prunedWeights';
import { ExternalData } from '../../../src/core/onnx/externalData';
import {
  effectsFor,
  effectsMarkdown,
  measuredFix,
  measureStateEffects,
  pruneForecast,
} from '../../../src/server/measuredEffects';
import { DEFAULT_SETTINGS, type OpenModel } from '../../../src/server/modelStore';
import { layerMarkdown } from '../../../src/server/presentation';
import { pruneChoices } from '../../../src/shared/pruneChoices';
import {
  ApplyFixRequest,
  MeasureSensitivityRequest,
  SettingsNotification,
  type ApplyFixArgs,
  type ApplyFixResult,
  type MeasureSensitivityResult,
  VerifyFixRequest,
  type VerifyFixResult,
} from '../../../src/shared/protocol';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { ServerSession } from '../../helpers/serverSession';

const SIZES = [16, 48, 32, 10];

/** An MLP with a symbolic batch: fc1 → Relu → fc2 → Relu → fc3. */
function mlp(): LoadedModel {
  const b = new ModelBuilder({ opset: 13, seed: 4 });
  let h = b.input('x', DataType.FLOAT, ['N', SIZES[0]]);
  for (let l = 0; l < 3; l++) {
    const w = b.weight(`w${l + 1}`, [SIZES[l + 1], SIZES[l]]);
    [h] = b.node(
      'Gemm',
      [h, w, b.weight(`b${l + 1}`, [SIZES[l + 1]])],
      { transB: 1 },
      {
        name: `fc${l + 1}`,
      },
    );
    if (l < 2) [h] = b.node('Relu', [h], {}, { name: `relu${l + 1}` });
  }
  b.output(h, DataType.FLOAT, ['N', SIZES[3]]);
  return b.load();
}

/** One .npy of `rows` rows and labels.txt (the model's own float predictions, mostly). */
function dataFolder(loaded: LoadedModel, dir: string, rows: number): string {
  const folder = path.join(dir, 'data');
  fs.mkdirSync(folder, { recursive: true });
  const spec = inputSpecs(loaded)[0];
  const data = new Float32Array(rows * SIZES[0]);
  for (let r = 0; r < rows; r++) {
    data.set(
      randomInputsFor([{ ...spec, dims: [1, SIZES[0]] }], { seed: 2, sample: r }).x
        .data as Float32Array,
      r * SIZES[0],
    );
  }
  fs.writeFileSync(
    path.join(folder, 'x.npy'),
    writeNpy({ data, dims: [rows, SIZES[0]], dtype: 'float32' }),
  );
  const labels = Array.from({ length: rows }, (_, i) => (i * 7) % 10);
  fs.writeFileSync(path.join(folder, 'labels.txt'), labels.join('\n'));
  return folder;
}

function stateOf(loaded: LoadedModel, file: string): OpenModel {
  return {
    path: file,
    text: '',
    loaded,
    fixes: [],
    key: 'k',
    report: analyzeLoaded(loaded),
    nodesByLine: new Map(),
    linesByNode: new Map(),
  };
}

function sparsityOf(model: Model, name: string): number {
  const t = model.graph.initializers.find((i) => i.name === name)!;
  const v = readFloats(t, new ExternalData(undefined));
  return v.filter((x) => x === 0).length / v.length;
}

describe('measured effects on a model state', () => {
  let dir: string;
  let folder: string;
  let state: OpenModel;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-effects-'));
    const loaded = mlp();
    folder = dataFolder(loaded, dir, 240);
    state = stateOf(loaded, path.join(dir, 'mlp.onnx'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('measures every layer at every width and sparsity on the calibration part', async () => {
    const progress: number[] = [];
    const effects = await measureStateEffects(state, folder, {
      progress: (_, f) => progress.push(f),
    });
    // 240 rows: split into 120 + 120; 32 of the calibration part measured, with labels.
    assert.equal(effects.data.disjoint, true);
    assert.equal(effects.table.samples, 32);
    assert.ok(effects.table.referenceAccuracy !== undefined);
    assert.equal(effects.table.metric, 'kl');
    assert.deepEqual(
      effects.table.layers.map((u) => u.layer),
      ['fc1', 'fc2', 'fc3'],
    );
    assert.equal(progress[progress.length - 1], 1);
    assert.equal(effectsFor(state, folder), effects);
    assert.equal(effectsFor(state, path.join(dir, 'elsewhere')), undefined);
  });

  it('the hover shows the bits → effect and sparsity → effect tables', () => {
    const lines = effectsMarkdown(effectsFor(state, folder)!, 'fc2');
    const md = layerMarkdown(
      state.report!.nodes.find((n) => n.name === 'fc2')!,
      state.report!,
      undefined,
      undefined,
      undefined,
      undefined,
      lines,
    );
    assert.match(md, /\*\*Measured effect\*\* on 32 samples of your data folder/);
    assert.match(md, /\| bits \| 8 b \| 6 b \| 5 b \| 4 b \| 3 b \| 2 b \|/);
    assert.match(md, /\| KL \|/);
    assert.match(md, /\| accuracy \| [−+±]/);
    assert.match(md, /\| sparsity \| 30% \| 40% \| 50% \| 60% \| 70% \| 80% \| 90% \|/);
  });

  it('the prune quick pick predicts each choice: the plan for the model, the layer alone', () => {
    const whole = pruneForecast(state, folder, undefined)!;
    assert.deepEqual(
      whole.map((f) => f.sparsity),
      [0.25, 0.5, 0.75, 0.9],
    );
    assert.match(
      whole[1].detail,
      /^predicted KL \S+, accuracy [−+±]\d+\.\d pt, top-1 agreement ≥ \d+\.\d% \(per-layer plan\)$/,
    );
    const choices = pruneChoices(true, whole);
    assert.match(choices[1].description, /per-layer plan by measured effect/);
    assert.equal(choices[1].detail, whole[1].detail);
    // One layer: its own measured effect where that sparsity was measured (50%, 90%).
    const one = pruneForecast(state, folder, ['fc1'])!;
    assert.deepEqual(
      one.map((f) => f.sparsity),
      [0.5, 0.9],
    );
    assert.match(one[0].detail, /^measured KL/);
    // Without effects: no forecast, the choices as before.
    assert.equal(pruneForecast(stateOf(mlp(), 'x.onnx'), folder, undefined), undefined);
    assert.match(pruneChoices(true)[1].description, /one global magnitude threshold/);
  });

  it('pruning the whole model follows the measured plan', async () => {
    const outcome = await measuredFix(
      state,
      { kind: 'prune', sparsity: 0.5 },
      { dataFolder: folder },
    );
    assert.ok(outcome);
    assert.match(outcome.description, /^prune to \d+(\.\d)?% overall by measured effect: /);
    assert.match(outcome.summaries[0].notes[0], /per-layer sparsities chosen by the KL divergence/);
    const total = SIZES.slice(1).reduce((s, n, l) => s + n * SIZES[l], 0);
    const pruned = [1, 2, 3].reduce(
      (s, l) => s + sparsityOf(outcome.model, `w${l}`) * SIZES[l] * SIZES[l - 1],
      0,
    );
    assert.ok(pruned / total >= 0.5 - 1e-6, `overall ${pruned / total}`);
    // Not applicable: a layer's own prune, N:M, or another data folder → the ordinary fix.
    assert.equal(
      await measuredFix(
        state,
        { kind: 'prune', sparsity: 0.5, layers: ['fc1'] },
        { dataFolder: folder },
      ),
      undefined,
    );
    assert.equal(
      await measuredFix(state, { kind: 'prune', nm: { n: 2, m: 4 } }, { dataFolder: folder }),
      undefined,
    );
    assert.equal(await measuredFix(state, { kind: 'prune', sparsity: 0.5 }, {}), undefined);
  });

  it('fit to device plans widths by measured effect within the flash', async () => {
    const float = analyzeLoaded(state.loaded!, { skipBitHints: true }).totals.weightBytes;
    const device: DeviceProfile = {
      id: 'tiny',
      name: 'Tiny MCU',
      ramBytes: 1 << 30,
      flashBytes: Math.round(float * 0.3),
      macsPerSecond: {},
      supportedWeightBits: [2, 4, 8, 32],
      supportedActivationBits: [8, 32],
      source: 'test',
    };
    const outcome = await measuredFix(
      state,
      { kind: 'fitToDevice' },
      { dataFolder: folder, device },
    );
    assert.ok(outcome);
    assert.match(
      outcome.description,
      /^fit to tiny by measured effect: \d layers? \(.*\), predicted KL /,
    );
    const after = analyzeLoaded({ ...state.loaded!, model: outcome.model }, { skipBitHints: true });
    assert.ok(after.totals.weightBytes <= device.flashBytes);
    // A state not measured yet: fit to device measures first.
    const fresh = stateOf(state.loaded!, state.path);
    const again = await measuredFix(fresh, { kind: 'fitToDevice' }, { dataFolder: folder, device });
    assert.ok(again);
    assert.ok(effectsFor(fresh, folder));
    assert.equal(again.description, outcome.description);
  });
});

const serverJs = path.resolve(__dirname, '../../../dist/server.js');

describe(
  'measured effects through the language server',
  { skip: fs.existsSync(serverJs) ? false : 'dist/server.js not built (npm run build)' },
  () => {
    let session: ServerSession;
    let dir: string;
    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-effects-lsp-'));
      session = await ServerSession.start(serverJs);
    });
    after(() => {
      session?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('Measure Layer Sensitivity with a data folder: hover, quick pick forecast, planned prune', async () => {
      const loaded = mlp();
      const file = path.join(dir, 'mlp.onnx');
      saveModelFile(loaded.model, file);
      const folder = dataFolder(loaded, dir, 240);
      await session.connection.sendNotification(SettingsNotification, {
        ...DEFAULT_SETTINGS,
        dataFolder: folder,
      });
      const { uri, text } = await session.open(file);
      const measured: MeasureSensitivityResult = await session.connection.sendRequest(
        MeasureSensitivityRequest,
        { uri },
      );
      assert.equal(measured.error, undefined);
      // 240 rows: split 120 + 120; 32 of the calibration part measured.
      assert.equal(measured.effectSamples, 32);
      const line = text.split('\n').findIndex((l) => l.trimStart().startsWith('[fc2] '));
      const hover = (await session.connection.sendRequest('textDocument/hover', {
        textDocument: { uri },
        position: { line, character: 2 },
      })) as { contents: { value: string } };
      assert.match(hover.contents.value, /\*\*Measured effect\*\* on 32 samples/);
      const actions: { title: string; command?: { arguments: ApplyFixArgs[] } }[] =
        await session.connection.sendRequest('textDocument/codeAction', {
          textDocument: { uri },
          range: { start: { line, character: 0 }, end: { line, character: 0 } },
          context: { diagnostics: [] },
        });
      const prune = actions.find((a) => a.title === 'Prune every layer to a sparsity…');
      const args = prune?.command?.arguments[0];
      assert.ok(args?.forecast, actions.map((a) => a.title).join(' | '));
      assert.equal(args.forecast.length, 4);
      const fixed: ApplyFixResult = await session.connection.sendRequest(ApplyFixRequest, {
        uri,
        fix: { ...args.fix, sparsity: 0.5 },
      });
      assert.ok('text' in fixed, JSON.stringify(fixed));
      assert.match(fixed.summary[0], /prune unstructured \d+(\.\d)?% overall \(per-layer plan\)/);
      // Judged on the evaluation part, which the plan was not chosen on.
      const verified: VerifyFixResult = await session.connection.sendRequest(VerifyFixRequest, {
        uri,
        before: fixed.before,
        after: fixed.after,
      });
      assert.ok(verified.ok, verified.line);
      assert.match(verified.line, /on 120 labelled samples/);
      assert.match(verified.markdown, /on 120 samples from your folder[\s\S]*120 for evaluation/);
    });
  },
);
