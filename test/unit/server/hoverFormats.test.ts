/**
 * The hover's other-formats row (fp16, pow2, ternary, binary weight SQNR): the editor's analysis
 * leaves these figures out, so the server measures the hovered layer on demand. Its values are
 * the ones `model-lens analyze --json` reports for that layer. Where fit to device measured the
 * grids' output SQNR, the output sensitivity table shows them beside the integer widths.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeLoaded } from '../../../src/core/analyze';
import { DataType } from '../../../src/core/onnx/types';
import { LayerFiguresRequest, SettingsNotification } from '../../../src/shared/protocol';
import { DEFAULT_SETTINGS } from '../../../src/server/modelStore';
import { formatsCurve, layerMarkdown } from '../../../src/server/presentation';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { ServerSession } from '../../helpers/serverSession';
import { writeTwoConvNet } from '../../helpers/twoConvNet';

const root = path.resolve(__dirname, '../../..');
const serverJs = path.join(root, 'dist/server.js');
const cliJs = path.join(root, 'dist/cli.js');

function writeModel(dir: string): string {
  return writeTwoConvNet(dir);
}

type Formats = Record<'fp16' | 'pow2' | 'ternary' | 'binary', number>;

describe(
  'hover: other formats measured on demand',
  {
    skip:
      fs.existsSync(serverJs) && fs.existsSync(cliJs) ? false : 'dist/ not built (npm run build)',
  },
  () => {
    let session: ServerSession;
    let dir: string;
    let file: string;
    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-hover-formats-'));
      file = writeModel(dir);
      session = await ServerSession.start(serverJs);
      await session.connection.sendNotification(SettingsNotification, DEFAULT_SETTINGS);
    });
    after(() => {
      session?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('a Conv hover has the fp16/pow2/ternary/binary row with the values analyze --json reports', async () => {
      const json = JSON.parse(
        execFileSync(process.execPath, [cliJs, 'analyze', file, '--json'], { encoding: 'utf8' }),
      ) as { nodes: { name: string; weightFormatSqnrDb: Formats }[] };
      const formats = json.nodes.find((n) => n.name === '/block/Conv')!.weightFormatSqnrDb;
      assert.ok(formats, 'analyze --json reports the Conv’s format SQNR');

      const { uri, text } = await session.open(file);
      const line = text
        .split('\n')
        .findIndex((l) => l.includes('/block/Conv') && l.includes('= Conv'));
      assert.ok(line > 0, 'the Conv line');
      const hover = async (): Promise<string> =>
        (
          (await session.connection.sendRequest('textDocument/hover', {
            textDocument: { uri },
            position: { line, character: 4 },
          })) as { contents: { value: string } }
        ).contents.value;
      const first = await hover();
      const row = first.split('\n').find((l) => l.startsWith('**Other formats:**'));
      assert.ok(row, first);
      // Same figures, shown as formatsCurve shows them (one decimal, ✓ at the 30 dB default).
      assert.ok(row.endsWith(formatsCurve(formats, DEFAULT_SETTINGS.errorTargetDb)), row);
      const shown = Object.fromEntries(
        [...row.matchAll(/(fp16|pow2|ternary|binary)[^:]*: (-?\d+\.\d) dB/g)].map((m) => [
          m[1],
          Number(m[2]),
        ]),
      );
      for (const f of ['fp16', 'pow2', 'ternary', 'binary'] as const) {
        assert.equal(shown[f], Number(formats[f].toFixed(1)), f);
      }
      // Measured once per model state and layer: the second hover is the same text.
      assert.equal(await hover(), first);
      // Copy Layer Figures gives the hover's text.
      const copied: string = await session.connection.sendRequest(LayerFiguresRequest, {
        uri,
        line,
      });
      assert.ok(copied.includes(row), copied);
    });

    test('a layer without a weight gets no such row', async () => {
      const { uri, text } = await session.open(file);
      const line = text.split('\n').findIndex((l) => l.includes('= Relu'));
      const hover = (await session.connection.sendRequest('textDocument/hover', {
        textDocument: { uri },
        position: { line, character: 4 },
      })) as { contents: { value: string } };
      assert.ok(!hover.contents.value.includes('Other formats'), hover.contents.value);
    });
  },
);

test('the output sensitivity table gains a column per grid measured, and names a refused one', () => {
  const b = new ModelBuilder();
  const [y] = b.node('Conv', [
    b.input('x', DataType.FLOAT, [1, 3, 8, 8]),
    b.weight('w', [4, 3, 3, 3]),
  ]);
  b.output(y);
  const report = analyzeLoaded(b.load());
  const conv = report.nodes[0];
  const markdown = layerMarkdown(conv, report, {
    layer: conv.name,
    outputSqnrDb: { 8: 38.2, 6: 27.5, 4: 14 },
    gridOutputSqnrDb: { 'pow2-4': 9.04, ternary: 3.5 },
    gridRefused: { binary: 'int2 needs opset 25' },
  });
  assert.match(markdown, /\| bits \| 8 \| 6 \| 4 \| pow2 4 b \| ternary 2 b \| binary 1 b \|/);
  assert.match(
    markdown,
    /\| output SQNR \| 38\.2 dB \| 27\.5 dB \| 14\.0 dB \| 9\.0 dB \| 3\.5 dB \| — \|/,
  );
  assert.match(markdown, /binary not measured: int2 needs opset 25/);
});
