/**
 * The rest of the NN-adjacent ops: sampling grids, losses, random generators, EyeLike, and the
 * text/image ops (ImageDecoder, TfIdfVectorizer, String*, RegexFullMatch).
 */
import { DataType } from '../../onnx/types';
import { broadcastShapes, isKnown, tensorType } from '../dims';
import { ShapeError, type Dim, type InferContext, type ShapeRule } from '../types';
import {
  checkSameDim,
  dtypeOf,
  freshDims,
  requireMinRank,
  requireRank,
  sameAsInput,
  shapeOf,
} from './nnHelpers';
import { constTruncatedDims } from './constInputs';

/** The `dtype` attribute when set, else `fallback`. */
function dtypeAttr(ctx: InferContext, fallback: DataType): DataType {
  return ctx.attr('dtype') ? (ctx.attrInt('dtype', fallback) as DataType) : fallback;
}

/** GridSample: X [N, C, D1…Dr], grid [N, D1_out…Dr_out, r] → [N, C, D1_out…Dr_out]. */
const gridSample: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  const grid = shapeOf(ctx, 1);
  const dtype = dtypeOf(ctx, 0);
  if (!grid)
    return {
      types: [
        tensorType(dtype, x ? [x[0], x[1], ...freshDims(ctx, 'd', x.length - 2)] : undefined),
      ],
    };
  requireMinRank(grid, 3, 'grid');
  const spatial = grid.slice(1, -1);
  if (x) {
    requireRank(x, grid.length, 'X (same rank as grid)');
    checkSameDim(x[0], grid[0], 'batch of X vs grid');
  }
  checkSameDim(grid[grid.length - 1], spatial.length, 'grid last dim vs number of spatial axes');
  return {
    types: [tensorType(dtype, [x?.[0] ?? grid[0], x?.[1] ?? ctx.newSymbol('C'), ...spatial])],
  };
};

/** AffineGrid: theta [N, 2, 3] or [N, 3, 4]; size = (N, C, H, W) or (N, C, D, H, W). */
const affineGrid: ShapeRule = (ctx) => {
  const dtype = dtypeOf(ctx, 0);
  const size = constTruncatedDims(ctx, 1);
  const sizeLength = size?.length ?? shapeOf(ctx, 1)?.[0];
  const theta = shapeOf(ctx, 0);
  if (!isKnown(sizeLength)) return { types: [tensorType(dtype)] };
  if (sizeLength !== 4 && sizeLength !== 5)
    throw new ShapeError(`size has ${sizeLength} values; expected 4 or 5`);
  const r = sizeLength - 2;
  if (theta) {
    requireRank(theta, 3, 'theta');
    checkSameDim(theta[1], r, 'theta dim 1 vs spatial rank');
    checkSameDim(theta[2], r + 1, 'theta dim 2 vs spatial rank + 1');
  }
  const spatial = size ? size.slice(2) : freshDims(ctx, 'd', r);
  return {
    types: [tensorType(dtype, [size?.[0] ?? theta?.[0] ?? ctx.newSymbol('N'), ...spatial, r])],
  };
};

/**
 * NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss: scalar unless reduction is 'none', then
 * target's shape [N, d1…]. SoftmaxCrossEntropyLoss's log_prob output is the scores' shape.
 */
const loss: ShapeRule = (ctx) => {
  const dtype = dtypeOf(ctx, 0);
  const scores = shapeOf(ctx, 0);
  const target = shapeOf(ctx, 1);
  if (scores) requireMinRank(scores, 2, 'input');
  if (scores && target) {
    requireRank(target, scores.length - 1, 'target (rank of input − 1)');
    target.forEach((d, i) =>
      checkSameDim(d, scores[i === 0 ? 0 : i + 1], `target dim ${i} vs input`),
    );
  }
  const none = ctx.attrString('reduction', 'mean') === 'none';
  const perItem = target ?? (scores ? [scores[0], ...scores.slice(2)] : undefined);
  return { types: [tensorType(dtype, none ? perItem : []), tensorType(dtype, scores)] };
};

