/**
 * Compression quick fixes on `modelLens.dataFolder`, through the server: with a folder they fit
 * the weights to its calibration part (GPTQ, SparseGPT, filters ranked by output effect) and are
 * verified on its evaluation part; a small folder is used whole for both, and says so; without
 * one they are data-free and say how to use data. Cancelling leaves no new state, and a folder
 * that doesn't fit the model refuses the fix naming the file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { halfTensor } from '../../../src/core/compress/halfWeights';
import { saveModelFile } from '../../../src/core/onnx/load';
import { DataType, type Tensor } from '../../../src/core/onnx/types';
import { writeNpy } from '../../../src/core/verify';
import {
  ApplyFixRequest,
  ProgressNotification,
  SaveModelRequest,
  SettingsNotification,
  VerifyFixRequest,
  type ApplyFixResult,
  type Fix,
  type ProgressParams,
  type SaveModelResult,
  type VerifyFixResult,
} from '../../../src/shared/protocol';
import { DEFAULT_SETTINGS } from '../../../src/server/modelStore';
import { calibrationCount, MIN_SAMPLES_TO_SPLIT } from '../../../src/server/fixData';
import { ModelBuilder, seededRandom } from '../../helpers/modelBuilder';
import { ServerSession } from '../../helpers/serverSession';

const serverJs = path.resolve(__dirname, '../../../dist/server.js');

/** x[1, 3, 16, 16] → conv1 → Relu → conv2 → pool → Gemm (10 classes). */
function writeModel(file: string, input: (string | number)[] = [1, 3, 16, 16]): void {
  const b = new ModelBuilder({ opset: 13, seed: 5 });
  const x = b.input('x', DataType.FLOAT, input);
  const [c1] = b.node(
    'Conv',
    [x, b.weight('w1', [8, 3, 3, 3])],
    { pads: [1, 1, 1, 1] },
    { name: 'conv1' },
  );
  const [r1] = b.node('Relu', [c1], {}, { name: 'relu1' });
  const [c2] = b.node(
    'Conv',
    [r1, b.weight('w2', [16, 8, 3, 3])],
    { pads: [1, 1, 1, 1] },
    { name: 'conv2' },
  );
  b.classifierHead(c2, 16);
  saveModelFile(b.build(), file);
}

/** `count` samples (`<i>/x.npy`, shape `dims`) and labels.txt, one class id per sample. */
function writeDataFolder(dir: string, count: number, dims = [1, 3, 16, 16]): string {
  const random = seededRandom(count);
  const size = dims.reduce((a, b) => a * b, 1);
  for (let i = 0; i < count; i++) {
    fs.mkdirSync(path.join(dir, String(i)), { recursive: true });
    const data = Float32Array.from({ length: size }, () => random() * 2 - 1);
    fs.writeFileSync(
      path.join(dir, String(i), 'x.npy'),
      writeNpy({ dtype: 'float32', dims, data }),
    );
  }
  const labels = Array.from({ length: count }, (_, i) => i % 10);
  fs.writeFileSync(path.join(dir, 'labels.txt'), labels.join('\n'));
  return dir;
}

