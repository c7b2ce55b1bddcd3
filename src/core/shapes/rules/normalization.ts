/**
 * Normalizations and Dropout. All keep X's shape; the interest is in the extra outputs
 * (BatchNormalization running stats, LayerNormalization Mean/InvStdDev, Dropout's mask).
 */
import { DataType } from '../../onnx/types';
import { isKnown, normalizeAxis, tensorType } from '../dims';
import { ShapeError, type Dim, type InferContext, type ShapeRule, type TensorType } from '../types';
import { checkSameDim, dtypeOf, requireMinRank, sameAsInput, shapeOf } from './nnHelpers';

const shapePreserving: ShapeRule = (ctx) => ({ types: [sameAsInput(ctx)] });

/** Channel dim of [N, C, …]; checked against a per-channel parameter when both are known. */
function channelsOf(ctx: InferContext, paramInputs: readonly number[]): Dim {
  const x = shapeOf(ctx, 0);
  if (x) requireMinRank(x, 2, 'input');
  let c: Dim | undefined = x?.[1];
  for (const i of paramInputs) {
    const p = shapeOf(ctx, i);
    if (p && p.length === 1) {
      checkSameDim(c, p[0], `input ${i} length vs input channels`);
      if (!isKnown(c)) c = p[0];
    }
  }
  return c ?? ctx.newSymbol('C');
}

/**
 * BatchNormalization. Opset ≥ 14 training mode adds running_mean/running_var; opsets 6–9 had
 * mean, var, saved_mean, saved_var. Every extra output is per channel, [C].
 */
const batchNormalization: ShapeRule = (ctx) => {
  const c = channelsOf(ctx, [1, 2, 3, 4]);
  const statType = tensorType(dtypeOf(ctx, 3, dtypeOf(ctx, 0)), [c]);
  return { types: [sameAsInput(ctx), statType, statType, statType, statType] };
};

const instanceNormalization: ShapeRule = (ctx) => {
  channelsOf(ctx, [1, 2]);
  return { types: [sameAsInput(ctx)] };
};

/** LayerNormalization: Mean/InvStdDev are X's shape with the normalized axes set to 1. */
const layerNormalization: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  const stash = ctx.attrInt('stash_type', DataType.FLOAT) as DataType;
  if (!x) return { types: [sameAsInput(ctx), tensorType(stash), tensorType(stash)] };
  const axis = normalizeAxis(ctx.attrInt('axis', -1), x.length);
  const stats: TensorType = tensorType(
    stash,
    x.map((d, i) => (i < axis ? d : 1)),
  );
  return { types: [sameAsInput(ctx), stats, stats] };
};

/** GroupNormalization: C must split into num_groups; scale/bias are [C] (opset 21) or [G] (18). */
const groupNormalization: ShapeRule = (ctx) => {
  const groups = ctx.attrInt('num_groups', 0);
  if (groups < 1) throw new ShapeError('num_groups attribute is required and must be ≥ 1');
  const c = shapeOf(ctx, 0)?.[1];
  if (isKnown(c) && c % groups !== 0) {
    throw new ShapeError(`${c} channels do not split into ${groups} groups`);
  }
  const expected = ctx.opset >= 21 ? c : groups;
  for (const i of [1, 2]) {
    const p = shapeOf(ctx, i);
    if (p?.length === 1)
      checkSameDim(
        p[0],
        expected,
        `input ${i} length vs ${ctx.opset >= 21 ? 'channels' : 'num_groups'}`,
      );
  }
  return { types: [sameAsInput(ctx)] };
};

/** RMSNormalization (opset 23): Y is X's shape in scale's type (V). */
const rmsNormalization: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  if (x) normalizeAxis(ctx.attrInt('axis', -1), x.length);
  return { types: [tensorType(dtypeOf(ctx, 1, dtypeOf(ctx, 0)), x)] };
};

/** Dropout: mask is bool from opset 10 (before, X's type). */
const dropout: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  const maskType = ctx.opset >= 10 ? DataType.BOOL : dtypeOf(ctx, 0);
  return { types: [sameAsInput(ctx), tensorType(maskType, x)] };
};

export const normalizationRules: Record<string, ShapeRule> = {
  BatchNormalization: batchNormalization,
  InstanceNormalization: instanceNormalization,
  LayerNormalization: layerNormalization,
  GroupNormalization: groupNormalization,
  RMSNormalization: rmsNormalization,
  LpNormalization: shapePreserving,
  MeanVarianceNormalization: shapePreserving,
  LRN: shapePreserving,
  Dropout: dropout,
};

export { layerNormalization };
