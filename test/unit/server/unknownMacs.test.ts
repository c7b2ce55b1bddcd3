/**
 * A node whose MACs are unknown (a custom operator such as Vela's `ethos-u`: NodeReport.macsUnknown)
 * reads "unknown" / "?" with its reason on every surface, never 0: the hover and inline annotation,
 * the graph's node label and side panel, the report panel and its markdown, the CLI; the device
 * estimates leave its compute out and say that their totals are lower bounds.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeBytes, type AnalysisReport } from '../../../src/core/analyze';
import { formatReport } from '../../../src/cli/report';
import {
  BUILTIN_DEVICES,
  estimateLayer,
  estimateModel,
  findDevice,
} from '../../../src/core/devices';
import { markdownReport } from '../../../src/core/text/markdownReport';
import { buildGraphData } from '../../../src/server/graphData';
import { annotationParts, layerMarkdown } from '../../../src/server/presentation';
import { reportView } from '../../../src/server/reportView';
import { BUILTIN, TfliteNetwork, conv2d } from '../../helpers/tfliteNetwork';

const device = findDevice('stm32h743', BUILTIN_DEVICES);

/** x [1,8,8,4] → custom 'ethos-u'-like op (declared [1,8,8,4]) → CONV_2D 4→4 3×3 → y. */
function withCustomOp(): Uint8Array {
  const n = new TfliteNetwork();
  const x = n.input('x', [1, 8, 8, 4]);
  const c = n.op('npu-blob', [x, n.floatWeight('blob', [64])], [1, 8, 8, 4]);
  const y = n.op(
    BUILTIN.CONV_2D,
    [c, n.floatWeight('w', [4, 3, 3, 4]), n.floatWeight('b', [4])],
    [1, 8, 8, 4],
    conv2d(),
  );
  return n.build([y]);
}

function analyzed(withDevice = true): AnalysisReport {
  return analyzeBytes(withCustomOp(), {
    skipBitHints: true,
    ...(withDevice ? { device } : {}),
  });
}

const customOf = (r: AnalysisReport) => r.nodes.find((n) => n.macsUnknown)!;
const convOf = (r: AnalysisReport) => r.nodes.find((n) => n.op === 'CONV_2D')!;

