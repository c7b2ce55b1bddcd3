/**
 * One layer's other-format weight SQNR on demand (layerFormats.ts) equals what the analysis
 * reports with `weightFormats` on (analyze --json), for weights stored directly, shared through
 * Identity, transposed, cast up from float16, and reshaped by a folded shape.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeLoaded } from '../../../src/core/analyze';
import { layerFormatMeter } from '../../../src/core/advisor/layerFormats';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder, seededRandom } from '../../helpers/modelBuilder';

function model() {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [1, 8, 6, 6]);
  const [c1] = b.node('Conv', [x, b.weight('w1', [16, 8, 3, 3])], { pads: [1, 1, 1, 1] });
  const [r1] = b.node('Relu', [c1]);
  // A float16 weight cast up, as fp16-weight exports store it.
  const random = seededRandom(7);
  b.initializer(
    'w2h',
    DataType.FLOAT16,
    [16, 16, 1, 1],
    Array.from({ length: 256 }, () => Math.floor(random() * 0x3bff)),
  );
  const [w2] = b.node('Cast', ['w2h'], { to: DataType.FLOAT });
  const [c2] = b.node('Conv', [r1, w2]);
  // A weight reshaped to [10, 576] by a shape that constant folding computes (Concat of two).
  const [flat] = b.node('Flatten', [c2], { axis: 1 });
  const [shape] = b.node('Concat', [b.ints('rows', [10]), b.ints('cols', [-1])], { axis: 0 });
  const [w3] = b.node('Reshape', [b.weight('w3', [5760]), shape]);
  const [fc] = b.node('Gemm', [flat, w3], { transB: 1 }, { name: 'fc' });
  // The same weight shared through Identity, and transposed for a MatMul.
  const [shared] = b.node('Identity', ['w1']);
  const [t] = b.node('Transpose', [b.weight('w4', [4, 10])], { perm: [1, 0] });
  const [mm] = b.node('MatMul', [fc, t], {}, { name: 'mm' });
  b.output(mm);
  b.output(shared);
  return b.load();
}

describe('layer format SQNR on demand', () => {
  test('equals the analysis with weightFormats for every layer, and is null without a float weight', () => {
    const loaded = model();
    const report = analyzeLoaded(loaded, { weightFormats: true });
    const meter = layerFormatMeter(loaded);
    let measured = 0;
    for (const node of report.nodes) {
      assert.deepEqual(meter(node.fileIndex), node.weightFormatSqnrDb, node.name);
      if (node.weightFormatSqnrDb) measured++;
    }
    // Both Convs, the Gemm behind Reshape, the MatMul behind Transpose.
    assert.equal(measured, 4);
    assert.equal(meter(10_000), null);
  });

  test('with input shapes, as the editor analyses after Set Input Shape', () => {
    const loaded = model();
    const shapes = new Map([['x', [1, 8, 6, 6]]]);
    const report = analyzeLoaded(loaded, { weightFormats: true, inputShapes: shapes });
    const meter = layerFormatMeter(loaded, shapes);
    for (const node of report.nodes) {
      assert.deepEqual(meter(node.fileIndex), node.weightFormatSqnrDb, node.name);
    }
  });
});