describe(
  'quick fixes calibrated on modelLens.dataFolder',
  { skip: fs.existsSync(serverJs) ? false : 'dist/server.js not built (npm run build)' },
  () => {
    let session: ServerSession;
    let dir: string;
    /** 200 labelled samples: split 50 / 150. */
    let data: string;
    const progress: ProgressParams[] = [];

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-calibrated-fix-'));
      data = writeDataFolder(path.join(dir, 'data'), 200);
      session = await ServerSession.start(serverJs);
      session.connection.onNotification(ProgressNotification, (p: ProgressParams) => {
        progress.push(p);
      });
    });
    after(() => {
      session?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const useFolder = (folder: string | undefined): Promise<void> =>
      session.connection.sendNotification(SettingsNotification, {
        ...DEFAULT_SETTINGS,
        ...(folder !== undefined ? { dataFolder: folder } : {}),
      });
    const apply = (uri: string, fix: Fix, progressId?: string): Promise<ApplyFixResult> =>
      session.connection.sendRequest(ApplyFixRequest, { uri, fix, progressId });
    const verify = (uri: string, fixed: { before: string; after: string }) =>
      session.connection.sendRequest(VerifyFixRequest, {
        uri,
        before: fixed.before,
        after: fixed.after,
      }) as Promise<VerifyFixResult>;
    const openModel = async (name: string): Promise<{ file: string; uri: string }> => {
      const file = path.join(dir, name);
      writeModel(file);
      return { file, uri: (await session.open(file)).uri };
    };

    test('the split: a quarter of the folder calibrates, at most 128 samples; small folders are not split', () => {
      assert.equal(MIN_SAMPLES_TO_SPLIT, 100);
      assert.equal(calibrationCount(200), 50);
      assert.equal(calibrationCount(1000), 128);
    });

    test('int4: rounded by GPTQ on the calibration part, verified on the evaluation part with labels', async () => {
      await useFolder(data);
      const { uri } = await openModel('gptq.onnx');
      progress.length = 0;
      const fixed = await apply(uri, { kind: 'quantize', bits: 4 }, 'q1');
      assert.ok('text' in fixed, JSON.stringify(fixed));
      const notes = (fixed.notes ?? []).join('\n');
      assert.match(
        notes,
        /error-compensating rounding \(GPTQ\) of 3 layer\(s\) on \d+ calibration sample/,
      );
      assert.equal(
        fixed.method,
        'rounded by GPTQ on 50 calibration samples of data (verified on the other 150)',
      );
      // The text view's list of fixes names the engine.
      assert.match(fixed.text, /1\. quantize int4 .*\(GPTQ on data\)/);
      // Progress: reading the folder, then each calibration sample, moving forward only.
      const mine = progress.filter((p) => p.progressId === 'q1');
      assert.equal(mine[0]?.message, 'reading the data folder');
      assert.ok(mine.some((p) => p.message === 'calibrating on sample 25/50'));
      assert.ok(mine.every((p, i) => i === 0 || p.fraction >= mine[i - 1].fraction));

      const verified = await verify(uri, fixed);
      assert.ok(verified.ok, verified.line);
      // The lead is the labelled accuracy change, on the evaluation part only.
      assert.match(verified.line, /^top-1 \d+\.\d% → \d+\.\d% \(.*\) on 150 labelled samples$/);
      assert.match(
        verified.markdown,
        /Verified on the evaluation part of .*data: 150 of its 200 samples\. The other 50 calibrated the fix/,
      );
    });

    test('prune 50% and 2:4 by SparseGPT; filters ranked by output effect, consumers refitted', async () => {
      await useFolder(data);
      const { uri } = await openModel('prune.onnx');
      const unstructured = await apply(uri, { kind: 'prune', sparsity: 0.5 });
      assert.ok('text' in unstructured, JSON.stringify(unstructured));
      assert.match(
        (unstructured.notes ?? []).join('\n'),
        /50% chosen by SparseGPT for 3 layer\(s\) on \d+ calibration sample/,
      );
      assert.match(
        unstructured.method ?? '',
        /^pruned by SparseGPT on 50 calibration samples of data/,
      );

      const nm = await apply(uri, { kind: 'prune', nm: { n: 2, m: 4 } });
      assert.ok('text' in nm, JSON.stringify(nm));
      assert.match(
        (nm.notes ?? []).join('\n'),
        /2:4 chosen by SparseGPT for \d+ layer\(s\) on \d+ calibration sample/,
      );

      const filters = await apply(uri, {
        kind: 'removeFilters',
        layers: ['conv1'],
        fraction: 0.25,
      });
      assert.ok('text' in filters, JSON.stringify(filters));
      assert.match(filters.summary[0], /^structured filter pruning 25%, calibrated: /);
      assert.match(
        (filters.notes ?? []).join('\n'),
        /consumer layer\(s\) refitted by least squares/,
      );
      assert.match(filters.method ?? '', /^filters ranked by their effect on the outputs/);
    });

    test('no data folder: nearest rounding and magnitude pruning, and the notification says so', async () => {
      await useFolder(undefined);
      const { uri } = await openModel('free.onnx');
      const quantized = await apply(uri, { kind: 'quantize', bits: 8, layers: ['conv2'] });
      assert.ok('text' in quantized, JSON.stringify(quantized));
      assert.equal(
        quantized.method,
        'rounded to nearest (no data folder: Choose Data Folder… to round on your data)',
      );
      assert.doesNotMatch((quantized.notes ?? []).join('\n'), /GPTQ/);
      const pruned = await apply(uri, { kind: 'prune', sparsity: 0.5 });
      assert.ok('text' in pruned, JSON.stringify(pruned));
      assert.equal(
        pruned.method,
        'pruned by magnitude (no data folder: Choose Data Folder… to prune on your data)',
      );
      assert.doesNotMatch((pruned.notes ?? []).join('\n'), /SparseGPT/);
      assert.match((await verify(uri, pruned)).line, /on 8 random samples$/);
      // A fix that fits nothing to data has no method to tell.
      const fp16 = await apply(uri, { kind: 'quantize', bits: 16, float: 'fp16' } as Fix);
      assert.ok('text' in fp16, JSON.stringify(fp16));
      assert.equal(fp16.method, undefined);
    });

    test('a folder below 100 samples calibrates and verifies on all of them, and says so', async () => {
      const small = writeDataFolder(path.join(dir, 'small'), 20);
      await useFolder(small);
      const { uri } = await openModel('small.onnx');
      const fixed = await apply(uri, { kind: 'quantize', bits: 8 });
      assert.ok('text' in fixed, JSON.stringify(fixed));
      assert.equal(
        fixed.method,
        'rounded by GPTQ on all 20 samples of small (not split, fewer than 100 samples: verified on the same samples)',
      );
      const verified = await verify(uri, fixed);
      assert.match(verified.line, /on 20 labelled samples$/);
      assert.match(
        verified.markdown,
        /Verified on all 20 samples of .*small, which also calibrated the fix/,
      );
    });

    test('one batched sample with a label per row: its rows are the samples split', async () => {
      // As fashion-mnist's test1000: one x.npy of [200, 3, 16, 16] and 200 labels.
      const batched = writeDataFolder(path.join(dir, 'batched'), 1, [200, 3, 16, 16]);
      const labels = Array.from({ length: 200 }, (_, i) => i % 10);
      fs.writeFileSync(path.join(batched, 'labels.txt'), labels.join(' '));
      await useFolder(batched);
      const file = path.join(dir, 'batch.onnx');
      writeModel(file, ['N', 3, 16, 16]);
      const { uri } = await session.open(file);
      const fixed = await apply(uri, { kind: 'prune', nm: { n: 2, m: 4 } });
      assert.ok('text' in fixed, JSON.stringify(fixed));
      assert.equal(
        fixed.method,
        'pruned by SparseGPT on 50 calibration samples of batched (verified on the other 150)',
      );
      assert.match((await verify(uri, fixed)).line, /on 150 labelled samples$/);
    });

    test('a model the calibrated engine refuses runs data-free, and the notification says why', async () => {
      // conv1's weight is float16 behind Cast(to=FLOAT), as fp16-shipped models store it: filter
      // ranking on data takes float32 weights only, L1 ranking takes both.
      const b = new ModelBuilder({ opset: 13, seed: 2 });
      const graph = b.graph();
      const random = seededRandom(9);
      (graph.initializers as Tensor[]).push(
        halfTensor('w1', DataType.FLOAT16, [8, 3, 3, 3], Array.from({ length: 216 }, random)),
      );
      const [w1] = b.node('Cast', ['w1'], { to: DataType.FLOAT }, { name: 'w1_cast' });
      const x = b.input('x', DataType.FLOAT, [1, 3, 16, 16]);
      const [c1] = b.node('Conv', [x, w1], { pads: [1, 1, 1, 1] }, { name: 'conv1' });
      const [r1] = b.node('Relu', [c1], {}, { name: 'relu1' });
      const [c2] = b.node(
        'Conv',
        [r1, b.weight('w2', [16, 8, 3, 3])],
        { pads: [1, 1, 1, 1] },
        { name: 'conv2' },
      );
      b.classifierHead(c2, 16);
      const file = path.join(dir, 'half.onnx');
      saveModelFile({ ...b.build(), graph }, file);
      await useFolder(data);
      const { uri } = await session.open(file);
      const filters = await apply(uri, {
        kind: 'removeFilters',
        layers: ['conv1'],
        fraction: 0.25,
      });
      assert.ok('text' in filters, JSON.stringify(filters));
      assert.equal(
        filters.method,
        "filters ranked by L1 norm (not on the data folder: 'conv1': its weights are not a stored float32 tensor)",
      );
      // Not calibrated: verified on the whole folder.
      assert.match((await verify(uri, filters)).line, /on 200 labelled samples$/);
    });

    test('cancelled while calibrating: a refusal, no new state, the file untouched', async () => {
      const big = writeDataFolder(path.join(dir, 'big'), 600);
      await useFolder(big);
      const { file, uri } = await openModel('cancel.onnx');
      const original = fs.readFileSync(file);
      const fix: Fix = { kind: 'quantize', bits: 4 };

      // Cancel as the first calibration sample is reported, as the notification's Cancel does.
      const source = new CancellationTokenSource();
      const cancelling = session.connection.onNotification(
        ProgressNotification,
        (p: ProgressParams) => {
          if (p.progressId === 'c1' && p.message.startsWith('calibrating')) source.cancel();
        },
      );
      const cancelled: ApplyFixResult = await session.connection.sendRequest(
        ApplyFixRequest,
        { uri, fix, progressId: 'c1' },
        source.token,
      );
      cancelling.dispose();
      assert.deepEqual(cancelled, { refusal: 'cancelled' });

      // The model the fix would have made, from a server of its own: this one doesn't know it.
      const other = await ServerSession.start(serverJs);
      let wouldBe: string;
      try {
        await other.connection.sendNotification(SettingsNotification, {
          ...DEFAULT_SETTINGS,
          dataFolder: big,
        });
        const elsewhere: ApplyFixResult = await other.connection.sendRequest(ApplyFixRequest, {
          uri: (await other.open(file)).uri,
          fix,
        });
        assert.ok('text' in elsewhere, JSON.stringify(elsewhere));
        wouldBe = elsewhere.text;
      } finally {
        other.stop();
      }
      const save: SaveModelResult = await session.connection.sendRequest(SaveModelRequest, {
        path: file,
        text: wouldBe,
      });
      assert.match(save.error ?? '', /matches no model Model Lens holds/);
      assert.ok(fs.readFileSync(file).equals(original), 'the file is untouched');
      // The same fix, not cancelled, makes exactly that model (so the check above is meaningful).
      const done = await apply(uri, fix);
      assert.ok('text' in done, JSON.stringify(done));
      assert.equal(done.text, wouldBe);
    });

    test("a folder that doesn't fit the model refuses the fix, naming the file", async () => {
      const { uri } = await openModel('mismatch.onnx');
      const grey = writeDataFolder(path.join(dir, 'grey'), 3, [1, 1, 16, 16]);
      await useFolder(grey);
      const channels = await apply(uri, { kind: 'quantize', bits: 8 });
      assert.ok('refusal' in channels, JSON.stringify(channels));
      assert.equal(channels.dataFolder, grey);
      assert.equal(
        channels.refusal,
        `the data folder does not fit this model: ${path.join(grey, '0', 'x.npy')}: shape 1x1x16x16 does not fit input 'x' (1x3x16x16)`,
      );

      const broken = writeDataFolder(path.join(dir, 'broken'), 3);
      fs.writeFileSync(path.join(broken, '1', 'x.npy'), 'not an array');
      await useFolder(broken);
      const unreadable = await apply(uri, { kind: 'prune', sparsity: 0.5 });
      assert.ok('refusal' in unreadable, JSON.stringify(unreadable));
      assert.match(
        unreadable.refusal,
        new RegExp(
          `^the data folder does not fit this model: ${escape(path.join(broken, '1', 'x.npy'))}: not a \\.npy file`,
        ),
      );
      // Nothing was half-applied: the document's model is still the float one.
      const after = await apply(uri, { kind: 'removeFilters', layers: ['conv1'], fraction: 0.25 });
      assert.ok('refusal' in after && after.dataFolder === broken, JSON.stringify(after));
    });

    test('images of mixed sizes for an input of any size: refused, naming the odd image', async () => {
      const file = path.join(dir, 'any-size.onnx');
      writeModel(file, [1, 3, 'H', 'W']);
      const images = path.join(dir, 'images');
      for (const [i, size] of [8, 8, 12].entries()) {
        const png = new PNG({ width: size, height: size });
        png.data.fill(100 + i);
        fs.mkdirSync(path.join(images, 'a'), { recursive: true });
        fs.writeFileSync(path.join(images, 'a', `${i}.png`), PNG.sync.write(png));
      }
      await useFolder(images);
      const { uri } = await session.open(file);
      const mixed = await apply(uri, { kind: 'quantize', bits: 8 });
      assert.ok('refusal' in mixed, JSON.stringify(mixed));
      assert.match(
        mixed.refusal,
        new RegExp(
          `^the data folder does not fit this model: ${escape(path.join(images, 'a', '2.png'))}: [0-9×]+ after preprocessing, but `,
        ),
      );
    });
  },
);

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