describe('unknown MACs on every surface', () => {
  test('device: no silent 0 — totals marked as lower bounds, the node named', () => {
    const r = analyzed();
    const custom = customOf(r);
    assert.ok(custom, 'the custom op has unknown MACs');
    const d = r.device!;
    assert.equal(d.latencyIsLowerBound, true);
    assert.deepEqual(d.uncountedNodes, [custom.name]);
    // The latency is the known layer's only; the custom node adds no compute time.
    assert.equal(d.latencySeconds, convOf(r).latencySeconds);
    assert.equal(custom.latencySeconds, 0);
    // Its energy is its memory traffic only (weights + feature maps at SRAM cost), never MACs.
    const bits = (custom.weightBytes + custom.activationBytes) * 8;
    assert.ok(Math.abs(custom.energyJoules! - (bits * 5) / 32 / 1e12) < 1e-15);
    const note = r.diagnostics.find((x) => x.source === 'device' && /lower bounds/.test(x.message));
    assert.ok(note);
    assert.equal(note.severity, 'info');
    assert.match(
      note.message,
      new RegExp(`1 node of unknown MACs is not counted \\(${custom.name}\\)`),
    );
    assert.ok(d.diagnostics.some((x) => x.message === note.message));
    // A model without unknown nodes has no such marks.
    const n = new TfliteNetwork();
    const x = n.input('x', [1, 8, 8, 4]);
    const y = n.op(BUILTIN.CONV_2D, [x, n.floatWeight('w', [4, 3, 3, 4])], [1, 8, 8, 4], conv2d());
    const known = analyzeBytes(n.build([y]), { skipBitHints: true, device });
    assert.equal(known.device?.latencyIsLowerBound, undefined);
    assert.equal(known.device?.uncountedNodes, undefined);
    assert.ok(!known.diagnostics.some((x) => /lower bounds/.test(x.message)));
  });

  test('estimates: a layer of unknown MACs has no compute, and says so', () => {
    const layer = {
      name: 'blob',
      op: 'npu-blob',
      macs: 1_000_000, // a placeholder that must not be costed
      weightBytes: 100,
      activationBytes: 200,
      activationBits: 8,
      macsUnknown: 'npu-blob: what this operator computes is not known',
    };
    const e = estimateLayer(device, layer);
    assert.equal(e.latencySeconds, 0);
    assert.ok(Math.abs(e.energyJoules - (300 * 8 * 5) / 32 / 1e12) < 1e-18);
    assert.match(e.lowerBound!, /MACs unknown \(npu-blob: what this operator computes/);
    const m = estimateModel(device, [layer, { ...layer, name: 'known', macsUnknown: undefined }]);
    assert.deepEqual(m.lowerBoundLayers, ['blob']);
    assert.equal(
      estimateModel(device, [{ ...layer, macsUnknown: undefined }]).lowerBoundLayers,
      undefined,
    );
  });

  test('hover and annotation: "unknown" with the reason, latency unknown, energy a lower bound', () => {
    const r = analyzed();
    const custom = customOf(r);
    const hover = layerMarkdown(custom, r);
    assert.match(
      hover,
      /\| MACs \| unknown \(npu\\-blob: what this operator computes is not known\) \|/,
    );
    assert.match(hover, /\| FLOPs · BOPs \| unknown \|/);
    assert.match(
      hover,
      /\| on stm32h743 \| latency unknown · ≥[\d.]+ [nµm]?J \(memory traffic only\) \|/,
    );
    assert.doesNotMatch(hover, /\| MACs \| 0/);
    const parts = annotationParts(custom, {
      macs: true,
      weights: true,
      activations: true,
      bits: true,
    });
    assert.deepEqual(parts[0], { label: '? MACs', tooltip: `MACs unknown: ${custom.macsUnknown}` });
    // A counted layer keeps its figures.
    assert.match(layerMarkdown(convOf(r), r), /\| MACs \| 9\.22 k \(100% of the model\) \|/);
  });

  test('graph: "? MACs" label, no MAC value to color by, the reason in the side panel', () => {
    const r = analyzed();
    const custom = customOf(r);
    const data = buildGraphData(
      'file:///m.tflite',
      { path: '/m.tflite', report: r, linesByNode: new Map() },
      [],
      1,
    );
    const drawn = data.nodes.find((n) => n.name === custom.name)!;
    assert.equal(drawn.labels.macs, '? MACs');
    assert.equal(drawn.metrics.macs, null);
    const macsRow = drawn.figures.find(([k]) => k === 'MACs');
    assert.deepEqual(macsRow, ['MACs', `unknown (${custom.macsUnknown})`]);
    const conv = data.nodes.find((n) => n.name === convOf(r).name)!;
    assert.equal(conv.metrics.macs, convOf(r).macs);
  });

  test('report panel and markdown: unknown named, device figures as lower bounds', () => {
    const r = analyzed();
    const custom = customOf(r);
    const view = reportView(r, '/m.tflite');
    assert.match(view.summary[0], /MACs 9\.22 k \+ 1 unknown/);
    assert.ok(view.summary.some((l) => l.startsWith(`MACs unknown for 1 layer (${custom.name})`)));
    assert.ok(
      view.summary.some((l) =>
        /Device stm32h743 .* ≥[\d.]+ [nµm]?s per inference \(a lower bound: layers of unknown MACs are not counted\)/.test(
          l,
        ),
      ),
    );
    const md = markdownReport(r, 'm.tflite');
    assert.match(md, /\| MACs \| 9\.22 k \+ 1 layer of unknown cost \|/);
    assert.match(md, new RegExp(`MACs unknown for \`${custom.name}\``));
    assert.match(md, /≥[\d.]+ [nµm]?s and ≥[\d.]+ [nµm]?J per inference \(lower bounds/);
    // The per-layer table shows '?' for the unknown layer (layerTable.ts).
    assert.ok(md.includes(`| \`${custom.name}\` | npu-blob | 1×8×8×4 | ? |`));
  });

  test('CLI text: the device line says ≥ and names the lower bound', () => {
    const text = formatReport(analyzed(), 5);
    assert.match(
      text,
      /Device stm32h743 .* ≥[\d.]+ [nµm]?s · ≥[\d.]+ [nµm]?J per inference \(lower bounds: 1 node of unknown cost\)/,
    );
  });

  test('a model of only unknown nodes: latency unknown, never ~0 s', () => {
    const n = new TfliteNetwork();
    const x = n.input('x', [1, 8]);
    const y = n.op('ethos-u', [x], [1, 8]);
    const r = analyzeBytes(n.build([y]), { skipBitHints: true, device });
    assert.equal(r.device?.latencySeconds, 0);
    const md = markdownReport(r, 'm.tflite');
    assert.match(md, /latency unknown and ≥/);
    assert.match(md, /\| MACs \| unknown \(1 layer of unknown cost\) \|/);
    assert.match(reportView(r, '/m.tflite').summary[0], /MACs unknown/);
    assert.match(formatReport(r, 5), /latency unknown · ≥/);
  });
});
