/**
 * The editor's Export Retraining Plan after a save: the filters a quick fix removed are listed
 * although the file on disk is now the only model there is (extension/retrainingPlan.ts reads the
 * saved file and has no original to compare with on a clean view).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { retrainingPlan } from '../../../src/core/compress/retrainingPlan';
import { loadModelFile, saveModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { DEFAULT_SETTINGS } from '../../../src/server/modelStore';
import {
  ApplyFixRequest,
  SaveModelRequest,
  SettingsNotification,
  type ApplyFixResult,
  type SaveModelResult,
} from '../../../src/shared/protocol';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { ServerSession } from '../../helpers/serverSession';

const serverJs = path.resolve(__dirname, '../../../dist/server.js');

function writeModel(file: string): void {
  const b = new ModelBuilder({ opset: 13, seed: 9 });
  const x = b.input('input', DataType.FLOAT, [1, 3, 8, 8]);
  const [c1] = b.node(
    'Conv',
    [x, b.weight('conv1.weight', [16, 3, 3, 3])],
    { pads: [1, 1, 1, 1] },
    { name: 'conv1' },
  );
  const [r] = b.node('Relu', [c1], {}, { name: 'relu' });
  const [c2] = b.node(
    'Conv',
    [r, b.weight('conv2.weight', [8, 16, 3, 3])],
    { pads: [1, 1, 1, 1] },
    { name: 'conv2' },
  );
  b.classifierHead(c2, 8);
  saveModelFile(b.build(), file);
}

describe(
  'retraining plan after saving a filter-removal quick fix',
  { skip: fs.existsSync(serverJs) ? false : 'dist/server.js not built (npm run build)' },
  () => {
    let session: ServerSession;
    let dir: string;
    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-plan-save-'));
      session = await ServerSession.start(serverJs);
      await session.connection.sendNotification(SettingsNotification, DEFAULT_SETTINGS);
    });
    after(() => {
      session?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('remove filters, save, export: the removal is listed with its layer and count', async () => {
      const file = path.join(dir, 'net.onnx');
      writeModel(file);
      const { uri } = await session.open(file);
      const fix: ApplyFixResult = await session.connection.sendRequest(ApplyFixRequest, {
        uri,
        fix: { kind: 'removeFilters', layers: ['conv1'], fraction: 0.25 },
      });
      assert.ok('text' in fix, JSON.stringify(fix));
      await session.connection.sendNotification('textDocument/didChange', {
        textDocument: { uri, version: 2 },
        contentChanges: [{ text: fix.text }],
      });
      const saved: SaveModelResult = await session.connection.sendRequest(SaveModelRequest, {
        path: file,
        text: fix.text,
      });
      assert.deepEqual(saved, {});

      // What the export does on a clean view: the saved file alone.
      const loaded = loadModelFile(file);
      const plan = retrainingPlan(loaded.model, loaded.external);
      assert.equal(plan.model.comparedWithOriginal, false);
      const conv1 = plan.layers.find((l) => l.node === 'conv1');
      assert.equal(conv1?.structured?.channelsBefore, 16);
      assert.equal(conv1?.structured?.channelsAfter, 12);
      assert.equal(conv1?.structured?.removed?.length, 4);
      assert.equal(plan.layers.find((l) => l.node === 'conv2')?.structured, null);
    });
  },
);
