/**
 * Sub-graph scopes at any depth: If/Loop/Scan bodies nested in each other read names from every
 * enclosing scope, as VAD models (Silero) do three If levels deep. A name resolves by structure,
 * whether or not its type could be inferred.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeLoaded } from '../../../src/core/analyze';
import { DataType, type Graph } from '../../../src/core/onnx/types';
import { ModelBuilder, subgraph } from '../../helpers/modelBuilder';

/**
 * if1 → if2 → if3. The innermost branch reads 'h1' and 'u1', made two scopes up ('u1' by an op of
 * an unknown domain, so it has no inferred type), 'w_mid' from the middle branch's initializers,
 * and its own weight.
 */
function threeDeep(innerReads = 'h1'): ReturnType<ModelBuilder['load']> {
  const inner = (tag: string): Graph =>
    subgraph((g) => {
      g.weight(`w_inner_${tag}`, [16, 16]);
      const [a] = g.node(
        'MatMul',
        [innerReads, `w_inner_${tag}`],
        {},
        { name: `inner_matmul_${tag}` },
      );
      const [m] = g.node('MatMul', [a, 'w_mid'], {}, { name: `inner_mid_${tag}` });
      const [y] = g.node('Add', [m, 'u1'], {}, { name: `inner_add_${tag}` });
      g.output(y);
    }, `if3_${tag}`);
  const middle = subgraph((g) => {
    g.weight('w_mid', [16, 16]);
    const [y] = g.node(
      'If',
      ['c'],
      { then_branch: inner('then'), else_branch: inner('else') },
      { name: 'if3' },
    );
    g.output(y);
  }, 'if2_branch');
  const outer = subgraph((g) => {
    g.node('Relu', ['x'], {}, { outputs: ['h1'] });
    g.node('CustomRelu', ['x'], {}, { outputs: ['u1'], domain: 'vendor.ops' });
    const [y] = g.node('If', ['c'], { then_branch: middle, else_branch: middle }, { name: 'if2' });
    g.output(y);
  }, 'if1_branch');
  const b = new ModelBuilder({ opset: 13 });
  b.extraOpsets.push({ domain: 'vendor.ops', version: 1 });
  b.input('x', DataType.FLOAT, [1, 16]);
  b.input('c', DataType.BOOL, []);
  const [y] = b.node('If', ['c'], { then_branch: outer, else_branch: outer }, { name: 'if1' });
  b.output(y);
  return b.load();
}

test('a three-deep If loads; a name made two scopes up resolves, and the innermost weights count', () => {
  const report = analyzeLoaded(threeDeep());
  const if1 = report.nodes.find((n) => n.name === 'if1')!;
  // If counts its costlier branch: the two innermost MatMuls of 16×16, each 256 MACs.
  assert.equal(report.totals.macs, 512);
  // Every weight counted once: w_mid and both branches' w_inner (256 elements each).
  assert.equal(report.totals.params, 3 * 256);
  assert.equal(if1.params, 3 * 256);
  assert.ok(!report.diagnostics.some((d) => /no node, graph input or initializer/.test(d.message)));
});

test('a name that no enclosing scope provides is still an error that names it', () => {
  assert.throws(() => analyzeLoaded(threeDeep('h_missing')), /reads 'h_missing', which no node/);
});
