import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hypercomplexOfNode, hypercomplexWhatIf } from '../../../src/core/advisor/hypercomplex';
import { analyzeLoaded } from '../../../src/core/analyze';
import { DataType } from '../../../src/core/onnx/types';
import { layerMarkdown } from '../../../src/server/presentation';
import { ModelBuilder } from '../../helpers/modelBuilder';

test('Conv 64→128 3×3: 73,728 real params, 18,432 as quaternion, 36,864 as complex', () => {
  const h = hypercomplexWhatIf({ op: 'Conv', weightDims: [128, 64, 3, 3], weightBits: 32 });
  assert.ok(h);
  assert.equal(h.realParams, 73_728);
  assert.equal(h.realWeightBytes, 73_728 * 4);
  assert.deepEqual(
    h.options.map((o) => [o.algebra, o.components, o.params, o.weightBytes]),
    [
      ['quaternion', 4, 18_432, 18_432 * 4],
      ['complex', 2, 36_864, 36_864 * 4],
    ],
  );
});

test('channels not divisible: none; divisible by 2 only: complex only', () => {
  assert.equal(hypercomplexWhatIf({ op: 'Conv', weightDims: [10, 3, 3, 3], weightBits: 32 }), null);
  const c = hypercomplexWhatIf({ op: 'Conv', weightDims: [6, 10, 1, 1], weightBits: 8 });
  assert.deepEqual(
    c?.options.map((o) => [o.algebra, o.params, o.weightBytes]),
    [['complex', 30, 30]],
  );
  // Depthwise: one input channel per group.
  assert.equal(
    hypercomplexWhatIf({ op: 'Conv', weightDims: [32, 1, 3, 3], group: 32, weightBits: 32 }),
    null,
  );
  // Grouped: 2 groups of 8→8 channels.
  const g = hypercomplexWhatIf({ op: 'Conv', weightDims: [16, 8, 3, 3], group: 2, weightBits: 32 });
  assert.equal(g?.options[0].algebra, 'quaternion');
  assert.equal(hypercomplexWhatIf({ op: 'Relu', weightDims: [4, 4], weightBits: 32 }), null);
});

test('Gemm: K and N from the weight, transposed or not; int4 weights round up to bytes', () => {
  const g = hypercomplexWhatIf({ op: 'Gemm', weightDims: [512, 12], weightBits: 4 });
  assert.deepEqual(
    g?.options.map((o) => [o.algebra, o.params, o.weightBytes]),
    [
      ['quaternion', 1536, 768],
      ['complex', 3072, 1536],
    ],
  );
  // transB: [N, K] = 10 outputs, 512 inputs; 10 divides by 2 only.
  assert.equal(
    hypercomplexWhatIf({ op: 'Gemm', weightDims: [10, 512], transB: true, weightBits: 32 })?.options
      .length,
    1,
  );
});

test('from a model node, and the hover row names the convention', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 64, 8, 8]);
  const [c] = b.node(
    'Conv',
    [x, b.weight('w', [128, 64, 3, 3]), b.weight('b', [128])],
    {
      pads: [1, 1, 1, 1],
    },
    { name: 'conv' },
  );
  const [r] = b.node('Relu', [c], {}, { name: 'relu' });
  b.output(r);
  const loaded = b.load();
  const report = analyzeLoaded(loaded);
  const conv = report.nodes.find((n) => n.name === 'conv')!;
  const h = hypercomplexOfNode(loaded.model.graph, conv.fileIndex, conv.weightBits);
  assert.equal(h?.realParams, 73_728);
  assert.equal(h?.options[0].params, 18_432);
  const relu = report.nodes.find((n) => n.name === 'relu')!;
  assert.equal(hypercomplexOfNode(loaded.model.graph, relu.fileIndex, relu.weightBits), null);
  const hover = layerMarkdown(conv, report, undefined, undefined, h);
  assert.match(hover, /what-if: hypercomplex \| quaternion 72 KiB \(18\.4 k params, ¼\)/);
  assert.match(hover, /complex 144 KiB/);
  assert.match(hover, /Hamilton/);
  assert.doesNotMatch(layerMarkdown(conv, report), /hypercomplex/);
});
