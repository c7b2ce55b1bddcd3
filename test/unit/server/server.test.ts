/**
 * The analyzer server, driven over stdio exactly as the editor drives it over IPC: the text of a
 * model, diagnostics, inlay hints, hovers, the outline, folding and go-to-definition.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeFile } from '../../../src/core/analyze';
import { saveModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { formatCount, formatBytes } from '../../../src/core/format';
import { PeakLineRequest, ReportRequest, SettingsNotification } from '../../../src/shared/protocol';
import { DEFAULT_SETTINGS } from '../../../src/server/modelStore';
import { formatsCurve } from '../../../src/server/presentation';
import { toJson } from '../../../src/cli/json';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { ServerSession } from '../../helpers/serverSession';

const root = path.resolve(__dirname, '../../..');
const serverJs = path.join(root, 'dist/server.js');

function writeModel(dir: string): string {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('input', DataType.FLOAT, [1, 3, 32, 32]);
  const [c1] = b.node(
    'Conv',
    [x, b.weight('w1', [16, 3, 3, 3])],
    { pads: [1, 1, 1, 1] },
    { name: '/stem/Conv', outputs: ['/stem/Conv_output_0'] },
  );
  const [r1] = b.node('Relu', [c1], {}, { name: '/stem/Relu', outputs: ['/stem/Relu_output_0'] });
  const [c2] = b.node(
    'Conv',
    [r1, b.weight('w2', [32, 16, 3, 3])],
    { pads: [1, 1, 1, 1], strides: [2, 2] },
    { name: '/block/Conv', outputs: ['/block/Conv_output_0'] },
  );
  const [p] = b.node(
    'GlobalAveragePool',
    [c2],
    {},
    { name: '/pool/GlobalAveragePool', outputs: ['pooled'] },
  );
  const [f] = b.node('Flatten', [p], {}, { name: '/flatten/Flatten', outputs: ['flat'] });
  const [y] = b.node(
    'Gemm',
    [f, b.weight('fc', [10, 32])],
    { transB: 1 },
    { name: '/fc/Gemm', outputs: ['logits'] },
  );
  b.output(y, DataType.FLOAT, [1, 10]);
  const file = path.join(dir, 'net.onnx');
  saveModelFile(b.build(), file);
  return file;
}

describe(
  'analyzer server',
  { skip: fs.existsSync(serverJs) ? false : 'dist/server.js not built (npm run build)' },
  () => {
    let session: ServerSession;
    let dir: string;
    let file: string;
    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-server-'));
      file = writeModel(dir);
      session = await ServerSession.start(serverJs);
      await session.connection.sendNotification(SettingsNotification, DEFAULT_SETTINGS);
    });
    after(() => {
      session?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('serves the text, inlay hints and a hover whose figures equal the CLI analysis', async () => {
      const { uri, text } = await session.open(file);
      const lines = text.split('\n');
      const convLine = lines.findIndex((l) => l.includes('= Conv') && l.includes('/block/Conv'));
      assert.ok(convLine > 0);
      const hints: { position: { line: number }; label: string; tooltip: string }[] =
        await session.connection.sendRequest('textDocument/inlayHint', {
          textDocument: { uri },
          range: { start: { line: 0, character: 0 }, end: { line: lines.length, character: 0 } },
        });
      const report = analyzeFile(file);
      const conv = report.nodes.find((n) => n.name === '/block/Conv')!;
      const labels = hints.filter((h) => h.position.line === convLine).map((h) => h.label);
      assert.ok(labels.length > 0, 'hints on the Conv line');
      assert.ok(labels.includes(`${formatCount(conv.macs)} MACs`), labels.join(' | '));
      assert.ok(labels.includes(`W ${formatBytes(conv.weightBytes)}`), labels.join(' | '));
      assert.ok(
        labels.every((l) => l.length <= 43),
        "each part fits VS Code's inlay hint length",
      );
      const hover: { contents: { value: string } } = await session.connection.sendRequest(
        'textDocument/hover',
        {
          textDocument: { uri },
          position: { line: convLine, character: 4 },
        },
      );
      assert.match(hover.contents.value, new RegExp(`MACs \\| ${formatCount(conv.macs)} `));
      assert.match(hover.contents.value, /Why \d+-bit/);
      // The other formats' weight SQNR costs more than every integer width: the analysis leaves
      // it out unless asked (the CLI's --json); the hover measures its own layer on demand
      // (hoverFormats.test.ts checks the values).
      assert.equal(conv.weightFormatSqnrDb, null);
      assert.ok(hover.contents.value.includes('**Other formats:**'), hover.contents.value);
      const withFormats = analyzeFile(file, { weightFormats: true });
      const formats = withFormats.nodes.find((n) => n.name === '/block/Conv')!.weightFormatSqnrDb;
      assert.ok(formats, 'format SQNRs for a float Conv');
      const curve = formatsCurve(formats, report.errorTargetDb);
      assert.match(curve, /^fp16: .* · pow2 8 b: .* · ternary 2 b: .* · binary 1 b: /);
      const json = toJson(withFormats) as {
        nodes: { name: string; weightFormatSqnrDb: unknown }[];
      };
      const jsonConv = json.nodes.find((n) => n.name === '/block/Conv')!;
      assert.deepEqual(Object.keys(jsonConv.weightFormatSqnrDb as object), [
        'fp16',
        'pow2',
        'ternary',
        'binary',
      ]);
    });

    test('diagnostics land on the right lines, and a device makes them errors then clears them', async () => {
      const { uri, text } = await session.open(file);
      const lines = text.split('\n');
      await session.connection.sendNotification(SettingsNotification, {
        ...DEFAULT_SETTINGS,
        device: 'tiny',
        devices: [
          {
            id: 'tiny',
            name: 'Tiny MCU',
            ramBytes: 1024,
            flashBytes: 2048,
            macsPerSecond: { fp32: 1e6 },
            supportedWeightBits: [8, 32],
            supportedActivationBits: [8, 32],
          },
        ],
      });
      const errors = await session.until(() => {
        const d = session.diagnostics.get(uri)?.filter((x) => x.severity === 1);
        return d && d.length >= 2 ? d : undefined;
      }, 'flash and RAM errors');
      assert.ok(errors.some((d) => /flash/.test(d.message)));
      assert.ok(errors.some((d) => /RAM/.test(d.message)));
      for (const d of errors)
        assert.ok(
          lines[d.range.start.line].includes('=>'),
          'model-level errors sit on the graph signature',
        );
      const tiny = await session.until(
        () => session.statuses.findLast((x) => x.uri === uri && x.device?.id === 'tiny'),
        'status for tiny',
      );
      assert.equal(tiny.device?.fits, false);
      await session.connection.sendNotification(SettingsNotification, {
        ...DEFAULT_SETTINGS,
        device: 'jetson-agx-xavier',
      });
      await session.until(
        () => (session.diagnostics.get(uri)?.some((x) => x.severity === 1) ? undefined : true),
        'errors cleared',
      );
      const jetson = await session.until(
        () =>
          session.statuses.findLast((x) => x.uri === uri && x.device?.id === 'jetson-agx-xavier'),
        'status for the Jetson',
      );
      assert.equal(jetson.device?.fits, true);
    });

    test('outline, folding, definition and the peak-memory line', async () => {
      const { uri, text } = await session.open(file);
      const lines = text.split('\n');
      const symbols: { name: string; children?: { name: string }[] }[] =
        await session.connection.sendRequest('textDocument/documentSymbol', {
          textDocument: { uri },
        });
      const stem = symbols.find((s) => s.name === 'stem');
      assert.deepEqual(
        stem?.children?.map((c) => c.name),
        ['/stem/Conv', '/stem/Relu'],
      );
      const folds: { startLine: number; endLine: number }[] = await session.connection.sendRequest(
        'textDocument/foldingRange',
        { textDocument: { uri } },
      );
      assert.ok(
        folds.some((f) => lines[f.startLine].trim() === '{' && lines[f.endLine].trim() === '}'),
      );
      const useLine = lines.findIndex((l) => l.includes('/block/Conv') && l.includes('= Conv'));
      const column = lines[useLine].lastIndexOf('"/stem/Relu_output_0"') + 3;
      const def: { range: { start: { line: number } } } = await session.connection.sendRequest(
        'textDocument/definition',
        {
          textDocument: { uri },
          position: { line: useLine, character: column },
        },
      );
      assert.ok(lines[def.range.start.line].includes('= Relu'));
      const peak: number = await session.connection.sendRequest(PeakLineRequest, { uri });
      assert.ok(lines[peak].includes(analyzeFile(file).memory.peakNode!));
      const markdown: string = await session.connection.sendRequest(ReportRequest, { uri });
      assert.match(markdown, /^# Model Lens report/);
      assert.ok(markdown.includes('`/fc/Gemm`'));
    });

    test('go to definition from a name shortened under a module scope', async () => {
      const b = new ModelBuilder({ opset: 13 });
      let cur = b.input('input', DataType.FLOAT, [1, 3, 8, 8]);
      for (const [i, m] of ['conv1', 'conv2', 'conv3'].entries()) {
        [cur] = b.node(
          'Conv',
          [cur, b.weight(`w${i}`, [3, 3, 3, 3])],
          { pads: [1, 1, 1, 1] },
          { name: `/layer1/layer1.0/${m}/Conv`, outputs: [`/layer1/layer1.0/${m}/Conv_output_0`] },
        );
      }
      b.output(cur);
      const file = path.join(dir, 'scoped.onnx');
      saveModelFile(b.build(), file);
      const { uri, text } = await session.open(file);
      const lines = text.split('\n');
      const reader = lines.findIndex((l) => l.includes('(…/conv1/Conv_output_0, w1)'));
      assert.ok(reader > 0, text);
      const def: { range: { start: { line: number } } } | null =
        await session.connection.sendRequest('textDocument/definition', {
          textDocument: { uri },
          position: { line: reader, character: lines[reader].indexOf('…/conv1') + 4 },
        });
      assert.ok(def, 'a definition');
      assert.match(lines[def.range.start.line], /\[…\/conv1\/Conv\] …_output_0 = Conv/);
    });

    test('a corrupt file opens with a readable error and one diagnostic', async () => {
      const bad = path.join(dir, 'corrupt.onnx');
      fs.writeFileSync(bad, Buffer.from('this is not an onnx model at all'));
      const { uri, text } = await session.open(bad);
      assert.match(text, /^# Model Lens could not open corrupt\.onnx/);
      const diags = await session.until(() => session.diagnostics.get(uri), 'diagnostics');
      assert.equal(diags.length, 1);
      assert.equal(diags[0].severity, 1);
      assert.match(diags[0].message, /not a valid ONNX model/);
    });
  },
);
