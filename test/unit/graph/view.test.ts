/**
 * The graph view's collapsing rules (src/core/graph/view.ts): constants fold into their reader,
 * shape sub-graphs become one group node, Identity chains are looked through, graph outputs are
 * never hidden, and an expanded group shows its members again.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  buildViewModel,
  collapsibleGroups,
  nodeIds,
  type ViewInput,
} from '../../../src/core/graph/view';

const node = (name: string, op: string, inputs: string[], outputs = [`${name}:0`]) => ({
  name,
  op,
  inputs,
  outputs,
});

/** x → Conv(W') → Identity → Identity → Relu → Reshape(shape from Shape→Gather→Concat) → out,
 * with W' = DequantizeLinear(w_q, scale) computed from initializers. */
function sample(): ViewInput {
  return {
    graphInputs: ['x'],
    graphOutputs: ['reshape:0'],
    nodes: [
      node('dq', 'DequantizeLinear', ['w_q', 'scale']),
      node('conv', 'Conv', ['x', 'dq:0', 'bias']),
      node('id1', 'Identity', ['conv:0']),
      node('id2', 'Identity', ['id1:0']),
      node('relu', 'Relu', ['id2:0']),
      node('shape', 'Shape', ['relu:0']),
      node('gather', 'Gather', ['shape:0', 'zero']),
      node('concat', 'Concat', ['minus_one', 'gather:0']),
      node('reshape', 'Reshape', ['relu:0', 'concat:0']),
    ],
  };
}

describe('graph view collapsing', () => {
  test('finds a constants group, a shape sub-graph and an Identity chain', () => {
    const groups = collapsibleGroups(sample());
    assert.deepEqual(
      groups.map((g) => [g.kind, g.members]),
      [
        ['constants', [0]],
        ['identityChain', [2, 3]],
        ['shapeSubgraph', [5, 6, 7]],
      ],
    );
  });

  test('draws conv, relu, the shape group and reshape, with edges around what is folded', () => {
    const view = buildViewModel(sample());
    assert.deepEqual(
      view.items.map((i) => i.id),
      ['conv', 'relu', 'shapeSubgraph:shape', 'reshape'],
    );
    assert.equal(view.collapsedCount, 6);
    const edges = view.edges.map((e) => `${e.from}->${e.to} ${e.tensor}`).sort();
    assert.deepEqual(edges, [
      'conv->relu id2:0',
      'relu->reshape relu:0',
      'relu->shapeSubgraph:shape relu:0',
      'shapeSubgraph:shape->reshape concat:0',
    ]);
    const conv = view.items.find((i) => i.id === 'conv')!;
    assert.deepEqual([...conv.weights].sort(), ['bias', 'dq:0']);
    assert.deepEqual(
      conv.folded.map((g) => g.id),
      ['constants:dq'],
    );
    const relu = view.items.find((i) => i.id === 'relu')!;
    assert.deepEqual(
      relu.folded.map((g) => g.id),
      ['identityChain:id1'],
    );
  });

  test('an expanded group shows its members and their edges', () => {
    const view = buildViewModel(sample(), new Set(['identityChain:id1', 'shapeSubgraph:shape']));
    assert.deepEqual(
      view.items.map((i) => i.id),
      ['conv', 'id1', 'id2', 'relu', 'shape', 'gather', 'concat', 'reshape'],
    );
    const edges = view.edges.map((e) => `${e.from}->${e.to}`);
    assert.ok(edges.includes('conv->id1') && edges.includes('id2->relu'));
    assert.ok(edges.includes('shape->gather') && edges.includes('concat->reshape'));
  });

  test('a node that makes a graph output is never collapsed', () => {
    const view = buildViewModel({
      graphInputs: ['x'],
      graphOutputs: ['id:0', 'c:0'],
      nodes: [
        node('relu', 'Relu', ['x']),
        node('id', 'Identity', ['relu:0']),
        node('c', 'Constant', []),
      ],
    });
    assert.deepEqual(
      view.items.map((i) => i.id),
      ['relu', 'id', 'c'],
    );
    assert.equal(view.collapsedCount, 0);
  });

  test('nodes sharing a name get distinct ids', () => {
    assert.deepEqual(nodeIds([node('a', 'Relu', []), node('a', 'Relu', []), node('', 'Add', [])]), [
      'a',
      'a#1',
      '',
    ]);
  });

  test('a Shape of a graph input and everything computed from it is one group', () => {
    const view = buildViewModel({
      graphInputs: ['x'],
      graphOutputs: ['r:0'],
      nodes: [
        node('s', 'Shape', ['x']),
        node('g', 'Gather', ['s:0', 'i']),
        node('u', 'Unsqueeze', ['g:0', 'axes']),
        node('r', 'Reshape', ['x', 'u:0']),
      ],
    });
    assert.deepEqual(
      view.items.map((i) => i.id),
      ['shapeSubgraph:s', 'r'],
    );
    assert.deepEqual(
      view.edges.map((e) => `${e.from}->${e.to}`),
      ['shapeSubgraph:s->r'],
    );
  });

  test('a Loop fed only constants is not collapsed: its body may read run-time tensors', () => {
    // The body reads 'x' from the outer scope, which the Loop's own inputs don't list.
    const groups = collapsibleGroups({
      graphInputs: ['x'],
      graphOutputs: ['add:0'],
      nodes: [
        node('s', 'Shape', ['x']),
        node('trip', 'Gather', ['s:0', 'zero']),
        node('loop', 'Loop', ['trip:0', '', 'init']),
        node('add', 'Add', ['x', 'loop:0']),
      ],
    });
    assert.deepEqual(
      groups.map((g) => g.members),
      [[0, 1]],
      'only Shape → Gather fold; the Loop stays drawn',
    );
  });
});
