/**
 * Generated models for the graph view's tests and benchmarks: transformer-like blocks (MatMul,
 * bias, GELU-ish activation, residual Add, a layer norm spelled out in elementwise ops, and a
 * Shape → Gather → Unsqueeze → Concat → Reshape sub-graph that the view collapses), repeated until
 * the model has about `nodeCount` nodes. Weights are tiny and shared, so a 10,000-node model is a
 * small file.
 */
import { saveModelFile } from '../src/core/onnx/load';
import { DataType } from '../src/core/onnx/types';
import { ModelBuilder } from '../test/helpers/modelBuilder';

/** Nodes one block adds. */
export const NODES_PER_BLOCK = 18;

export function writeTransformerLike(file: string, nodeCount: number): void {
  const b = new ModelBuilder({ opset: 13 });
  const width = 32;
  let x = b.input('tokens', DataType.FLOAT, [1, 16, width]);
  const w1 = b.weight('shared.w1', [width, width]);
  const w2 = b.weight('shared.w2', [width, width]);
  const bias = b.weight('shared.bias', [width]);
  const axes = b.ints('axes0', [0]);
  const index = b.ints('index2', [2], []);
  const tail = b.ints('tail', [-1]);
  const blocks = Math.max(1, Math.round(nodeCount / NODES_PER_BLOCK));
  for (let i = 0; i < blocks; i++) {
    const p = `/blocks.${i}`;
    const [h1] = b.node('MatMul', [x, w1], {}, { name: `${p}/fc1/MatMul` });
    const [h2] = b.node('Add', [h1, bias], {}, { name: `${p}/fc1/Add` });
    const [h3] = b.node('Sigmoid', [h2], {}, { name: `${p}/act/Sigmoid` });
    const [h4] = b.node('Mul', [h2, h3], {}, { name: `${p}/act/Mul` });
    const [h5] = b.node('MatMul', [h4, w2], {}, { name: `${p}/fc2/MatMul` });
    const [r] = b.node('Add', [x, h5], {}, { name: `${p}/residual/Add` });
    const [mean] = b.node('ReduceMean', [r], { axes: [-1] }, { name: `${p}/norm/ReduceMean` });
    const [centered] = b.node('Sub', [r, mean], {}, { name: `${p}/norm/Sub` });
    const [sq] = b.node('Mul', [centered, centered], {}, { name: `${p}/norm/Square` });
    const [variance] = b.node('ReduceMean', [sq], { axes: [-1] }, { name: `${p}/norm/Var` });
    const [std] = b.node('Sqrt', [variance], {}, { name: `${p}/norm/Sqrt` });
    const [normed] = b.node('Div', [centered, std], {}, { name: `${p}/norm/Div` });
    // The shape sub-graph exporters emit around a Reshape.
    const [shape] = b.node('Shape', [normed], {}, { name: `${p}/Shape` });
    const [dim] = b.node('Gather', [shape, index], { axis: 0 }, { name: `${p}/Gather` });
    const [unsq] = b.node('Unsqueeze', [dim, axes], {}, { name: `${p}/Unsqueeze` });
    const [target] = b.node('Concat', [tail, unsq], { axis: 0 }, { name: `${p}/Concat` });
    const [flat] = b.node('Reshape', [normed, target], {}, { name: `${p}/Reshape` });
    const back = b.ints(`${p}/shape`, [1, 16, width]);
    [x] = b.node('Reshape', [flat, back], {}, { name: `${p}/Restore` });
  }
  b.output(x);
  saveModelFile(b.build(), file);
}
