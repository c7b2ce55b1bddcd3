import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { loadModelFile } from '../../../src/core/onnx/load';
import { DataType, type Graph } from '../../../src/core/onnx/types';
import { parseModelText, type TextGraph } from '../../../src/core/text/parser';
import { printModel } from '../../../src/core/text/printer';
import { summarizeTensor } from '../../../src/core/text/summary';
import { ModelBuilder, float, makeTensor, subgraph } from '../../helpers/modelBuilder';
import { SHARED_MODELS_DIR, sharedModels } from '../../helpers/sharedModels';

/** Asserts the parsed text has the graph's structure: names, ops, wiring and attribute names. */
function assertSameStructure(parsed: TextGraph, graph: Graph): void {
  const initializers = new Set(graph.initializers.map((t) => t.name));
  assert.deepEqual(
    parsed.inputs.map((i) => i.name),
    graph.inputs.filter((i) => !initializers.has(i.name)).map((i) => i.name),
  );
  assert.deepEqual(
    parsed.outputs.map((o) => o.name),
    graph.outputs.map((o) => o.name),
  );
  assert.deepEqual(
    parsed.initializers.map((t) => t.name),
    [...initializers],
  );
  assert.equal(parsed.nodes.length, graph.nodes.length);
  graph.nodes.forEach((node, i) => {
    const p = parsed.nodes[i];
    assert.equal(p.name, node.name);
    assert.equal(p.op, node.opType);
    assert.equal(p.domain, node.domain);
    assert.deepEqual(p.inputs, node.inputs);
    assert.deepEqual(p.outputs, node.outputs);
    assert.deepEqual([...p.attributes.keys()].sort(), node.attributes.map((a) => a.name).sort());
    for (const a of node.attributes) {
      const value = p.attributes.get(a.name);
      if (a.g) assertSameStructure(value as TextGraph, a.g);
    }
  });
}

function sampleModel(): ModelBuilder {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, ['batch', 3, 8, 8]);
  const w = b.weight('conv.weight', [4, 3, 3, 3]);
  const [y] = b.node(
    'Conv',
    [x, w],
    { pads: [1, 1, 1, 1], strides: [1, 1] },
    { name: '/conv/Conv' },
  );
  const [r] = b.node(
    'LeakyRelu',
    [y],
    { alpha: float(0.1) },
    { name: 'act', outputs: ['act out'] },
  );
  const [c] = b.node(
    'Constant',
    [],
    { value: makeTensor('c', DataType.INT64, [2], [1, -1]) },
    { name: 'shape' },
  );
  const [flat] = b.node('Reshape', [r, c], {}, { name: '<img src=x onerror=alert(1)>' });
  const [cond] = b.node('ReduceMax', [flat], { keepdims: 0 }, { name: 'max' });
  const [pos] = b.node(
    'Greater',
    [cond, b.initializer('zero', DataType.FLOAT, [], [0])],
    {},
    { name: 'positive' },
  );
  const thenBranch = subgraph((g) => {
    const [o] = g.node('Identity', [flat], {}, { name: 'then_id', outputs: ['then_out'] });
    g.output(o, DataType.FLOAT, ['batch', 256]);
  }, 'then_g');
  const elseBranch = subgraph((g) => {
    const [o] = g.node('Neg', [flat], {}, { name: 'else_neg', outputs: ['else_out'] });
    g.output(o, DataType.FLOAT, ['batch', 256]);
  }, 'else_g');
  const [out] = b.node(
    'If',
    [pos],
    { then_branch: thenBranch, else_branch: elseBranch },
    { name: 'branch' },
  );
  const [fused] = b.node('FastGelu', [out], {}, { name: 'gelu', domain: 'com.microsoft' });
  b.output(fused, DataType.FLOAT, ['batch', 256]);
  return b;
}

test('a printed model parses back to the same graph structure, sub-graphs included', () => {
  const model = sampleModel().build();
  const printed = printModel(model);
  const parsed = parseModelText(printed.text);
  assert.equal(parsed.header.get('ir_version'), '8');
  assert.equal(parsed.header.get('opset_import'), '[ : 13]');
  assertSameStructure(parsed.graph, model.graph);
  const reshape = parsed.graph.nodes.find((n) => n.op === 'Reshape')!;
  assert.equal(reshape.name, '<img src=x onerror=alert(1)>', 'names survive quoting');
  const leaky = parsed.graph.nodes.find((n) => n.op === 'LeakyRelu')!;
  assert.equal(Math.fround(leaky.attributes.get('alpha') as number), Math.fround(0.1));
  assert.match(printed.text, /alpha = 0\.1[,>]/, 'floats print at their shortest');
  const shape = parsed.graph.nodes.find((n) => n.op === 'Constant')!;
  assert.equal(shape.attributes.get('value'), 'int64[2] {1, -1}', 'small tensors print inline');
});

test('the layout maps every node and tensor definition to its line', () => {
  const model = sampleModel().build();
  const { text, layout } = printModel(model);
  const lines = text.split('\n');
  assert.equal(layout.nodeLines.length, model.graph.nodes.length);
  model.graph.nodes.forEach((node, i) => {
    const line = lines[layout.nodeLines[i]];
    assert.ok(
      line.includes(`= ${node.domain ? node.domain + '.' : ''}${node.opType}`),
      `node ${node.name} on line: ${line}`,
    );
  });
  assert.equal(layout.definitions.get('x'), layout.graphLine);
  assert.ok(
    lines[layout.definitions.get('conv.weight')!].includes('float[4, 3, 3, 3] "conv.weight"'),
  );
  assert.equal(layout.definitions.get('act out'), layout.nodeLines[1]);
  assert.ok(lines[layout.definitions.get('then_out')!].includes('= Identity'), 'sub-graph tensors');
  // Folding: the header, the initializer list, each node list, and the If with its branches.
  const ifLine = layout.nodeLines[model.graph.nodes.findIndex((n) => n.opType === 'If')];
  const ifBlock = layout.blocks.find((b) => b.start === ifLine);
  assert.ok(ifBlock && lines[ifBlock.end].trim() === '>', 'the If folds to its closing >');
  for (const b of layout.blocks) {
    assert.ok(b.end > b.start);
    assert.match(lines[b.end].trim(), /^[>}]$/);
  }
  assert.equal(layout.blocks.filter((b) => lines[b.start].trim() === '{').length, 3);
});

test('initializers are summarised with statistics, never dumped', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 4]);
  const [y] = b.node(
    'MatMul',
    [x, b.initializer('w', DataType.FLOAT, [4, 2], [1, 2, 3, 4, 5, 6, 7, 8])],
    {},
    { name: 'mm' },
  );
  b.output(y);
  const model = b.build();
  assert.equal(
    summarizeTensor(model.graph.initializers[0]),
    '8 values · min 1 · max 8 · mean 4.5 · std 2.29',
  );
  const { text } = printModel(model, (t) => summarizeTensor(t));
  assert.match(text, /float\[4, 2\] w {2}# 8 values · min 1 · max 8/);
  assert.doesNotMatch(text, /\{1, 2, 3/);
});

const shared = sharedModels();
describe(
  'real exported models print and parse back',
  { skip: 'skip' in shared ? shared.skip : false },
  () => {
    for (const ref of Object.values('models' in shared ? shared.models : {})) {
      test(ref.file, () => {
        const model = loadModelFile(path.join(SHARED_MODELS_DIR, ref.file)).model;
        const printed = printModel(model);
        assertSameStructure(parseModelText(printed.text).graph, model.graph);
      });
    }
  },
);
