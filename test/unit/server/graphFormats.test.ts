/**
 * The graph side panel's other-formats row (fp16, pow2, ternary, binary weight SQNR): the graph
 * data leaves it out and says where it goes, and NodeFormatsRequest measures the selected node on
 * demand, with the values `model-lens analyze --json` reports and the hover's formatting (one
 * cache serves both). A request for a graph version the server no longer holds measures nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  GraphRequest,
  NodeFormatsRequest,
  OTHER_FORMATS_LABEL,
  type GraphData,
  type NodeFormatsResult,
} from '../../../src/shared/graphProtocol';
import { SettingsNotification } from '../../../src/shared/protocol';
import { DEFAULT_SETTINGS } from '../../../src/server/modelStore';
import { formatsCurve } from '../../../src/server/presentation';
import { ServerSession } from '../../helpers/serverSession';
import { writeTwoConvNet } from '../../helpers/twoConvNet';

const root = path.resolve(__dirname, '../../..');
const serverJs = path.join(root, 'dist/server.js');
const cliJs = path.join(root, 'dist/cli.js');

/** Two Convs around a Relu, then a classifier; the second Conv's name looks like HTML. */
const CONV = '/block/<b>Conv</b>';

function writeModel(dir: string): string {
  return writeTwoConvNet(dir, CONV);
}

type Formats = Record<'fp16' | 'pow2' | 'ternary' | 'binary', number>;

describe(
  'graph side panel: other formats measured on demand',
  {
    skip:
      fs.existsSync(serverJs) && fs.existsSync(cliJs) ? false : 'dist/ not built (npm run build)',
  },
  () => {
    let session: ServerSession;
    let dir: string;
    let file: string;
    let uri: string;
    let text: string;
    let graph: GraphData;
    const formatsOf = (node: string, version = graph.version): Promise<NodeFormatsResult | null> =>
      session.connection.sendRequest(NodeFormatsRequest, { uri, node, version });

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-graph-formats-'));
      file = writeModel(dir);
      session = await ServerSession.start(serverJs);
      await session.connection.sendNotification(SettingsNotification, DEFAULT_SETTINGS);
      ({ uri, text } = await session.open(file));
      graph = await session.connection.sendRequest(GraphRequest, { uri });
    });
    after(() => {
      session?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('a Conv: the graph data says where the row goes, the request gives analyze --json’s values', async () => {
      const json = JSON.parse(
        execFileSync(process.execPath, [cliJs, 'analyze', file, '--json'], { encoding: 'utf8' }),
      ) as { nodes: { name: string; weightFormatSqnrDb: Formats }[] };
      const formats = json.nodes.find((n) => n.name === CONV)!.weightFormatSqnrDb;
      assert.ok(formats, 'analyze --json reports the Conv’s format SQNR');

      const conv = graph.nodes.find((n) => n.id === CONV)!;
      assert.ok(conv, 'the Conv is drawn');
      assert.ok(!conv.figures.some(([label]) => label === OTHER_FORMATS_LABEL), 'not measured yet');
      // Before the output SQNR row, after the weight SQNR curve, as in the hover.
      assert.equal(conv.formatsAt, conv.figures.length - 1);
      assert.match(conv.figures[conv.formatsAt - 1][0], /^weight SQNR/);

      const result = await formatsOf(CONV);
      assert.deepEqual(result, {
        node: CONV,
        version: graph.version,
        value: formatsCurve(formats, DEFAULT_SETTINGS.errorTargetDb),
      });
      const shown = Object.fromEntries(
        [...result!.value!.matchAll(/(fp16|pow2|ternary|binary)[^:]*: (-?\d+\.\d) dB/g)].map(
          (m) => [m[1], Number(m[2])],
        ),
      );
      for (const f of ['fp16', 'pow2', 'ternary', 'binary'] as const)
        assert.equal(shown[f], Number(formats[f].toFixed(1)), f);

      // The hover shows the very same row (both read the server’s cache of this layer).
      const line = text
        .split('\n')
        .findIndex((l) => l.includes('/block/<b>') && l.includes('= Conv'));
      const hover = (await session.connection.sendRequest('textDocument/hover', {
        textDocument: { uri },
        position: { line, character: 4 },
      })) as { contents: { value: string } };
      const row = hover.contents.value.split('\n').find((l) => l.startsWith('**Other formats:**'));
      assert.ok(row?.endsWith(result!.value!), hover.contents.value);
      assert.deepEqual(await formatsOf(CONV), result, 'asked again: the same answer');
    });

    test('a node without a weight, a group, an unknown id: nothing to measure', async () => {
      const relu = graph.nodes.find((n) => n.id === '/stem/Relu')!;
      assert.equal(relu.formatsAt, undefined);
      assert.equal((await formatsOf('/stem/Relu'))?.value, null);
      assert.equal((await formatsOf('no such node'))?.value, null);
      for (const n of graph.nodes.filter((g) => g.kind === 'group'))
        assert.equal(n.formatsAt, undefined, n.id);
    });

    test('a stale version measures nothing and names the version the server holds', async () => {
      const stale = await formatsOf('/stem/Conv', graph.version - 1);
      assert.deepEqual(stale, { node: '/stem/Conv', version: graph.version, value: null });
      // The current version does measure it.
      assert.match((await formatsOf('/stem/Conv'))?.value ?? '', /^fp16: .* · binary 1 b: /);
    });

    test('a document that matches no model state answers null', async () => {
      assert.equal(
        await session.connection.sendRequest(NodeFormatsRequest, {
          uri: 'onnx-model:/nowhere/missing.onnx',
          node: CONV,
          version: graph.version,
        }),
        null,
      );
    });
  },
);
