/**
 * Convolutions: Conv, ConvInteger, QLinearConv, ConvTranspose, DeformConv, Col2Im and
 * CausalConvWithState. Output sizes follow the Conv / ConvTranspose sections of Operators.md.
 */
import { DataType } from '../../onnx/types';
import { addDim, divDim, isKnown, mulDim, productDims, subDim, tensorType } from '../dims';
import { ShapeError, type Dim, type InferContext, type ShapeRule, type TensorType } from '../types';
import {
  checkSameDim,
  dtypeOf,
  effectiveKernel,
  freshDims,
  offsetDim,
  readWindow,
  requireRank,
  requireSpatial,
  shapeOf,
  windowOutputDims,
} from './nnHelpers';
import { constTruncatedDims } from './constInputs';

interface ConvInputs {
  /** Index of X and W among the node's inputs (QLinearConv interleaves scales). */
  readonly x: number;
  readonly w: number;
}

/** Kernel spatial dims: the kernel_shape attribute when given, else W's trailing dims. */
function kernelOf(ctx: InferContext, w: readonly Dim[] | undefined): Dim[] | undefined {
  const attr = ctx.attrInts('kernel_shape');
  if (attr && attr.length > 0) {
    if (w && w.length !== attr.length + 2) {
      throw new ShapeError(
        `kernel_shape has ${attr.length} axes but the weight has rank ${w.length}`,
      );
    }
    return [...attr];
  }
  return w ? w.slice(2) : undefined;
}

/** [N, M, spatial…] of a forward convolution; channel checks against W and group. */
function convShape(ctx: InferContext, io: ConvInputs): Dim[] | undefined {
  const x = shapeOf(ctx, io.x);
  const w = shapeOf(ctx, io.w);
  const kernel = kernelOf(ctx, w);
  if (!kernel)
    return x ? [x[0], ctx.newSymbol('M'), ...freshDims(ctx, 'd', x.length - 2)] : undefined;
  const group = ctx.attrInt('group', 1);
  if (w) {
    requireRank(w, kernel.length + 2, 'weight');
    if (isKnown(w[0]) && w[0] % group !== 0) {
      throw new ShapeError(`weight has ${w[0]} output channels, not divisible by group ${group}`);
    }
  }
  const window = readWindow(ctx, kernel);
  if (!x)
    return [
      ctx.newSymbol('N'),
      w?.[0] ?? ctx.newSymbol('M'),
      ...freshDims(ctx, 'd', kernel.length),
    ];
  requireSpatial(x, kernel.length);
  if (w && isKnown(x[1]) && isKnown(w[1]) && x[1] !== w[1] * group) {
    throw new ShapeError(
      `input has ${x[1]} channels, weight expects ${w[1]}×${group} (C/group × group)`,
    );
  }
  return [x[0], w?.[0] ?? ctx.newSymbol('M'), ...windowOutputDims(window, x.slice(2))];
}

function convRule(io: ConvInputs, outDtype: (ctx: InferContext) => DataType): ShapeRule {
  return (ctx) => ({ types: [tensorType(outDtype(ctx), convShape(ctx, io))] });
}

/** ConvTranspose spatial size, Operators.md: stride·(in−1) + output_padding + ((k−1)·d+1) − pads. */
function transposedDims(ctx: InferContext, kernel: readonly Dim[], spatial: readonly Dim[]): Dim[] {
  const n = kernel.length;
  const window = readWindow(ctx, kernel);
  const explicit = ctx.attrInts('output_shape');
  if (explicit && explicit.length > 0) {
    // Only the spatial dims are meant; some exporters also write N and C.
    if (explicit.length === n) return [...explicit];
    if (explicit.length === n + 2) return explicit.slice(2);
    throw new ShapeError(`output_shape has ${explicit.length} values, expected ${n} spatial sizes`);
  }
  const outPad = ctx.attrInts('output_padding') ?? [];
  if (outPad.length > 0 && outPad.length !== n) {
    throw new ShapeError(`output_padding has ${outPad.length} values, expected ${n}`);
  }
  return spatial.map((d, i) => {
    if (window.autoPad === 'SAME_UPPER' || window.autoPad === 'SAME_LOWER') {
      return mulDim(window.strides[i], d);
    }
    const pads = window.autoPad === 'VALID' ? 0 : window.pads[i] + window.pads[i + n];
    const stride = window.strides[i];
    const ek = effectiveKernel(kernel[i], window.dilations[i]);
    // stride·d + (output_padding − pads + ek − stride), so a symbolic 'H' reads '2*H' not '2*(H-1)+4-2'.
    const scaled = mulDim(stride, d);
    const offset = (outPad[i] ?? 0) - pads - stride;
    if (typeof ek !== 'number') return addDim(offsetDim(scaled, offset), ek);
    return offsetDim(scaled, offset + ek);
  });
}

