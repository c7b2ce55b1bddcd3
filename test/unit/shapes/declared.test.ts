import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGraphView } from '../../../src/core/graph/graph';
import { DataType } from '../../../src/core/onnx/types';
import { inferShapes, type ShapeInference } from '../../../src/core/shapes/infer';
import { ModelBuilder, subgraph } from '../../helpers/modelBuilder';
import { assertNoDiagnostics, assertType, infer } from './nn-harness';

/** NonZero's count is only known at run time: our rule gives a symbol for it. */
function nonZero(b: ModelBuilder, x: string, out: string): string {
  return b.node('NonZero', [x], {}, { name: `nz_${out}`, outputs: [out] })[0];
}

function warnings(r: ShapeInference): string[] {
  return r.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message);
}

test('a dim we only know symbolically takes the number the graph output declares', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  const y = nonZero(b, x, 'y');
  b.output(y, DataType.INT64, [2, 4]);
  const r = infer(b);
  assertType(r, 'y', DataType.INT64, [2, 4]);
  assertNoDiagnostics(r);
});

test('a declared symbol or unknown dim leaves our symbol as it is', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  b.output(nonZero(b, x, 'y'), DataType.INT64, ['count', 2]);
  b.output(nonZero(b, x, 'z'), DataType.INT64, [2, '']);
  const r = infer(b);
  // Ours is [2, count symbol]: dim 0 stays our 2 (declared 'count'), dim 1 takes the declared 2.
  assertType(r, 'y', DataType.INT64, [2, 2]);
  assert.equal(r.types.get('z')?.shape?.[0], 2);
  assert.equal(typeof r.types.get('z')?.shape?.[1], 'string');
  assertNoDiagnostics(r);
});

test('a declared shape that disagrees with ours: ours is kept and a warning names both', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 8]);
  const [y] = b.node('Relu', [x], {}, { name: 'relu', outputs: ['y'] });
  b.output(y, DataType.FLOAT, [1, 9]);
  const r = infer(b);
  assertType(r, 'y', DataType.FLOAT, [1, 8]);
  assert.equal(r.diagnostics.length, 1);
  const d = r.diagnostics[0];
  assert.equal(d.severity, 'warning');
  assert.equal(d.node, 'relu');
  assert.match(d.message, /\by\b/);
  assert.match(d.message, /float32\[1, 9\]/);
  assert.match(d.message, /float32\[1, 8\]/);
});

test('a different rank or element type is a disagreement too, and nothing is merged', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  b.output(nonZero(b, x, 'rank'), DataType.INT64, [2, 5, 1]);
  b.output(nonZero(b, x, 'dtype'), DataType.INT32, [2, 5]);
  const r = infer(b);
  assert.equal(typeof r.types.get('rank')?.shape?.[1], 'string');
  assert.equal(r.types.get('dtype')?.dtype, DataType.INT64);
  assert.equal(typeof r.types.get('dtype')?.shape?.[1], 'string');
  const w = warnings(r);
  assert.equal(w.length, 2);
  assert.match(
    w[0],
    /^rank: the model declares int64\[2, 5, 1\] but inference gives int64\[2, \S+\]/,
  );
  assert.match(
    w[1],
    /^dtype: the model declares int32\[2, 5\] but inference gives int64\[2, \S+\]/,
  );
});

test('value_info on an intermediate tensor is merged, and later nodes infer from it', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  const n = nonZero(b, x, 'n');
  b.declare(n, DataType.INT64, [2, 6]);
  const [t] = b.node('Transpose', [n], { perm: [1, 0] }, { outputs: ['t'] });
  b.output(t);
  const r = infer(b);
  assertType(r, 'n', DataType.INT64, [2, 6]);
  assertType(r, 't', DataType.INT64, [6, 2]);
  assertNoDiagnostics(r);
});

test('a tensor we cannot type at all takes the declared type, its unnamed dims named', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 4]);
  const [u] = b.node('MyOp', [x], {}, { name: 'mine', domain: 'my.domain', outputs: ['u'] });
  b.extraOpsets.push({ domain: 'my.domain', version: 1 });
  b.output(u, DataType.FLOAT16, [1, '']);
  const r = infer(b);
  assertType(r, 'u', DataType.FLOAT16, [1, 'u_dim1']);
});

test("a sub-graph's declared outputs and value_info are merged inside it", () => {
  const branch = (name: string, declareOut: boolean) =>
    subgraph((g) => {
      g.node('NonZero', ['x'], {}, { name: `${name}_nz`, outputs: [`${name}_n`] });
      g.node('Identity', [`${name}_n`], {}, { name: `${name}_id`, outputs: [`${name}_out`] });
      if (declareOut) g.output(`${name}_out`, DataType.INT64, [2, 5]);
      else {
        g.declare(`${name}_n`, DataType.INT64, [2, 5]);
        g.output(`${name}_out`);
      }
    }, name);
  const b = new ModelBuilder({ opset: 13 });
  b.input('x', DataType.FLOAT, [2, 3]);
  const c = b.input('c', DataType.BOOL, []);
  const [y] = b.node(
    'If',
    [c],
    { then_branch: branch('then', true), else_branch: branch('else', false) },
    { name: 'if', outputs: ['y'] },
  );
  b.output(y);
  const r = infer(b);
  assertType(r, 'then_out', DataType.INT64, [2, 5]);
  assertType(r, 'else_n', DataType.INT64, [2, 5]);
  assertType(r, 'else_out', DataType.INT64, [2, 5]);
  // Both branches agree once their declared shapes are merged, so the If output is known.
  assertType(r, 'y', DataType.INT64, [2, 5]);
  assertNoDiagnostics(r);
});

test('--input sizes that differ from the declared input: declared numbers are not merged', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  const [r1] = b.node('Relu', [x], {}, { outputs: ['r1'] });
  b.output(r1, DataType.FLOAT, [2, 3]);
  b.output(nonZero(b, x, 'n'), DataType.INT64, [2, 6]);
  const r = inferShapes(buildGraphView(b.load().model.graph), {
    opsets: new Map([['', 13]]),
    inputShapes: new Map([['x', [4, 3]]]),
  });
  assertType(r, 'r1', DataType.FLOAT, [4, 3]);
  assert.equal(typeof r.types.get('n')?.shape?.[1], 'string');
  assertNoDiagnostics(r);
});

test('disagreements are listed up to a cap, then counted in one warning', () => {
  const b = new ModelBuilder({ opset: 13 });
  let t = b.input('x', DataType.FLOAT, [1, 8]);
  for (let i = 0; i < 25; i++) {
    [t] = b.node('Relu', [t], {}, { outputs: [`r${i}`] });
    b.declare(t, DataType.FLOAT, [1, 7]);
  }
  b.output(t);
  const w = warnings(infer(b));
  assert.equal(w.length, 21);
  assert.match(w[20], /^5 more tensors whose declared type disagrees/);
});
