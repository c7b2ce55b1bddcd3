/**
 * A k-bit weight stored in an int8 container counts k bits in every figure, also after the file
 * is written and read back (issue 11: "today a 3-bit model reloads as 8-bit").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeLoaded } from '../../../src/core/analyze';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import { recordedWeightBits, weightBitsDoc } from '../../../src/core/cost/nodeFigures';
import { encodeModel } from '../../../src/core/onnx/encode';
import { parseModelBytes } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder } from '../../helpers/modelBuilder';

function gemm(): ModelBuilder {
  const b = new ModelBuilder();
  b.input('x', DataType.FLOAT, [1, 64]);
  const [y] = b.node('Gemm', ['x', b.weight('w', [64, 32])], {}, { name: 'fc' });
  b.output(y, DataType.FLOAT);
  return b;
}

for (const bits of [2, 3, 5, 6, 7]) {
  test(`${bits}-bit weights reload as ${bits} bits`, () => {
    const r = quantizeWeights(gemm().build(), { bits, perChannel: true });
    const reloaded = parseModelBytes(encodeModel(r.model));
    const node = analyzeLoaded(reloaded, { skipBitHints: true }).nodes.find(
      (n) => n.name === 'fc',
    )!;
    assert.equal(node.weightBits, bits);
    // 64·32 values at k bits, plus 32 float32 scales.
    assert.equal(node.weightBytes, Math.ceil((64 * 32 * bits) / 8) + 32 * 4);
    assert.equal(r.summary.bytesAfter, node.weightBytes);
  });
}

test('int8 and int4 carry no marker; a marker wider than its container is ignored', () => {
  for (const bits of [8, 4]) {
    const r = quantizeWeights(gemm().build(), { bits, perChannel: true });
    assert.ok(r.model.graph.initializers.every((t) => t.docString === ''));
  }
  assert.equal(recordedWeightBits(weightBitsDoc(3), DataType.INT8), 3);
  assert.equal(recordedWeightBits(weightBitsDoc(12), DataType.INT8), undefined);
  assert.equal(recordedWeightBits('model-lens:weight-bits=x', DataType.INT8), undefined);
  assert.equal(recordedWeightBits(weightBitsDoc(3), DataType.FLOAT), 3);
});
