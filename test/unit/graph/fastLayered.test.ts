/**
 * The fast layered layout for big graphs: every edge points down, nodes of a layer never
 * overlap, and 10,000 nodes lay out well within the time budget.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fastLayered } from '../../../webview/layout/fastLayered';
import type { LayoutInput } from '../../../webview/layout/types';

function chainWithSkips(n: number): LayoutInput {
  const nodes = Array.from({ length: n }, (_, i) => ({ id: `n${i}`, width: 100, height: 40 }));
  const edges = [];
  for (let i = 1; i < n; i++) edges.push({ from: `n${i - 1}`, to: `n${i}` });
  for (let i = 4; i < n; i += 4) edges.push({ from: `n${i - 4}`, to: `n${i}` });
  for (let i = 2; i < n; i += 7) edges.push({ from: `n${i - 2}`, to: `n${i}` });
  return { nodes, edges };
}

describe('fast layered layout', () => {
  test('edges point down and no two nodes overlap', () => {
    const input = chainWithSkips(300);
    const { x, y, edgePoints } = fastLayered(input);
    const index = new Map(input.nodes.map((n, i) => [n.id, i]));
    for (const e of input.edges)
      assert.ok(y[index.get(e.to)!] > y[index.get(e.from)!], `${e.from}->${e.to}`);
    for (let a = 0; a < input.nodes.length; a++)
      for (let b = a + 1; b < input.nodes.length; b++) {
        const apart = Math.abs(x[a] - x[b]) >= 100 || Math.abs(y[a] - y[b]) >= 40;
        assert.ok(apart, `n${a} overlaps n${b}`);
      }
    assert.equal(edgePoints.length, input.edges.length);
  });

  test('a branch sits beside the chain, not on it', () => {
    const { x, y } = fastLayered({
      nodes: ['a', 'b', 'c', 'd'].map((id) => ({ id, width: 100, height: 40 })),
      edges: [
        { from: 'a', to: 'b' },
        { from: 'a', to: 'c' },
        { from: 'b', to: 'd' },
        { from: 'c', to: 'd' },
      ],
    });
    assert.equal(y[1], y[2]);
    assert.ok(Math.abs(x[1] - x[2]) >= 100);
    assert.ok(y[3] > y[1]);
  });

  test('10,000 nodes in well under a second', () => {
    const result = fastLayered(chainWithSkips(10_000));
    assert.ok(result.ms < 1000, `${result.ms} ms`);
  });

  test('a cycle in odd input does not hang', () => {
    const result = fastLayered({
      nodes: ['a', 'b'].map((id) => ({ id, width: 10, height: 10 })),
      edges: [
        { from: 'a', to: 'b' },
        { from: 'b', to: 'a' },
      ],
    });
    assert.equal(result.x.length, 2);
  });
});
