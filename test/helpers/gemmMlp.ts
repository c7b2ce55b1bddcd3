/**
 * The small MLP the fit-to-device tests plan over: x [4, sizes[0]] → fc1 → Relu → fc2 → Relu →
 * fc3, each a Gemm (transB = 1, W [out, in], bias), named fc1..fc3.
 */
import type { LoadedModel } from '../../src/core/onnx/load';
import { DataType } from '../../src/core/onnx/types';
import { ModelBuilder } from './modelBuilder';

export function gemmMlp(
  sizes: readonly [number, number, number, number],
  seed: number,
): LoadedModel {
  const b = new ModelBuilder({ seed });
  let h = b.input('x', DataType.FLOAT, [4, sizes[0]]);
  for (let l = 0; l < 3; l++) {
    const w = b.weight(`w${l + 1}`, [sizes[l + 1], sizes[l]]);
    const bias = b.weight(`b${l + 1}`, [sizes[l + 1]]);
    [h] = b.node('Gemm', [h, w, bias], { transB: 1 }, { name: `fc${l + 1}` });
    if (l < 2) [h] = b.node('Relu', [h], {}, { name: `relu${l + 1}` });
  }
  b.output(h, DataType.FLOAT, [4, sizes[3]]);
  return b.load();
}
