/**
 * Reductions (ReduceX, ArgMax/ArgMin, Det) and axis-wise ops that keep the shape (Softmax,
 * LogSoftmax, Hardmax, CumSum, CumProd).
 */
import { DataType } from '../../onnx/types';
import { normalizeAxis, tensorType } from '../dims';
import { type Dim, type InferContext, type ShapeRule } from '../types';
import {
  checkSameDim,
  dtypeOf,
  freshDims,
  normalizeAxes,
  requireMinRank,
  sameAsInput,
  shapeOf,
} from './nnHelpers';
import { constIntegerScalar, constTruncatedDims } from './constInputs';

/** Axes are known numbers, `'all'`, or `'unknown'` (a runtime input). */
type Axes = number[] | 'all' | 'unknown';

/** Operators.md: ReduceSum takes axes as an input from opset 13, the other ReduceX from 18. */
function readAxes(ctx: InferContext, axesInputSince: number): Axes {
  if (ctx.opset < axesInputSince) {
    const attr = ctx.attrInts('axes');
    return attr && attr.length > 0 ? [...attr] : 'all';
  }
  if (ctx.attr('axes'))
    ctx.warn(`axes is an input since opset ${axesInputSince}; the attribute is ignored`);
  if (!ctx.hasInput(1)) return 'all';
  const values = constTruncatedDims(ctx, 1);
  if (!values) return 'unknown';
  if (values.some((v) => typeof v !== 'number')) return 'unknown';
  return values.length > 0 ? (values as number[]) : 'all';
}

function reduceRule(axesInputSince: number): ShapeRule {
  return (ctx) => {
    const dtype = dtypeOf(ctx, 0);
    const x = shapeOf(ctx, 0);
    const keep = ctx.attrInt('keepdims', 1) === 1;
    let axes = readAxes(ctx, axesInputSince);
    if (
      axes === 'all' &&
      ctx.opset >= axesInputSince &&
      ctx.attrInt('noop_with_empty_axes', 0) === 1
    ) {
      return { types: [sameAsInput(ctx)] };
    }
    if (!x) return { types: [tensorType(dtype)] };
    if (axes === 'unknown')
      return { types: [tensorType(dtype, unknownAxesShape(ctx, x.length, keep))] };
    axes = axes === 'all' ? x.map((_, i) => i) : normalizeAxes(axes, x.length);
    const reduced = new Set(axes);
    const out: Dim[] = [];
    x.forEach((d, i) => {
      if (!reduced.has(i)) out.push(d);
      else if (keep) out.push(1);
    });
    return { types: [tensorType(dtype, out)] };
  };
}

/** Runtime axes: keepdims keeps the rank; otherwise the rank is known from the axes' length. */
function unknownAxesShape(ctx: InferContext, rank: number, keep: boolean): Dim[] | undefined {
  if (keep) return freshDims(ctx, 'd', rank);
  const count = shapeOf(ctx, 1)?.[0];
  return typeof count === 'number' ? freshDims(ctx, 'd', rank - count) : undefined;
}

const argReduce: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  if (!x) return { types: [tensorType(DataType.INT64)] };
  const axis = normalizeAxis(ctx.attrInt('axis', 0), x.length);
  const keep = ctx.attrInt('keepdims', 1) === 1;
  const out = keep ? x.map((d, i) => (i === axis ? 1 : d)) : x.filter((_, i) => i !== axis);
  return { types: [tensorType(DataType.INT64, out)] };
};

/** Softmax family: axis defaults to 1 before opset 13 (2-D coercion), -1 after. */
const softmaxLike: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  if (x && x.length > 0) normalizeAxis(ctx.attrInt('axis', ctx.opset >= 13 ? -1 : 1), x.length);
  return { types: [sameAsInput(ctx)] };
};

/** CumSum/CumProd: axis is a scalar input. */
const cumulative: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  const axis = constIntegerScalar(ctx, 1);
  if (x && typeof axis === 'number') normalizeAxis(axis, x.length);
  return { types: [sameAsInput(ctx)] };
};

/** Det: [*, M, M] → [*]. */
const det: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  if (!x) return { types: [tensorType(dtypeOf(ctx, 0))] };
  requireMinRank(x, 2, 'input');
  checkSameDim(x[x.length - 2], x[x.length - 1], 'Det needs square matrices');
  return { types: [tensorType(dtypeOf(ctx, 0), x.slice(0, -2))] };
};

const reduceSince18 = reduceRule(18);

export const reduceRules: Record<string, ShapeRule> = {
  ReduceSum: reduceRule(13),
  ReduceMean: reduceSince18,
  ReduceMax: reduceSince18,
  ReduceMin: reduceSince18,
  ReduceProd: reduceSince18,
  ReduceL1: reduceSince18,
  ReduceL2: reduceSince18,
  ReduceLogSum: reduceSince18,
  ReduceLogSumExp: reduceSince18,
  ReduceSumSquare: reduceSince18,
  ArgMax: argReduce,
  ArgMin: argReduce,
  Softmax: softmaxLike,
  LogSoftmax: softmaxLike,
  Hardmax: softmaxLike,
  CumSum: cumulative,
  CumProd: cumulative,
  Det: det,
};
