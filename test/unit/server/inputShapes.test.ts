/**
 * Input shapes in the analyzer server: a model with symbolic H and W says its figures assume
 * H=W=1 (status, hover, diagnostic with a Set Input Shape quick fix), and the shapes the
 * extension sends (Set Input Shape's per file, the `modelLens.inputShapes` globs) change them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeFile } from '../../../src/core/analyze';
import { formatCount } from '../../../src/core/format';
import { saveModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import {
  ApplyFixRequest,
  InputShapesRequest,
  SettingsNotification,
  VerifyFixRequest,
  type ApplyFixResult,
  type VerifyFixResult,
  type AnalyzerSettings,
  type InputShapesResult,
} from '../../../src/shared/protocol';
import { DEFAULT_SETTINGS } from '../../../src/server/modelStore';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { ServerSession } from '../../helpers/serverSession';

const root = path.resolve(__dirname, '../../..');
const serverJs = path.join(root, 'dist/server.js');

/** x: 1×3×H×W → Conv 8×3×3×3 (pads 1) → Relu: 216 MACs per pixel. */
function writeModel(file: string): void {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 'H', 'W']);
  const [c] = b.node(
    'Conv',
    [x, b.weight('w', [8, 3, 3, 3])],
    { pads: [1, 1, 1, 1] },
    {
      name: '/rec/Conv',
    },
  );
  const [y] = b.node('Relu', [c], {}, { name: '/rec/Relu' });
  b.output(y);
  saveModelFile(b.build(), file);
}

interface Hint {
  position: { line: number };
  label: string;
}

