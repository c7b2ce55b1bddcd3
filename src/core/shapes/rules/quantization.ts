/**
 * QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear: shape of x, with the output type
 * chosen as Operators.md describes. Per-axis scales are checked against x's axis.
 */
import { DataType } from '../../onnx/types';
import { normalizeAxis, tensorType } from '../dims';
import { ShapeError, type InferContext, type ShapeRule } from '../types';
import { checkSameDim, dtypeOf, shapeOf } from './nnHelpers';

/** Per-axis (1-D) scale must match x's `axis` dim; blocked scales (block_size > 0) are not checked. */
function checkScale(ctx: InferContext): void {
  const x = shapeOf(ctx, 0);
  const scale = shapeOf(ctx, 1);
  if (!x || !scale || ctx.attrInt('block_size', 0) > 0) return;
  if (scale.length > 1)
    throw new ShapeError(`scale has rank ${scale.length}; expected a scalar or 1-D tensor`);
  if (scale.length === 1 && scale[0] !== 1 && x.length > 0) {
    const axis = normalizeAxis(ctx.attrInt('axis', 1), x.length);
    checkSameDim(scale[0], x[axis], `per-axis scale length vs input dim ${axis}`);
  }
}

/** Output type: output_dtype attribute (opset 21+), else the zero point's type, else uint8. */
const quantizeLinear: ShapeRule = (ctx) => {
  checkScale(ctx);
  const attr = ctx.attrInt('output_dtype', 0) as DataType;
  const zp = ctx.hasInput(2) ? ctx.inputType(2)?.dtype : undefined;
  if (attr && zp && attr !== zp) {
    throw new ShapeError(`output_dtype ${attr} differs from the zero point's type ${zp}`);
  }
  return { types: [tensorType(attr || zp || DataType.UINT8, shapeOf(ctx, 0))] };
};

/** Output type: output_dtype attribute (opset 23+), else the scale's type (float before opset 19). */
const dequantizeLinear: ShapeRule = (ctx) => {
  checkScale(ctx);
  const attr = ctx.attrInt('output_dtype', 0) as DataType;
  return { types: [tensorType(attr || dtypeOf(ctx, 1), shapeOf(ctx, 0))] };
};

/** y uint8 like x; y_scale float and y_zero_point uint8 scalars. */
const dynamicQuantizeLinear: ShapeRule = (ctx) => ({
  types: [
    tensorType(DataType.UINT8, shapeOf(ctx, 0)),
    tensorType(DataType.FLOAT, []),
    tensorType(DataType.UINT8, []),
  ],
});

export const quantizationRules: Record<string, ShapeRule> = {
  QuantizeLinear: quantizeLinear,
  DequantizeLinear: dequantizeLinear,
  DynamicQuantizeLinear: dynamicQuantizeLinear,
};

export { dequantizeLinear, quantizeLinear };
