/**
 * `modelLens.dataFolder`: from the settings (VS Code's per workspace folder, or another editor's
 * section) to the folder a model's quick fixes run on, and through the server: a fix calibrated
 * and verified on the folder's images, with the preprocessing it assumed in the full report
 * (calibratedFixes.test.ts tests the split and the calibrated engines).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { saveModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { settingsFromSection } from '../../../src/server/clientSettings';
import { dataFolderFor } from '../../../src/server/dataFolder';
import { DEFAULT_SETTINGS } from '../../../src/server/modelStore';
import {
  ApplyFixRequest,
  SettingsNotification,
  VerifyFixRequest,
  type ApplyFixArgs,
  type ApplyFixResult,
  type VerifyFixResult,
} from '../../../src/shared/protocol';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { ServerSession } from '../../helpers/serverSession';

describe('which data folder a model is verified on', () => {
  const ws = path.resolve('/work/project');
  const other = path.resolve('/work/other');
  const model = path.join(ws, 'models', 'net.onnx');

  test("another editor's modelLens section gives dataFolder as written", () => {
    assert.equal(settingsFromSection({ dataFolder: 'data/val' }).dataFolder, 'data/val');
    assert.equal(settingsFromSection({ dataFolder: 3 }).dataFolder, undefined);
    assert.equal(settingsFromSection({}).dataFolder, undefined);
  });

  test('relative to the workspace folder holding the model; ${workspaceFolder} too', () => {
    assert.equal(dataFolderFor(model, { dataFolder: 'data/val' }, [ws]), path.join(ws, 'data/val'));
    assert.equal(
      dataFolderFor(model, { dataFolder: '${workspaceFolder}/data' }, [ws]),
      path.join(ws, 'data'),
    );
    const absolute = path.resolve('/datasets/imagenet-val');
    assert.equal(dataFolderFor(model, { dataFolder: absolute }, [ws]), absolute);
  });

  test("each workspace folder's own value wins; an empty one turns it off there", () => {
    const settings = { dataFolder: 'fallback', dataFolders: { [ws]: 'calib', [other]: '' } };
    assert.equal(dataFolderFor(model, settings, [ws, other]), path.join(ws, 'calib'));
    assert.equal(dataFolderFor(path.join(other, 'm.onnx'), settings, [ws, other]), undefined);
  });

  test('the innermost of nested workspace folders; outside all, the model folder', () => {
    const inner = path.join(ws, 'models');
    const settings = { dataFolders: { [ws]: 'a', [inner]: 'b' } };
    assert.equal(dataFolderFor(model, settings, [ws, inner]), path.join(inner, 'b'));
    const outside = path.resolve('/tmp/x/m.onnx');
    assert.equal(dataFolderFor(outside, { dataFolder: 'imgs' }, [ws]), path.resolve('/tmp/x/imgs'));
    assert.equal(dataFolderFor(model, {}, [ws]), undefined);
    assert.equal(dataFolderFor(model, { dataFolder: '  ' }, [ws]), undefined);
  });
});

const serverJs = path.resolve(__dirname, '../../../dist/server.js');

describe(
  'a quick fix verified on modelLens.dataFolder',
  { skip: fs.existsSync(serverJs) ? false : 'dist/server.js not built (npm run build)' },
  () => {
    let session: ServerSession;
    let dir: string;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-data-folder-'));
      session = await ServerSession.start(serverJs);
    });
    after(() => {
      session?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('its images, with the assumed preprocessing in the full report; random without it', async () => {
      const file = path.join(dir, 'grey.onnx');
      const b = new ModelBuilder({ opset: 13, seed: 3 });
      const x = b.input('x', DataType.FLOAT, ['N', 1, 8, 8]);
      const [c] = b.node(
        'Conv',
        [x, b.weight('w', [4, 1, 3, 3])],
        { pads: [1, 1, 1, 1] },
        {
          name: 'conv',
          outputs: ['c'],
        },
      );
      b.classifierHead(c, 4);
      saveModelFile(b.build(), file);
      const images = path.join(dir, 'images');
      for (const [i, name] of ['a', 'b', 'c'].entries()) {
        const png = new PNG({ width: 8, height: 8 });
        for (let j = 0; j < 64; j++) png.data.set([j * 4 + i, j * 3, 50 * i, 255], j * 4);
        fs.mkdirSync(path.join(images, name), { recursive: true });
        fs.writeFileSync(path.join(images, name, '0.png'), PNG.sync.write(png));
      }

      await session.connection.sendNotification(SettingsNotification, {
        ...DEFAULT_SETTINGS,
        dataFolder: images,
      });
      const { uri, text } = await session.open(file);
      const line = text.split('\n').findIndex((l) => l.trimStart().startsWith('[conv] '));
      const offered: { title: string; command?: { arguments: ApplyFixArgs[] } }[] =
        await session.connection.sendRequest('textDocument/codeAction', {
          textDocument: { uri },
          range: { start: { line, character: 0 }, end: { line, character: 0 } },
          context: { diagnostics: [] },
        });
      const int8 = offered.find((a) => a.title.startsWith('Quantize conv to int8'));
      assert.ok(int8?.command, offered.map((a) => a.title).join(' | '));
      const fixed: ApplyFixResult = await session.connection.sendRequest(ApplyFixRequest, {
        uri,
        fix: int8.command.arguments[0].fix,
      });
      assert.ok('text' in fixed, JSON.stringify(fixed));
      const verify = (): Promise<VerifyFixResult> =>
        session.connection.sendRequest(VerifyFixRequest, {
          uri,
          before: fixed.before,
          after: fixed.after,
        });

      // The class folders label the images; three are too few to split, so the int8 fix was
      // calibrated on them too, which the full report says.
      assert.equal(
        fixed.method,
        'rounded by GPTQ on all 3 samples of images (not split, fewer than 100 samples: verified on the same samples)',
      );
      const onImages = await verify();
      assert.ok(onImages.ok, onImages.line);
      assert.match(onImages.line, /on 3 labelled samples$/);
      assert.match(
        onImages.markdown,
        /Verified on all 3 samples of .*images, which also calibrated/,
      );
      assert.match(
        onImages.markdown,
        /\*assumed: NCHW, grey \(1-channel input\), resize to 8×8, scale 1\/255, no mean\/std \(no preprocess\.json\)\*/,
      );

      await session.connection.sendNotification(SettingsNotification, DEFAULT_SETTINGS);
      const onRandom = await verify();
      assert.match(onRandom.line, /on 8 random samples/);
      assert.doesNotMatch(onRandom.markdown, /assumed:/);
    });
  },
);
