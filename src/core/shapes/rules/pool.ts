/**
 * Pooling: windowed (AveragePool, MaxPool, LpPool), global, RoI pooling and MaxUnpool.
 * Window arithmetic (ceil_mode, dilations, auto_pad) is in nnHelpers.
 */
import { DataType } from '../../onnx/types';
import { mulDim, tensorType } from '../dims';
import { ShapeError, type Dim, type InferContext, type ShapeRule } from '../types';
import {
  checkSameDim,
  dtypeOf,
  freshDims,
  offsetDim,
  readWindow,
  requireMinRank,
  requireRank,
  requireSpatial,
  shapeOf,
  windowOutputDims,
} from './nnHelpers';
import { constTruncatedDims } from './constInputs';

function requiredKernel(ctx: InferContext): number[] {
  const k = ctx.attrInts('kernel_shape');
  if (!k || k.length === 0) throw new ShapeError('kernel_shape attribute is required');
  return [...k];
}

function pooledShape(ctx: InferContext): Dim[] {
  const kernel = requiredKernel(ctx);
  const window = readWindow(ctx, kernel);
  const x = shapeOf(ctx, 0);
  if (!x) return [ctx.newSymbol('N'), ctx.newSymbol('C'), ...freshDims(ctx, 'd', kernel.length)];
  requireSpatial(x, kernel.length);
  return [x[0], x[1], ...windowOutputDims(window, x.slice(2))];
}

/** MaxPool's optional second output holds flat int64 indices of the same shape. */
const windowPool: ShapeRule = (ctx) => {
  const shape = pooledShape(ctx);
  return { types: [tensorType(dtypeOf(ctx, 0), shape), tensorType(DataType.INT64, shape)] };
};

const globalPool: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  if (!x) return { types: [tensorType(dtypeOf(ctx, 0))] };
  requireMinRank(x, 2, 'input');
  return { types: [tensorType(dtypeOf(ctx, 0), [x[0], x[1], ...x.slice(2).map(() => 1)])] };
};

/** [num_rois, C, h, w] from the RoI count of `rois` and the pooled size. */
function roiShape(ctx: InferContext, pooled: readonly Dim[], roiWidth: number): Dim[] {
  const x = shapeOf(ctx, 0);
  const rois = shapeOf(ctx, 1);
  if (x) requireRank(x, 4, 'input');
  if (rois) {
    requireRank(rois, 2, 'rois');
    checkSameDim(rois[1], roiWidth, 'rois dim 1');
  }
  return [rois?.[0] ?? ctx.newSymbol('num_rois'), x?.[1] ?? ctx.newSymbol('C'), ...pooled];
}

const maxRoiPool: ShapeRule = (ctx) => {
  const pooled = ctx.attrInts('pooled_shape');
  if (!pooled || pooled.length !== 2) throw new ShapeError('pooled_shape must give 2 values');
  return { types: [tensorType(dtypeOf(ctx, 0), roiShape(ctx, pooled, 5))] };
};

const roiAlign: ShapeRule = (ctx) => {
  const pooled = [ctx.attrInt('output_height', 1), ctx.attrInt('output_width', 1)];
  const batchIndices = shapeOf(ctx, 2);
  checkSameDim(batchIndices?.[0], shapeOf(ctx, 1)?.[0], 'batch_indices length vs number of rois');
  return { types: [tensorType(dtypeOf(ctx, 0), roiShape(ctx, pooled, 4))] };
};

/** MaxUnpool: output_shape input when given, else (in−1)·stride + k − pads per axis. */
const maxUnpool: ShapeRule = (ctx) => {
  const dtype = dtypeOf(ctx, 0);
  const explicit = constTruncatedDims(ctx, 2);
  if (explicit) return { types: [tensorType(dtype, explicit)] };
  const kernel = requiredKernel(ctx);
  const n = kernel.length;
  const window = readWindow(ctx, kernel);
  const x = shapeOf(ctx, 0);
  if (ctx.hasInput(2) || !x) {
    // A runtime output_shape decides the size; only the rank is known.
    return {
      types: [
        tensorType(dtype, [
          x?.[0] ?? ctx.newSymbol('N'),
          x?.[1] ?? ctx.newSymbol('C'),
          ...freshDims(ctx, 'd', n),
        ]),
      ],
    };
  }
  requireSpatial(x, n);
  // (in − 1)·stride + k − pads, written stride·in + (k − pads − stride) to keep symbols readable.
  const spatial = x.slice(2).map((d, i) => {
    const s = window.strides[i];
    return offsetDim(mulDim(s, d), kernel[i] - window.pads[i] - window.pads[i + n] - s);
  });
  return { types: [tensorType(dtype, [x[0], x[1], ...spatial])] };
};

export const poolRules: Record<string, ShapeRule> = {
  AveragePool: windowPool,
  MaxPool: windowPool,
  LpPool: windowPool,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  GlobalLpPool: globalPool,
  MaxRoiPool: maxRoiPool,
  RoiAlign: roiAlign,
  MaxUnpool: maxUnpool,
};