const convTranspose: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  const w = shapeOf(ctx, 1);
  const dtype = dtypeOf(ctx, 0);
  const kernel = kernelOf(ctx, w);
  const group = ctx.attrInt('group', 1);
  // W is [C, M/group, k…]: output channels are W[1]·group.
  const channels = w ? mulDim(w[1], group) : ctx.newSymbol('M');
  if (!kernel)
    return {
      types: [
        tensorType(dtype, x ? [x[0], channels, ...freshDims(ctx, 'd', x.length - 2)] : undefined),
      ],
    };
  if (w) requireRank(w, kernel.length + 2, 'weight');
  if (!x)
    return {
      types: [
        tensorType(dtype, [ctx.newSymbol('N'), channels, ...freshDims(ctx, 'd', kernel.length)]),
      ],
    };
  requireSpatial(x, kernel.length);
  checkSameDim(x[1], w?.[0], 'ConvTranspose input channels vs weight dim 0');
  return {
    types: [tensorType(dtype, [x[0], channels, ...transposedDims(ctx, kernel, x.slice(2))])],
  };
};

/** Col2Im: [N, C·∏block, L] → [N, C, image_shape…]; image_shape and block_shape are inputs. */
const col2Im: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  const dtype = dtypeOf(ctx, 0);
  const image = constTruncatedDims(ctx, 1);
  const block = constTruncatedDims(ctx, 2);
  const spatialRank = image?.length ?? block?.length ?? shapeOf(ctx, 1)?.[0];
  if (x) requireRank(x, 3, 'input');
  if (image && block && image.length !== block.length) {
    throw new ShapeError(
      `image_shape has ${image.length} axes but block_shape has ${block.length}`,
    );
  }
  const blockSize = block ? productDims(block) : undefined;
  if (x && isKnown(x[1]) && isKnown(blockSize) && x[1] % blockSize !== 0) {
    throw new ShapeError(`input dim 1 (${x[1]}) is not a multiple of the block size ${blockSize}`);
  }
  const channels = x && blockSize !== undefined ? divDim(x[1], blockSize) : ctx.newSymbol('C');
  if (!isKnown(spatialRank)) return { types: [tensorType(dtype)] };
  const spatial = image ?? freshDims(ctx, 'd', spatialRank);
  return { types: [tensorType(dtype, [x?.[0] ?? ctx.newSymbol('N'), channels, ...spatial])] };
};

/** CausalConvWithState (opset 27): output like input; present_state [B, C, k−1]. */
const causalConvWithState: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  const w = shapeOf(ctx, 1);
  const dtype = dtypeOf(ctx, 0);
  if (x) requireRank(x, 3, 'input');
  if (w) requireRank(w, 3, 'weight');
  checkSameDim(x?.[1], w?.[0], 'input channels vs weight dim 0');
  const state: Dim[] = [
    x?.[0] ?? ctx.newSymbol('B'),
    x?.[1] ?? w?.[0] ?? ctx.newSymbol('C'),
    w ? subDim(w[2], 1) : ctx.newSymbol('k1'),
  ];
  const out: TensorType = tensorType(dtype, x);
  return { types: [out, tensorType(dtype, state)] };
};

const floatLike = (i: number) => (ctx: InferContext) => dtypeOf(ctx, i);

export const convRules: Record<string, ShapeRule> = {
  Conv: convRule({ x: 0, w: 1 }, floatLike(0)),
  ConvInteger: convRule({ x: 0, w: 1 }, () => DataType.INT32),
  // x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B
  QLinearConv: convRule({ x: 0, w: 3 }, (ctx) => dtypeOf(ctx, 7, dtypeOf(ctx, 0))),
  // DeformConv has no auto_pad; readWindow's NOTSET default applies.
  DeformConv: convRule({ x: 0, w: 1 }, floatLike(0)),
  ConvTranspose: convTranspose,
  Col2Im: col2Im,
  CausalConvWithState: causalConvWithState,
};

/** Shared with the com.microsoft fused convolutions. */
export { convRule, convShape };
