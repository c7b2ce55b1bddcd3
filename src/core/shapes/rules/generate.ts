/** Ops that generate tensors from scalars or shapes: ConstantOfShape and Range. */
import { DataType } from '../../onnx/types';
import { tensorNumbers } from '../../onnx/tensorData';
import { ceilDivDim, FOLD_LIMIT, isKnown, knownDims, maxDim, subDim, tensorType } from '../dims';
import type { ConstValue, Dim, ShapeRule } from '../types';
import { castNumber, freshDims } from './tensor';
import { constDims, constScalar } from './constInputs';

/**
 * ConstantOfShape: the shape input's values are the output dims; dtype and fill value come from
 * the `value` tensor attribute (default a float32 zero). Folds when small.
 */
const constantOfShape: ShapeRule = (ctx) => {
  const fill = ctx.attr('value')?.t;
  const dtype = fill?.dataType ?? DataType.FLOAT;
  let fillValue = 0;
  try {
    fillValue = fill ? (tensorNumbers(fill)[0] ?? 0) : 0;
  } catch {
    // An unreadable fill value only prevents folding the values, not the shape.
    fillValue = NaN;
  }
  const dims = constDims(ctx, 0);
  if (!dims) {
    const rank = ctx.inputType(0)?.shape?.[0];
    return { types: [tensorType(dtype, isKnown(rank) ? freshDims(ctx, rank, 'dim') : undefined)] };
  }
  let value: ConstValue | undefined;
  const known = knownDims(dims);
  if (known && !Number.isNaN(fillValue)) {
    const n = known.reduce((a, b) => a * b, 1);
    if (n <= FOLD_LIMIT) value = { dims: known, values: new Array<Dim>(n).fill(fillValue) };
  }
  return { types: [tensorType(dtype, dims)], values: [value] };
};

/** Number of Range elements: max(ceil((limit - start) / delta), 0), symbolic when needed. */
function rangeLength(start: Dim, limit: Dim, delta: Dim): Dim | undefined {
  if (isKnown(start) && isKnown(limit) && isKnown(delta)) {
    if (delta === 0) return undefined;
    return Math.max(Math.ceil((limit - start) / delta), 0);
  }
  // Symbolic limits come from shapes, so the usual arange(0, N) has exactly N elements.
  if (!isKnown(delta) || delta <= 0) return undefined;
  const span = start === 0 ? limit : maxDim(0, subDim(limit, start));
  return delta === 1 ? span : ceilDivDim(span, delta);
}

const range: ShapeRule = (ctx) => {
  const dtype = ctx.inputType(0)?.dtype ?? DataType.UNDEFINED;
  const [start, limit, delta] = [0, 1, 2].map((i) => constScalar(ctx, i));
  const n =
    start !== undefined && limit !== undefined && delta !== undefined
      ? rangeLength(start, limit, delta)
      : undefined;
  if (n === undefined) return { types: [tensorType(dtype, [ctx.newSymbol('range_length')])] };
  let value: ConstValue | undefined;
  if (isKnown(n) && isKnown(start) && isKnown(delta) && n <= FOLD_LIMIT) {
    const values = Array.from({ length: n }, (_, i) => castNumber(start + i * delta, dtype));
    value = { dims: [n], values };
  }
  return { types: [tensorType(dtype, [n])], values: [value] };
};

export const generateRules: Record<string, ShapeRule> = {
  ConstantOfShape: constantOfShape,
  Range: range,
};
