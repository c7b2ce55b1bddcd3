/**
 * Activations. All keep X's shape and type; PRelu's slope, Clip's bounds and SwiGLU's second
 * input are checked against X.
 */
import { elementCount } from '../../onnx/tensorData';
import { allKnown } from '../dims';
import { ShapeError, type ConstValue, type InferContext, type ShapeRule } from '../types';
import { constScalar } from './constInputs';
import { checkSameDim, checkUnidirectional, requireRank, sameAsInput, shapeOf } from './nnHelpers';

const shapePreserving: ShapeRule = (ctx) => ({ types: [sameAsInput(ctx)] });

/**
 * X's folded values mapped by `f` when they are all numbers (exporters clamp computed sizes with
 * Relu or Clip, as in Range's expanded function: Ceil → Relu → Cast → Loop's trip count).
 */
function foldNumbers(ctx: InferContext, f: (x: number) => number): ConstValue | undefined {
  const v = ctx.inputValue(0);
  if (!v || !v.values.every((x) => typeof x === 'number')) return undefined;
  return { dims: v.dims, values: (v.values as number[]).map(f) };
}

const relu: ShapeRule = (ctx) => ({
  types: [sameAsInput(ctx)],
  values: [foldNumbers(ctx, (x) => Math.max(0, x))],
});

/** PRelu: slope broadcasts one way to X (opset 7+); Y is X's shape. */
const prelu: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  const slope = shapeOf(ctx, 1);
  if (x && slope) checkUnidirectional(slope, x, 'slope');
  return { types: [sameAsInput(ctx)] };
};

/** Clip: since opset 11 min and max are optional scalar inputs rather than attributes. */
const clip: ShapeRule = (ctx) => {
  if (ctx.opset >= 11) {
    for (const [i, what] of [
      [1, 'min'],
      [2, 'max'],
    ] as const) {
      const s = shapeOf(ctx, i);
      if (ctx.hasInput(i) && allKnown(s) && elementCount(s) !== 1) {
        throw new ShapeError(`${what} must be a scalar, got shape [${s.join(', ')}]`);
      }
    }
  }
  const bound = (i: number, attr: string, fallback: number): number | undefined => {
    if (ctx.opset < 11) return ctx.attrFloat(attr, fallback);
    if (!ctx.hasInput(i)) return fallback;
    const b = constScalar(ctx, i);
    return typeof b === 'number' ? b : undefined;
  };
  const lo = bound(1, 'min', -Infinity);
  const hi = bound(2, 'max', Infinity);
  const value =
    lo === undefined || hi === undefined
      ? undefined
      : foldNumbers(ctx, (x) => Math.min(hi, Math.max(lo, x)));
  return { types: [sameAsInput(ctx)], values: [value] };
};

/** SwiGLU (opset 28): A and B must have identical shapes; no broadcasting. */
const swiglu: ShapeRule = (ctx) => {
  const a = shapeOf(ctx, 0);
  const b = shapeOf(ctx, 1);
  if (a && b) {
    requireRank(b, a.length, 'B (same rank as A)');
    a.forEach((d, i) => checkSameDim(d, b[i], `SwiGLU A and B differ in dim ${i}`));
  }
  return { types: [sameAsInput(ctx, a ? 0 : 1)] };
};

export const activationRules: Record<string, ShapeRule> = {
  Relu: relu,
  LeakyRelu: shapePreserving,
  PRelu: prelu,
  Elu: shapePreserving,
  Selu: shapePreserving,
  Celu: shapePreserving,
  Sigmoid: shapePreserving,
  HardSigmoid: shapePreserving,
  HardSwish: shapePreserving,
  Swish: shapePreserving,
  Mish: shapePreserving,
  Gelu: shapePreserving,
  Softplus: shapePreserving,
  Softsign: shapePreserving,
  ThresholdedRelu: shapePreserving,
  Shrink: shapePreserving,
  Tanh: shapePreserving,
  Clip: clip,
  SwiGLU: swiglu,
};
