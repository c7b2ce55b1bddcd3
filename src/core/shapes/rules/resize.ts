/**
 * Resize (opsets 10, 11, 13, 18, 19) and the deprecated Upsample. With `scales` each resized dim
 * is floor(in × scale) (× the roi extent for tf_crop_and_resize); with `sizes` the sizes are the
 * output dims, adjusted by keep_aspect_ratio_policy (opset 18).
 */
import { isKnown, mulDim, normalizeAxis, tensorType } from '../dims';
import { ShapeError, type Dim, type InferContext, type ShapeRule, type TensorType } from '../types';
import { constDims, constInts } from './constInputs';

/** floor(d × s): exact for numbers, a readable expression for symbolic dims. */
function scaled(d: Dim, s: number): Dim {
  if (isKnown(d)) return Math.floor(d * s);
  if (Number.isInteger(s)) return mulDim(d, s);
  return `floor(${d}*${s})`;
}

/** Float values of input `i`, treating an empty tensor as absent (opset 11/13 placeholder). */
function floatsInput(ctx: InferContext, i: number): number[] | undefined | 'unknown' {
  if (!ctx.hasInput(i)) return undefined;
  const t = ctx.inputType(i);
  if (t?.shape?.[0] === 0) return undefined;
  return constInts(ctx, i) ?? 'unknown';
}

/** keep_aspect_ratio_policy not_larger/not_smaller: one scale for all axes, round half up. */
function keepAspect(
  policy: string,
  inDims: readonly Dim[],
  sizes: readonly Dim[],
): Dim[] | undefined {
  const ratios: number[] = [];
  for (let i = 0; i < sizes.length; i++) {
    const [s, d] = [sizes[i], inDims[i]];
    if (!isKnown(s) || !isKnown(d)) return undefined;
    ratios.push(s / d);
  }
  const scale = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
  return inDims.map((d) => (isKnown(d) ? Math.floor(scale * d + 0.5) : d));
}

/** The resized shape: `axes` dims replaced per scales or sizes; fresh symbols when unknown. */
function resizeShape(
  ctx: InferContext,
  t: TensorType,
  scalesAt: number,
  sizesAt: number,
): Dim[] | undefined {
  if (!t.shape) return undefined;
  const s = t.shape;
  const axes = (ctx.attrInts('axes') ?? s.map((_, i) => i)).map((a) => normalizeAxis(a, s.length));
  const out = [...s];
  const scales = floatsInput(ctx, scalesAt);
  const sizes = sizesAt >= 0 && ctx.hasInput(sizesAt) ? constDims(ctx, sizesAt) : undefined;
  if (Array.isArray(scales)) {
    if (scales.length !== axes.length)
      throw new ShapeError(`${scales.length} scales for ${axes.length} axes`);
    const roi = roiExtent(ctx, axes.length);
    axes.forEach((a, i) => (out[a] = scaled(s[a], scales[i] * roi[i])));
    return out;
  }
  if (sizes) {
    if (sizes.length !== axes.length)
      throw new ShapeError(`${sizes.length} sizes for ${axes.length} axes`);
    const policy = ctx.attrString('keep_aspect_ratio_policy', 'stretch');
    const kept =
      policy === 'stretch'
        ? sizes
        : keepAspect(
            policy,
            axes.map((a) => s[a]),
            sizes,
          );
    axes.forEach((a, i) => (out[a] = kept ? kept[i] : ctx.newSymbol(`size${a}`)));
    return out;
  }
  axes.forEach((a) => (out[a] = ctx.newSymbol(`size${a}`)));
  return out;
}

/** roi end - start per axis, only under tf_crop_and_resize (otherwise the roi is ignored). */
function roiExtent(ctx: InferContext, n: number): number[] {
  const ones = new Array<number>(n).fill(1);
  if (
    ctx.opset < 11 ||
    ctx.attrString('coordinate_transformation_mode', '') !== 'tf_crop_and_resize'
  ) {
    return ones;
  }
  const roi = constInts(ctx, 1);
  return roi && roi.length === 2 * n ? ones.map((_, i) => roi[i + n] - roi[i]) : ones;
}

const resize: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  if (!t) return { types: [] };
  // Opset 10: (X, scales); opset 11+: (X, roi, scales, sizes).
  const shape = ctx.opset < 11 ? resizeShape(ctx, t, 1, -1) : resizeShape(ctx, t, 2, 3);
  return { types: [tensorType(t.dtype, shape)] };
};

/** Upsample: `scales` attribute (opsets 7, 8), input (opset 9). */
const upsample: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  if (!t?.shape) return { types: [t] };
  const s = t.shape;
  // Float attributes may be stored as ints by writers when integral: accept both.
  const a = ctx.attr('scales');
  const attrScales = a && (a.floats.length > 0 ? a.floats : a.ints);
  const scales = ctx.opset < 9 ? attrScales : constInts(ctx, 1);
  if (!scales)
    return {
      types: [
        tensorType(
          t.dtype,
          s.map((_, i) => ctx.newSymbol(`size${i}`)),
        ),
      ],
    };
  if (scales.length !== s.length)
    throw new ShapeError(`${scales.length} scales for rank ${s.length}`);
  return {
    types: [
      tensorType(
        t.dtype,
        s.map((d, i) => scaled(d, scales[i])),
      ),
    ],
  };
};

export const resizeRules: Record<string, ShapeRule> = {
  Resize: resize,
  Upsample: upsample,
};
