/**
 * Ops whose output size depends on the data: NonZero, NonMaxSuppression, Unique, TopK (with a
 * runtime K) and Compress (with a runtime condition). The unknown size is a named symbol from
 * ctx.newSymbol, never a guess; when the deciding input is a known constant it is counted.
 */
import { DataType } from '../../onnx/types';
import { isKnown, normalizeAxis, simplifyProduct, tensorType } from '../dims';
import { ShapeError, type ShapeRule } from '../types';
import { constInts, constScalar } from './constInputs';

const INT64 = DataType.INT64;

/** NonZero: [rank, count]; the count is exact when the input is a known constant. */
const nonZero: ShapeRule = (ctx) => {
  const s = ctx.inputType(0)?.shape;
  const known = constInts(ctx, 0);
  const count = known ? known.filter((v) => v !== 0).length : ctx.newSymbol('nonzero_count');
  return { types: [tensorType(INT64, [s ? s.length : ctx.newSymbol('rank'), count])] };
};

/** NonMaxSuppression: [selected, 3] triples (batch, class, box). */
const nonMaxSuppression: ShapeRule = (ctx) => ({
  types: [tensorType(INT64, [ctx.newSymbol('selected_count'), 3])],
});

/**
 * Unique: Y, indices, inverse_indices, counts. Without `axis` the input is flattened; with it,
 * unique slices along the axis. The count is exact for a known constant input without axis.
 */
const unique: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  const known = constInts(ctx, 0);
  const axisAttr = ctx.attr('axis');
  const count = known && !axisAttr ? new Set(known).size : ctx.newSymbol('unique_count');
  const dtype = t?.dtype ?? DataType.UNDEFINED;
  if (!axisAttr) {
    const total = t?.shape ? simplifyProduct(t.shape) : ctx.newSymbol('numel');
    return {
      types: [
        tensorType(dtype, [count]),
        tensorType(INT64, [count]),
        tensorType(INT64, [total]),
        tensorType(INT64, [count]),
      ],
    };
  }
  const s = t?.shape;
  const axis = s ? normalizeAxis(axisAttr.i ?? 0, s.length) : -1;
  const y = s && s.map((d, i) => (i === axis ? count : d));
  const inverse = s ? s[axis] : ctx.newSymbol('axis_len');
  return {
    types: [
      tensorType(dtype, y),
      tensorType(INT64, [count]),
      tensorType(INT64, [inverse]),
      tensorType(INT64, [count]),
    ],
  };
};

/** TopK: the axis dim becomes K (input since opset 10, attribute `k` before). */
const topK: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  if (!t) return { types: [] };
  const k = ctx.opset < 10 ? ctx.attrInt('k', -1) : constScalar(ctx, 1);
  const kDim = k === undefined || k === -1 ? ctx.newSymbol('k') : k;
  if (!t.shape) return { types: [tensorType(t.dtype), tensorType(INT64)] };
  const axis = normalizeAxis(ctx.attrInt('axis', -1), t.shape.length);
  const d = t.shape[axis];
  if (isKnown(kDim) && isKnown(d) && kDim > d)
    throw new ShapeError(`K ${kDim} exceeds axis size ${d}`);
  const out = t.shape.map((x, i) => (i === axis ? kDim : x));
  return { types: [tensorType(t.dtype, out), tensorType(INT64, out)] };
};

/** Compress: selected count along `axis` (or over the flattened input without one). */
const compress: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  if (!t) return { types: [] };
  const cond = constInts(ctx, 1);
  const axisAttr = ctx.attr('axis');
  const s = t.shape;
  const axis = axisAttr && s ? normalizeAxis(axisAttr.i ?? 0, s.length) : undefined;
  // The condition may be shorter than the axis; extra entries beyond it are ignored.
  const limit = axis !== undefined && s && isKnown(s[axis]) ? s[axis] : Infinity;
  const count = cond
    ? cond.slice(0, limit).filter((v) => v !== 0).length
    : ctx.newSymbol('compress_count');
  if (!axisAttr) return { types: [tensorType(t.dtype, [count])] };
  if (!s || axis === undefined) return { types: [tensorType(t.dtype)] };
  return {
    types: [
      tensorType(
        t.dtype,
        s.map((d, i) => (i === axis ? count : d)),
      ),
    ],
  };
};

export const dataDependentRules: Record<string, ShapeRule> = {
  NonZero: nonZero,
  NonMaxSuppression: nonMaxSuppression,
  Unique: unique,
  TopK: topK,
  Compress: compress,
};