const randomFromShape: ShapeRule = (ctx) => {
  const shape = ctx.attrInts('shape');
  if (!shape) throw new ShapeError('shape attribute is required');
  return { types: [tensorType(dtypeAttr(ctx, DataType.FLOAT), shape)] };
};

/** RandomXLike, Bernoulli, EyeLike: input's shape, `dtype` attribute or input's type. */
const likeInput: ShapeRule = (ctx) => ({
  types: [tensorType(dtypeAttr(ctx, dtypeOf(ctx, 0)), shapeOf(ctx, 0))],
});

const eyeLike: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  if (x) requireRank(x, 2, 'input');
  return likeInput(ctx);
};

/** Multinomial: [batch, class] → [batch, sample_size], int32 unless `dtype` says int64. */
const multinomial: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  if (x) requireRank(x, 2, 'input');
  const batch = x?.[0] ?? ctx.newSymbol('batch');
  return {
    types: [tensorType(dtypeAttr(ctx, DataType.INT32), [batch, ctx.attrInt('sample_size', 1)])],
  };
};

/** ImageDecoder: [H, W, 3] for RGB/BGR, [H, W, 1] for Grayscale; H and W come from the bytes. */
const imageDecoder: ShapeRule = (ctx) => {
  const channels = ctx.attrString('pixel_format', 'RGB') === 'Grayscale' ? 1 : 3;
  return {
    types: [
      tensorType(DataType.UINT8, [ctx.newSymbol('height'), ctx.newSymbol('width'), channels]),
    ],
  };
};

/** TfIdfVectorizer: [N] → [C] or [B, N] → [B, C], C = max(ngram_indexes) + 1. */
const tfIdfVectorizer: ShapeRule = (ctx) => {
  const indexes = ctx.attrInts('ngram_indexes');
  const width: Dim =
    indexes && indexes.length > 0 ? Math.max(...indexes) + 1 : ctx.newSymbol('ngrams');
  const x = shapeOf(ctx, 0);
  if (!x) return { types: [tensorType(DataType.FLOAT)] };
  requireRank(x, [1, 2], 'input');
  return { types: [tensorType(DataType.FLOAT, x.length === 1 ? [width] : [x[0], width])] };
};

/** StringNormalizer: [C] or [1, C]; stop-word removal makes C data-dependent. */
const stringNormalizer: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  if (!x) return { types: [tensorType(DataType.STRING)] };
  requireRank(x, [1, 2], 'input');
  const stopwords = ctx.attr('stopwords')?.strings.length ?? 0;
  if (stopwords === 0) return { types: [tensorType(DataType.STRING, x)] };
  const kept = ctx.newSymbol('kept');
  return { types: [tensorType(DataType.STRING, x.length === 1 ? [kept] : [1, kept])] };
};

/** StringSplit: Y adds a trailing axis as long as the most substrings; Z counts per element. */
const stringSplit: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  const y = x ? [...x, ctx.newSymbol('max_substrings')] : undefined;
  return { types: [tensorType(DataType.STRING, y), tensorType(DataType.INT64, x)] };
};

const stringConcat: ShapeRule = (ctx) => {
  const a = shapeOf(ctx, 0);
  const b = shapeOf(ctx, 1);
  return { types: [tensorType(DataType.STRING, a && b ? broadcastShapes([a, b]) : undefined)] };
};

export const miscRules: Record<string, ShapeRule> = {
  GridSample: gridSample,
  AffineGrid: affineGrid,
  NegativeLogLikelihoodLoss: loss,
  SoftmaxCrossEntropyLoss: loss,
  RandomNormal: randomFromShape,
  RandomUniform: randomFromShape,
  RandomNormalLike: likeInput,
  RandomUniformLike: likeInput,
  Bernoulli: likeInput,
  Multinomial: multinomial,
  EyeLike: eyeLike,
  ImageDecoder: imageDecoder,
  TfIdfVectorizer: tfIdfVectorizer,
  StringNormalizer: stringNormalizer,
  StringSplit: stringSplit,
  StringConcat: stringConcat,
  RegexFullMatch: (ctx) => ({ types: [tensorType(DataType.BOOL, sameAsInput(ctx).shape)] }),
};

export { gridSample };
