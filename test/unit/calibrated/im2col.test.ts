/**
 * The patch rows of a layer must be exactly what the layer multiplies its weight with: for each
 * geometry, patches · Wᵀ (per group) reproduces ONNX Runtime's own output of the layer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeModel } from '../../../src/core/onnx/encode';
import { DataType } from '../../../src/core/onnx/types';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { ModelRunner } from '../../../src/core/verify';
import { patchChunks } from '../../../src/core/calibrated/im2col';
import { layerGeometry } from '../../../src/core/calibrated/layerGeometry';
import type { AttrValue } from '../../../src/core/onnx/build';
import { ModelBuilder, seededRandom } from '../../helpers/modelBuilder';

interface Case {
  readonly name: string;
  readonly op: string;
  readonly input: number[];
  readonly weight: number[];
  readonly attributes?: Record<string, AttrValue>;
}

const cases: Case[] = [
  { name: 'plain 3×3', op: 'Conv', input: [2, 3, 6, 5], weight: [4, 3, 3, 3] },
  {
    name: 'strided, dilated, asymmetric pads',
    op: 'Conv',
    input: [1, 2, 9, 8],
    weight: [3, 2, 3, 2],
    attributes: { strides: [2, 3], dilations: [2, 1], pads: [1, 0, 2, 1] },
  },
  {
    name: 'grouped',
    op: 'Conv',
    input: [1, 4, 5, 5],
    weight: [6, 2, 3, 3],
    attributes: { group: 2, pads: [1, 1, 1, 1] },
  },
  {
    name: 'depthwise SAME_UPPER stride 2',
    op: 'Conv',
    input: [1, 3, 7, 6],
    weight: [3, 1, 3, 3],
    attributes: { group: 3, auto_pad: 'SAME_UPPER', strides: [2, 2] },
  },
  {
    name: 'SAME_LOWER even kernel',
    op: 'Conv',
    input: [1, 2, 5, 5],
    weight: [2, 2, 2, 2],
    attributes: { auto_pad: 'SAME_LOWER' },
  },
  { name: '1-D', op: 'Conv', input: [2, 3, 11], weight: [5, 3, 4], attributes: { pads: [1, 2] } },
  { name: '3-D', op: 'Conv', input: [1, 2, 4, 4, 3], weight: [2, 2, 2, 3, 2] },
  { name: 'Gemm transB', op: 'Gemm', input: [5, 7], weight: [3, 7], attributes: { transB: 1 } },
  { name: 'Gemm transA', op: 'Gemm', input: [7, 5], weight: [7, 3], attributes: { transA: 1 } },
  { name: 'MatMul 3-D input', op: 'MatMul', input: [2, 3, 6], weight: [6, 4] },
];

for (const c of cases) {
  test(`patch rows reproduce the layer's output: ${c.name}`, async () => {
    const b = new ModelBuilder({ seed: 3 });
    b.input('x', DataType.FLOAT, c.input);
    const w = b.weight('w', c.weight);
    const [y] = b.node(c.op, ['x', w], c.attributes ?? {}, { name: 'layer' });
    b.output(y, DataType.FLOAT);
    const model = b.build();
    const node = model.graph.nodes[0];
    const weight = Float64Array.from(tensorNumbers(model.graph.initializers[0]));
    const geometry = layerGeometry(node, c.weight)!;
    assert.ok(geometry);

    const random = seededRandom(9);
    const x = Float32Array.from(
      { length: c.input.reduce((a, v) => a * v, 1) },
      () => random() - 0.5,
    );
    const runner = await ModelRunner.create(encodeModel(model));
    const expected = (await runner.run({ x: { data: x, dims: c.input, dtype: 'float32' } }))[y];
    await runner.release();

    // Every output value is one patch row · one weight row; collect them all as a multiset per
    // group and row, in patch order, and compare with ORT's output in its own layout.
    const { groups, rows, columns } = geometry;
    const products: number[][] = Array.from({ length: groups * rows }, () => []);
    for (const chunk of patchChunks(geometry, x, c.input)) {
      for (let g = 0; g < groups; g++) {
        for (let p = 0; p < chunk.rows; p++) {
          for (let r = 0; r < rows; r++) {
            let s = 0;
            for (let k = 0; k < columns; k++) {
              s +=
                chunk.data[(g * chunk.rows + p) * columns + k] *
                weight[geometry.elementIndex(g, r, k)];
            }
            products[g * rows + r].push(s);
          }
        }
      }
    }
    const got = outputLayout(c, products, expected.dims);
    assert.equal(got.length, expected.data.length);
    for (let i = 0; i < got.length; i++) {
      assert.ok(
        Math.abs(got[i] - expected.data[i]) < 1e-4,
        `${c.name}: value ${i}: ${got[i]} vs ${expected.data[i]}`,
      );
    }
  });
}

/** Puts the per-(group,row) products in the layer output's memory order. */
function outputLayout(c: Case, products: number[][], dims: readonly number[]): number[] {
  const total = dims.reduce((a, v) => a * v, 1);
  const out = new Array<number>(total);
  if (c.op === 'Conv') {
    // Rows are output channels; patches are (batch, position) in order.
    const [n, m] = dims;
    const positions = total / (n * m);
    for (let ch = 0; ch < m; ch++) {
      for (let p = 0; p < n * positions; p++) {
        const b = Math.floor(p / positions);
        out[(b * m + ch) * positions + (p % positions)] = products[ch][p];
      }
    }
    return out;
  }
  // Gemm/MatMul: rows are output features, patches are output rows.
  const features = dims[dims.length - 1];
  for (let f = 0; f < features; f++) {
    products[f].forEach((v, p) => (out[p * features + f] = v));
  }
  return out;
}
