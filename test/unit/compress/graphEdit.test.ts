import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphEdit, makeNode, withGraph, withInput } from '../../../src/core/compress/graphEdit';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import { DataType } from '../../../src/core/onnx/types';
import { analyzeBytes } from '../../../src/core/analyze';
import { ModelBuilder, makeTensor } from '../../helpers/modelBuilder';

function model() {
  const b = new ModelBuilder({ opset: 11 });
  const x = b.input('x', DataType.FLOAT, [1, 4]);
  const [h] = b.node('MatMul', [x, b.weight('w1', [4, 4])], {}, { name: 'mm1' });
  const [y] = b.node('MatMul', [h, b.weight('w2', [4, 2])], {}, { name: 'mm2' });
  b.output(y);
  return decodeModel(b.bytes());
}

test('an edit rewires one node and adds nodes before it; untouched messages keep their bytes', () => {
  const m = model();
  const edit = new GraphEdit(m.graph);
  const mm2 = m.graph.nodes[1];
  const q = edit.uniqueName('w2');
  assert.equal(q, 'w2_1', 'names never collide');
  edit.setInitializer(makeTensor(q, DataType.FLOAT, [4, 2], Array(8).fill(0.5)));
  const idOut = edit.uniqueName('w2_dequantized');
  edit.insertBefore(mm2, [
    makeNode({ name: 'id', opType: 'Identity', inputs: [q], outputs: [idOut] }),
  ]);
  edit.replaceNode(mm2, withInput(mm2, 1, idOut));
  edit.removeInitializer('w2');
  const edited = withGraph(m, edit.build());

  const reread = decodeModel(encodeModel(edited));
  assert.deepEqual(
    reread.graph.nodes.map((n) => n.name),
    ['mm1', 'id', 'mm2'],
  );
  assert.deepEqual(reread.graph.nodes[2].inputs, ['mm1_out0', idOut]);
  assert.deepEqual(
    reread.graph.initializers.map((t) => t.name),
    ['w1', q],
  );
  // The untouched node and initializer are written from their original bytes.
  assert.equal(edited.graph.nodes[0], m.graph.nodes[0]);
  assert.ok(edited.graph.nodes[0].raw);
  assert.equal(edited.graph.initializers[0], m.graph.initializers[0]);
  // And the result still analyses: 4×4 + 4×2 MACs.
  assert.equal(analyzeBytes(encodeModel(edited)).totals.macs, 16 + 8);
});

test('an empty edit returns the same graph and model, so saving is byte-identical', () => {
  const m = model();
  const edit = new GraphEdit(m.graph);
  assert.equal(edit.build(), m.graph);
  assert.equal(withGraph(m, edit.build()), m);
});
