import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeLoaded, type AnalysisReport } from '../../../src/core/analyze';
import { toJson } from '../../../src/cli/json';
import { pruneSemiStructured } from '../../../src/core/compress/pruneSemiStructured';
import { pruneUnstructured } from '../../../src/core/compress/pruneUnstructured';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { ModelBuilder } from '../../helpers/modelBuilder';

/** conv (72 inputs per output) → Flatten → fc Gemm transB [12, 128] → head MatMul [12, 8]. */
function model(): Model {
  const b = new ModelBuilder({ opset: 13, seed: 11 });
  const x = b.input('x', DataType.FLOAT, [1, 8, 4, 4]);
  const [c] = b.node(
    'Conv',
    [x, b.weight('conv_w', [8, 8, 3, 3]), b.weight('conv_b', [8])],
    { pads: [1, 1, 1, 1] },
    { name: 'conv' },
  );
  const [f] = b.node('Flatten', [c], { axis: 1 });
  const [g] = b.node('Gemm', [f, b.weight('fc_w', [12, 128])], { transB: 1 }, { name: 'fc' });
  const [y] = b.node('MatMul', [g, b.weight('head_w', [12, 8])], {}, { name: 'head' });
  b.output(y, DataType.FLOAT, [1, 8]);
  return b.build();
}

const analyze = (m: Model, skipBitHints = false): AnalysisReport =>
  analyzeLoaded({ model: m, fileBytes: 0 } as Parameters<typeof analyzeLoaded>[0], {
    skipBitHints,
  });

function layer(r: AnalysisReport, name: string) {
  const n = r.nodes.find((x) => x.name === name);
  assert.ok(n, name);
  return n;
}

type JsonNode = Record<string, unknown>;
const jsonOf = (r: AnalysisReport) =>
  toJson(r) as { totals: Record<string, unknown>; nodes: JsonNode[] };

test('a dense model has no sparse figures: the JSON is as it was', () => {
  const r = analyze(model());
  for (const n of r.nodes) {
    assert.equal(n.sparseMacs, undefined, n.name);
    assert.equal(n.storedWeightBytes, undefined, n.name);
  }
  const json = jsonOf(r);
  assert.ok(!('sparseMacs' in json.totals) && !('storedWeightBytes' in json.totals));
  for (const n of json.nodes) {
    for (const key of ['sparseMacs', 'weightSparsity', 'nmPattern', 'storedWeightBytes']) {
      assert.ok(!(key in n), `${String(n.name)}.${key}`);
    }
  }
});

test('a 2:4 model: half the MACs if zeros are skipped, per layer and in total, and its pattern', () => {
  const { model: pruned } = pruneSemiStructured(model(), { pattern: { n: 2, m: 4 } });
  const r = analyze(pruned);
  for (const name of ['conv', 'fc', 'head']) {
    const n = layer(r, name);
    assert.equal(n.weightSparsity, 0.5, name);
    assert.equal(n.sparseMacs, n.macs / 2, name);
    assert.equal(n.nmPattern, '2:4', name);
    assert.equal(n.nmGroupMaxima?.[4], 2, name);
  }
  assert.equal(r.totals.sparseMacs, r.totals.macs / 2);
  assert.equal(r.totals.storedWeightBytes, undefined, '50% stays dense: stored as held');
  const json = jsonOf(r);
  assert.equal(json.totals.sparseMacs, r.totals.macs / 2);
  const conv = json.nodes.find((n) => n.name === 'conv')!;
  assert.equal(conv.sparseMacs, layer(r, 'conv').macs / 2);
  assert.equal(conv.weightSparsity, 0.5);
  assert.equal(conv.nmPattern, '2:4');
  assert.ok(!('nmGroupMaxima' in conv), 'the group table stays internal');
  // They come with the bit-width hints, which read the weights; the quick pass has neither.
  const quick = analyze(pruned, true);
  assert.equal(quick.totals.sparseMacs, undefined);
  assert.equal(layer(quick, 'conv').sparseMacs, undefined);
});

test('4:8 is found as 4:8 (its groups of 4 are not 2:4), 1:4 as 1:4', () => {
  const r8 = analyze(pruneSemiStructured(model(), { pattern: { n: 4, m: 8 } }).model);
  assert.equal(layer(r8, 'fc').nmPattern, '4:8');
  assert.ok((layer(r8, 'fc').nmGroupMaxima?.[4] ?? 0) > 2);
  const r4 = analyze(pruneSemiStructured(model(), { pattern: { n: 1, m: 4 } }).model);
  assert.equal(layer(r4, 'fc').nmPattern, '1:4');
  assert.equal(layer(r4, 'fc').sparseMacs, layer(r4, 'fc').macs / 4);
});

test('a sparse_initializer: weight bytes as ONNX Runtime holds it, stored bytes as the file has it', () => {
  const { model: pruned } = pruneUnstructured(model(), { sparsity: 0.9, scope: 'layer' });
  assert.equal(pruned.graph.sparseInitializers.length, 3);
  const r = analyze(pruned);
  const conv = layer(r, 'conv');
  const kept = 576 - Math.round(0.9 * 576);
  assert.equal(conv.weightBytes, (576 + 8) * 4, 'dense, as loaded');
  assert.equal(conv.storedWeightBytes, kept * (4 + 8) + 8 * 4, 'values + int64 indices + bias');
  const stored = [576, 1536, 96].reduce((s, n) => s + (n - Math.round(0.9 * n)) * 12, 0) + 8 * 4;
  assert.equal(r.totals.storedWeightBytes, stored);
  assert.equal(jsonOf(r).totals.storedWeightBytes, stored);
  assert.equal(conv.sparseMacs, conv.macs - (conv.macs / 576) * Math.round(0.9 * 576));
});

test('an integer weight counts the zeros it stores as its zero point (uint8 asymmetric, int4)', () => {
  const { model: pruned } = pruneSemiStructured(model(), { pattern: { n: 2, m: 4 } });
  for (const options of [
    { bits: 8, signed: false, symmetric: false },
    { bits: 4, signed: true },
  ]) {
    const r = analyze(quantizeWeights(pruned, options).model);
    for (const name of ['conv', 'fc', 'head']) {
      const n = layer(r, name);
      assert.equal(n.nmPattern, '2:4', `${name} ${JSON.stringify(options)}`);
      // Rounding may zero a few more small weights, never fewer.
      assert.ok((n.weightSparsity ?? 0) >= 0.5, name);
    }
  }
});
