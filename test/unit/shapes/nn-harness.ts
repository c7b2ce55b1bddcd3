/** Shared set-up for the NN shape-rule tests: build, load, infer, and read results back. */
import assert from 'node:assert/strict';
import { buildGraphView } from '../../../src/core/graph/graph';
import type { DataType } from '../../../src/core/onnx/types';
import { inferShapes, type ShapeInference } from '../../../src/core/shapes/infer';
import type { Dim } from '../../../src/core/shapes/types';
import { ModelBuilder } from '../../helpers/modelBuilder';

export { ModelBuilder };

/** Loads the model as if from a file and infers it; com.microsoft is opset 1. */
export function infer(b: ModelBuilder): ShapeInference {
  const loaded = b.load();
  const view = buildGraphView(loaded.model.graph);
  return inferShapes(view, {
    opsets: new Map([
      ['', b.opset],
      ['com.microsoft', 1],
    ]),
  });
}

export function shapeOf(r: ShapeInference, name: string): readonly Dim[] | undefined {
  const t = r.types.get(name);
  assert.ok(t, `no type inferred for ${name}; diagnostics: ${JSON.stringify(r.diagnostics)}`);
  return t.shape;
}

export function assertType(
  r: ShapeInference,
  name: string,
  dtype: DataType,
  shape: readonly Dim[] | undefined,
): void {
  const t = r.types.get(name);
  assert.ok(t, `no type inferred for ${name}; diagnostics: ${JSON.stringify(r.diagnostics)}`);
  assert.deepEqual({ dtype: t.dtype, shape: t.shape }, { dtype, shape });
}

export function assertNoDiagnostics(r: ShapeInference): void {
  assert.deepEqual(r.diagnostics, []);
}

/** Asserts exactly one error diagnostic, whose message matches `pattern`. */
export function assertError(r: ShapeInference, pattern: RegExp): void {
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errors.length, 1, `expected one error, got ${JSON.stringify(r.diagnostics)}`);
  assert.match(errors[0].message, pattern);
}
