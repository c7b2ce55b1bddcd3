/**
 * The prune quick fix with the quick pick's "2:4 semi-structured" choice, through the server:
 * the whole model skips the layer whose input size 4 does not divide, a named one is refused,
 * and the new state's hover shows the zero-weight figures.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import {
  ApplyFixRequest,
  SettingsNotification,
  type ApplyFixResult,
  type Fix,
} from '../../../src/shared/protocol';
import { DEFAULT_SETTINGS } from '../../../src/server/modelStore';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { ServerSession } from '../../helpers/serverSession';

const serverJs = path.resolve(__dirname, '../../../dist/server.js');

describe(
  'prune 2:4 quick fix',
  { skip: fs.existsSync(serverJs) ? false : 'dist/server.js not built (npm run build)' },
  () => {
    let session: ServerSession;
    let dir: string;
    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-nm-fix-'));
      session = await ServerSession.start(serverJs);
      await session.connection.sendNotification(SettingsNotification, DEFAULT_SETTINGS);
    });
    after(() => {
      session?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const apply = (uri: string, fix: Fix): Promise<ApplyFixResult> =>
      session.connection.sendRequest(ApplyFixRequest, { uri, fix });

    test('every layer: conv1 (27 inputs) skipped, conv2 pruned; naming conv1 is refused', async () => {
      const b = new ModelBuilder({ opset: 13, seed: 4 });
      const x = b.input('input', DataType.FLOAT, [1, 3, 8, 8]);
      const [c1] = b.node(
        'Conv',
        [x, b.weight('w1', [8, 3, 3, 3])],
        { pads: [1, 1, 1, 1] },
        { name: 'conv1' },
      );
      const [c2] = b.node(
        'Conv',
        [c1, b.weight('w2', [16, 8, 3, 3])],
        { pads: [1, 1, 1, 1] },
        { name: 'conv2' },
      );
      b.classifierHead(c2, 16);
      const file = path.join(dir, 'net.onnx');
      saveModelFile(b.build(), file);
      const { uri } = await session.open(file);

      const refused = await apply(uri, { kind: 'prune', layers: ['conv1'], nm: { n: 2, m: 4 } });
      assert.ok('refusal' in refused, JSON.stringify(refused));
      assert.equal(
        refused.refusal,
        'layer conv1: 2:4 needs the input size (27 = 3·3·3) to be a multiple of 4',
      );
      const pruned = await apply(uri, { kind: 'prune', nm: { n: 2, m: 4 } });
      assert.ok('text' in pruned, JSON.stringify(pruned));
      assert.match(pruned.summary.join('\n'), /^prune 2:4 semi-structured: .*, 2 layers$/);
      // The notes go to the fix's full report: what was skipped, and the pattern check.
      const notes = (pruned.notes ?? []).join('\n');
      assert.match(notes, /skipped 1 layer .*conv1 \(27 = 3·3·3\)/);
      assert.match(notes, /2:4 pattern check of the stored weights: 2 layers pass/);
    });
  },
);
