/**
 * A .tflite in the editor, through the analyzer server: it opens as a text view with the same
 * hovers as ONNX, and since the engine only rewrites ONNX, the code-action list is one action
 * that says why, a fix or a sensitivity run is refused with that reason, and no save ever writes
 * over the file (an ONNX encoding of it would destroy it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ApplyFixRequest,
  MeasureSensitivityRequest,
  SaveModelRequest,
  SettingsNotification,
  type ApplyFixResult,
  type SaveModelResult,
} from '../../../src/shared/protocol';
import { DEFAULT_SETTINGS } from '../../../src/server/modelStore';
import { ServerSession } from '../../helpers/serverSession';
import { BUILTIN, conv2d, fullyConnected, TfliteNetwork } from '../../helpers/tfliteNetwork';

const root = path.resolve(__dirname, '../../..');
const serverJs = path.join(root, 'dist/server.js');

/** Conv 3×3 (8 filters) → FULLY_CONNECTED to 4. */
function writeNetwork(file: string): void {
  const n = new TfliteNetwork(5);
  const x = n.input('image', [1, 8, 8, 3]);
  const c = n.op(
    BUILTIN.CONV_2D,
    [x, n.floatWeight('conv_w', [8, 3, 3, 3])],
    [1, 8, 8, 8],
    conv2d(),
  );
  const r = n.op(BUILTIN.RESHAPE, [c], [1, 512]);
  const y = n.op(
    BUILTIN.FULLY_CONNECTED,
    [r, n.floatWeight('fc_w', [4, 512])],
    [1, 4],
    fullyConnected(),
  );
  fs.writeFileSync(file, n.build([y]));
}

interface Action {
  title: string;
  disabled?: { reason: string };
  command?: { command: string; arguments: unknown[] };
}

describe(
  'a .tflite model in the analyzer server',
  { skip: fs.existsSync(serverJs) ? false : 'dist/server.js not built (npm run build)' },
  () => {
    let session: ServerSession;
    let dir: string;
    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-tflite-'));
      session = await ServerSession.start(serverJs);
      await session.connection.sendNotification(SettingsNotification, DEFAULT_SETTINGS);
    });
    after(() => {
      session?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('one action says compression is ONNX-only; fixes, sensitivity and saves write nothing', async () => {
      const file = path.join(dir, 'net.tflite');
      writeNetwork(file);
      const original = fs.readFileSync(file);
      const { uri, text } = await session.open(file);
      const line = text.split('\n').findIndex((l) => /= tflite\.CONV_2D/.test(l));
      assert.ok(line > 0, text);

      const hover: { contents: { value: string } } | null = await session.connection.sendRequest(
        'textDocument/hover',
        { textDocument: { uri }, position: { line, character: 2 } },
      );
      // 8·8 outputs × 8 filters × 3·3·3: the hover counts it as the CLI does.
      assert.match(hover?.contents.value ?? '', /13\.8 k/);

      const offered: Action[] = await session.connection.sendRequest('textDocument/codeAction', {
        textDocument: { uri },
        range: { start: { line, character: 0 }, end: { line, character: 0 } },
        context: { diagnostics: [] },
      });
      assert.equal(offered.length, 1, offered.map((a) => a.title).join(' | '));
      assert.match(offered[0].title, /ONNX-only/);
      assert.equal(offered[0].disabled, undefined, 'VS Code hides disabled actions');
      assert.equal(offered[0].command?.command, 'modelLens.explain');
      assert.match(String(offered[0].command?.arguments[0]), /TensorFlow Lite.*only ONNX/);

      const fix: ApplyFixResult = await session.connection.sendRequest(ApplyFixRequest, {
        uri,
        fix: { kind: 'quantize', bits: 8 },
      });
      assert.ok('refusal' in fix && /only ONNX/.test(fix.refusal), JSON.stringify(fix));
      const measured: { error?: string } = await session.connection.sendRequest(
        MeasureSensitivityRequest,
        { uri },
      );
      assert.match(measured.error ?? '', /only ONNX/);

      // Saving the unchanged view is a no-op that succeeds; the file keeps its bytes.
      const saved: SaveModelResult = await session.connection.sendRequest(SaveModelRequest, {
        path: file,
        text,
      });
      assert.equal(saved.error, undefined);
      assert.ok(fs.readFileSync(file).equals(original));
    });

    test('the modelLens.convention setting re-counts in the editor, and the hover names it', async () => {
      const file = path.join(dir, 'vela.tflite');
      writeNetwork(file);
      const { uri, text } = await session.open(file);
      const line = text.split('\n').findIndex((l) => /= tflite\.CONV_2D/.test(l));
      const hoverText = async (): Promise<string> => {
        const h: { contents: { value: string } } | null = await session.connection.sendRequest(
          'textDocument/hover',
          { textDocument: { uri }, position: { line, character: 2 } },
        );
        return h?.contents.value ?? '';
      };
      assert.doesNotMatch(await hoverText(), /convention/);
      await session.connection.sendNotification(SettingsNotification, {
        ...DEFAULT_SETTINGS,
        convention: 'vela',
      });
      // The settings re-analyse the open model; the next hovers name the convention.
      let named = '';
      for (let i = 0; i < 50 && !/Arm Vela convention/.test(named); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        named = await hoverText();
      }
      assert.match(named, /Arm Vela convention/);
      await session.connection.sendNotification(SettingsNotification, DEFAULT_SETTINGS);
    });
  },
);