describe(
  'input shapes in the server',
  { skip: fs.existsSync(serverJs) ? false : 'dist/server.js not built (npm run build)' },
  () => {
    let session: ServerSession;
    let dir: string;
    let file: string;
    let uri: string;
    let text: string;
    const settings = (extra: Partial<AnalyzerSettings>): AnalyzerSettings => ({
      ...DEFAULT_SETTINGS,
      device: 'stm32h743',
      ...extra,
    });
    const convMacs = (shape?: number[]): string => {
      const report = analyzeFile(file, {
        inputShapes: shape && new Map([['x', shape]]),
      });
      return `${formatCount(report.nodes.find((n) => n.name === '/rec/Conv')!.macs)} MACs`;
    };
    const macsHint = async (): Promise<string | undefined> => {
      const hints: Hint[] = await session.connection.sendRequest('textDocument/inlayHint', {
        textDocument: { uri },
        range: {
          start: { line: 0, character: 0 },
          end: { line: text.split('\n').length, character: 0 },
        },
      });
      return hints.find((h) => h.label.endsWith(' MACs'))?.label;
    };
    /** Polls the inlay hint until it shows `expected` (settings apply asynchronously). */
    async function waitForMacs(expected: string): Promise<void> {
      const deadline = Date.now() + 15000;
      let last: string | undefined;
      while (Date.now() < deadline) {
        last = await macsHint();
        if (last === expected) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail(`MACs hint ${last}, expected ${expected}`);
    }

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-shapes-'));
      fs.mkdirSync(path.join(dir, 'ocr'));
      file = path.join(dir, 'ocr', 'rec.onnx');
      writeModel(file);
      session = await ServerSession.start(serverJs);
      await session.connection.sendNotification(SettingsNotification, settings({}));
      ({ uri, text } = await session.open(file));
    });
    after(() => {
      session?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('symbolic H and W: the status, hover and diagnostic say the figures assume H=W=1', async () => {
      assert.equal(convMacs(), '216 MACs');
      await waitForMacs('216 MACs');
      const status = await session.until(
        () => session.statuses.findLast((s) => s.uri === uri && s.device),
        'status',
      );
      assert.deepEqual(status.symbolicDims, ['H', 'W']);
      assert.equal(status.inputShapes, undefined);

      const diag = await session.until(
        () => session.diagnostics.get(uri)?.find((d) => /symbolic input/.test(d.message)),
        'the symbolic-dimension diagnostic',
      );
      assert.match(
        diag.message,
        /'H', 'W' counted as 1: every figure assumes H=W=1\. Set the real shape with Model Lens: Set Input Shape/,
      );

      const hints: Hint[] = await session.connection.sendRequest('textDocument/inlayHint', {
        textDocument: { uri },
        range: {
          start: { line: 0, character: 0 },
          end: { line: text.split('\n').length, character: 0 },
        },
      });
      const convLine = hints.find((h) => h.label.endsWith(' MACs'))!.position.line;
      const hover: { contents: { value: string } } = await session.connection.sendRequest(
        'textDocument/hover',
        { textDocument: { uri }, position: { line: convLine, character: 2 } },
      );
      assert.match(hover.contents.value, /Figures assume H=W=1/);

      const actions: { title: string; command?: { command: string; arguments: unknown[] } }[] =
        await session.connection.sendRequest('textDocument/codeAction', {
          textDocument: { uri },
          range: diag.range,
          context: { diagnostics: [diag] },
        });
      const set = actions.find((a) => a.command?.command === 'modelLens.setInputShape');
      assert.ok(set, actions.map((a) => a.title).join(' | '));
      assert.match(set.title, /Set input shape \(H, W count as 1 now\)/);
      assert.deepEqual(set.command!.arguments, [uri]);
      // Not offered on a layer line without the diagnostic.
      const onConv: { command?: { command: string } }[] = await session.connection.sendRequest(
        'textDocument/codeAction',
        {
          textDocument: { uri },
          range: { start: { line: convLine, character: 0 }, end: { line: convLine, character: 0 } },
          context: { diagnostics: [] },
        },
      );
      assert.ok(!onConv.some((a) => a.command?.command === 'modelLens.setInputShape'));

      const inputs: InputShapesResult = await session.connection.sendRequest(InputShapesRequest, {
        uri,
      });
      assert.equal(inputs.path, file);
      assert.deepEqual(inputs.inputs, [{ name: 'x', declared: [1, 3, 'H', 'W'] }]);
      assert.deepEqual(inputs.symbolicDims, ['H', 'W']);
    });

    test('a shape set for the file changes the figures and the status; it wins over a glob', async () => {
      await session.connection.sendNotification(
        SettingsNotification,
        settings({ fileInputShapes: { [file]: { x: [1, 3, 224, 224] } } }),
      );
      await waitForMacs(convMacs([1, 3, 224, 224]));
      assert.notEqual(convMacs([1, 3, 224, 224]), '216 MACs');
      const status = await session.until(
        () => session.statuses.findLast((s) => s.uri === uri && s.inputShapes),
        'status with shapes',
      );
      assert.deepEqual(status.symbolicDims, []);
      assert.deepEqual(status.inputShapes, { x: [1, 3, 224, 224] });
      const diags = session.diagnostics.get(uri) ?? [];
      assert.ok(!diags.some((d) => /symbolic input/.test(d.message)));
      const inputs: InputShapesResult = await session.connection.sendRequest(InputShapesRequest, {
        uri,
      });
      assert.deepEqual(inputs.inputs[0].set, [1, 3, 224, 224]);

      // A team's glob, then the file's own shape over it.
      await session.connection.sendNotification(
        SettingsNotification,
        settings({ inputShapes: { '**/ocr/*.onnx': { x: [1, 3, 48, 320] } } }),
      );
      await waitForMacs(convMacs([1, 3, 48, 320]));
      await session.connection.sendNotification(
        SettingsNotification,
        settings({
          inputShapes: [{ glob: '**/ocr/*.onnx', input: 'x', shape: '1x3x48x320' }],
          fileInputShapes: { [file]: { x: [1, 3, 64, 64] } },
        }),
      );
      await waitForMacs(convMacs([1, 3, 64, 64]));
      // A glob that doesn't match, and a shape for an input the model hasn't, change nothing.
      await session.connection.sendNotification(
        SettingsNotification,
        settings({ inputShapes: { 'other/*.onnx': { x: [1, 3, 9, 9] }, '**/*.onnx': { y: [5] } } }),
      );
      await waitForMacs('216 MACs');
    });

    test('malformed modelLens.inputShapes entries are named in one warning', async () => {
      const messages: string[] = [];
      session.connection.onNotification('window/showMessage', (m: { message: string }) => {
        messages.push(m.message);
      });
      const bad = settings({ inputShapes: { '**/*.onnx': { x: [1, 0, 'H'] } } });
      await session.connection.sendNotification(SettingsNotification, bad);
      await session.connection.sendNotification(SettingsNotification, { ...bad });
      await waitForMacs('216 MACs');
      await session.until(() => (messages.length > 0 ? true : undefined), 'a warning');
      assert.equal(messages.length, 1, messages.join('\n'));
      assert.match(
        messages[0],
        /modelLens\.inputShapes entries skipped: \*\*\/\*\.onnx: input 'x'/,
      );
    });

    test('a quick fix is verified in ONNX Runtime on the shapes set, not on 1 for H and W', async () => {
      // A 3×3 Conv without padding has no output at H=W=1: ONNX Runtime can only run it with
      // the real shape.
      const b = new ModelBuilder({ opset: 13 });
      const x = b.input('x', DataType.FLOAT, [1, 3, 'H', 'W']);
      b.output(b.node('Conv', [x, b.weight('w', [8, 3, 3, 3])], {}, { name: 'tight' })[0]);
      const tight = path.join(dir, 'tight.onnx');
      saveModelFile(b.build(), tight);
      const opened = await session.open(tight);
      const fixAndVerify = async (): Promise<VerifyFixResult> => {
        const r: ApplyFixResult = await session.connection.sendRequest(ApplyFixRequest, {
          uri: opened.uri,
          fix: { kind: 'quantize', layers: ['tight'], bits: 8 },
        });
        assert.ok('after' in r, JSON.stringify(r));
        return session.connection.sendRequest(VerifyFixRequest, {
          uri: opened.uri,
          before: r.before,
          after: r.after,
        });
      };
      await session.connection.sendNotification(SettingsNotification, settings({}));
      const atOne = await fixAndVerify();
      assert.equal(atOne.ok, false, atOne.line);
      assert.match(atOne.line, /not verified: .*ONNX Runtime/);
      await session.connection.sendNotification(
        SettingsNotification,
        settings({ fileInputShapes: { [tight]: { x: [1, 3, 8, 8] } } }),
      );
      await session.until(
        () => session.statuses.findLast((s) => s.uri === opened.uri && s.inputShapes),
        'status with shapes',
      );
      const shaped = await fixAndVerify();
      assert.equal(shaped.ok, true, shaped.line);
      assert.match(shaped.line, /output SQNR \d+\.\d dB/);
    });
  },
);
