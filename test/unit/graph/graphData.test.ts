/**
 * The graph data the server sends the webview: figures formatted by the core, raw values for
 * coloring, the memory timeline equal to the report's, live tensors consistent with it, and
 * model strings passed through as data (the webview sets them as text).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { analyzeFile, analyzeLoaded } from '../../../src/core/analyze';
import { formatBytes, formatCount } from '../../../src/core/format';
import { DataType } from '../../../src/core/onnx/types';
import { buildGraphData } from '../../../src/server/graphData';
import { liveTensorsAt } from '../../../src/server/graphMemory';
import { ModelBuilder } from '../../helpers/modelBuilder';

function cnn() {
  const b = new ModelBuilder({ opset: 13 });
  let x = b.input('input', DataType.FLOAT, [1, 3, 32, 32]);
  const skip = x;
  const w0 = b.weight('w0', [3, 3, 3, 3]);
  [x] = b.node('Conv', [x, w0], { pads: [1, 1, 1, 1] }, { name: 'conv0' });
  [x] = b.node('Relu', [x], {}, { name: '<img src=x onerror=alert(1)>' });
  [x] = b.node('Identity', [x], {}, { name: 'copy' });
  [x] = b.node('Add', [x, skip], {}, { name: 'add' });
  const w1 = b.weight('w1', [8, 3, 3, 3]);
  [x] = b.node('Conv', [x, w1], {}, { name: 'conv1' });
  b.output(x);
  return b.load();
}

describe('graph data', () => {
  const report = analyzeLoaded(cnn());
  const lines = new Map(report.nodes.map((n, i) => [n.name, 10 + i]));
  const data = buildGraphData(
    'onnx-model:/m.onnx',
    { path: '/m.onnx', report, linesByNode: lines },
    [],
    7,
  );

  test('nodes carry the core figures, formatted and raw', () => {
    const conv = data.nodes.find((n) => n.id === 'conv1')!;
    const fromReport = report.nodes.find((n) => n.name === 'conv1')!;
    assert.equal(conv.metrics.macs, fromReport.macs);
    assert.equal(conv.labels.macs, `${formatCount(fromReport.macs)} MACs`);
    assert.equal(conv.labels.weightBytes, `W ${formatBytes(fromReport.weightBytes)}`);
    assert.equal(conv.line, lines.get('conv1'));
    assert.equal(conv.shape, '1×8×30×30');
    assert.deepEqual(conv.weights, ['w1']);
    assert.ok(
      conv.figures.some(([k, v]) => k === 'MACs' && v.startsWith(formatCount(fromReport.macs))),
    );
    assert.equal(conv.metrics.sensitivity, null);
    assert.equal(conv.labels.sensitivity, 'not measured');
  });

  test('the Identity is looked through, and the HTML-like name is kept verbatim as data', () => {
    assert.ok(!data.nodes.some((n) => n.id === 'copy'));
    const edge = data.edges.find(
      (e) => e.to === 'add' && e.from === '<img src=x onerror=alert(1)>',
    );
    assert.ok(edge, JSON.stringify(data.edges));
    assert.equal(edge.shape, 'float32 1×3×32×32');
    assert.equal(data.counts.collapsed, 1);
    // The cursor on the Identity's line highlights the node it is folded into.
    const add = data.nodes.find((n) => n.id === 'add')!;
    assert.deepEqual([...add.lines].sort(), [lines.get('add'), lines.get('copy')].sort());
  });

  test('the memory timeline is the report’s, with the arena peak', () => {
    assert.deepEqual(
      data.memory.steps.map((s) => s.liveBytes),
      report.memory.liveBytesPerStep,
    );
    assert.equal(data.memory.peakActivationBytes, report.totals.peakActivationBytes);
    assert.equal(data.memory.peakLabel, formatBytes(report.totals.peakActivationBytes));
  });

  test('live tensors at each step add up to the live bytes of the timeline', () => {
    report.memory.liveBytesPerStep.forEach((bytes, step) => {
      const live = liveTensorsAt(report, step);
      assert.equal(
        live.reduce((s, t) => s + t.bytes, 0),
        bytes,
        `step ${step}: ${JSON.stringify(live)}`,
      );
    });
  });

  test('on every exported fixture, control flow included, the hover lists what each bar counts', () => {
    const fixtures = path.resolve(__dirname, '../../fixtures/exported');
    for (const f of fs.readdirSync(fixtures).filter((n) => n.endsWith('.onnx'))) {
      const r = analyzeFile(path.join(fixtures, f));
      r.memory.liveBytesPerStep.forEach((bytes, step) => {
        const live = liveTensorsAt(r, step).reduce((s, t) => s + t.bytes, 0);
        assert.equal(live, bytes, `${f} step ${step}`);
      });
    }
  });

  test('sensitivity, when measured, colors by the output SQNR at 4 bits', () => {
    const sensitivity = new Map([['conv1', { layer: 'conv1', outputSqnrDb: { 8: 40, 4: 12.5 } }]]);
    const measured = buildGraphData(
      'u',
      { path: '/m.onnx', report, linesByNode: lines, sensitivity },
      [],
      8,
    );
    const conv = measured.nodes.find((n) => n.id === 'conv1')!;
    assert.equal(conv.metrics.sensitivity, 12.5);
    assert.equal(conv.labels.sensitivity, '12.5 dB @4 b');
  });

  test('a model without analysis gives the reason and no nodes', () => {
    const empty = buildGraphData(
      'u',
      { path: '/bad.onnx', error: 'truncated', linesByNode: new Map() },
      [],
      1,
    );
    assert.equal(empty.error, 'truncated');
    assert.equal(empty.nodes.length, 0);
  });
});
