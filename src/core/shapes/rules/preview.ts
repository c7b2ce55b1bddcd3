/**
 * The ai.onnx.preview domain: FlexAttention, attention over rank-4 Q, K, V with optional
 * score_mod / prob_mod sub-graphs (PyTorch's flex_attention).
 */
import { DataType } from '../../onnx/types';
import { tensorType } from '../dims';
import { ShapeError, type Dim, type ShapeRule } from '../types';
import { checkSameDim, dtypeOf, pickDim, requireRank, shapeOf } from './nnHelpers';

/**
 * FlexAttention: Q [B, Hq, L, E], K [B, Hkv, S, E], V [B, Hkv, S, Ev] → Y [B, Hq, L, Ev]; Hq a
 * multiple of Hkv (grouped-query attention). The modifier sub-graphs see the scores
 * [B, Hq, L, S] in softmax_precision (float, or double for double inputs).
 */
const flexAttention: ShapeRule = (ctx) => {
  const dtype = dtypeOf(ctx, 0);
  const q = shapeOf(ctx, 0);
  const k = shapeOf(ctx, 1);
  const v = shapeOf(ctx, 2);
  if (q) requireRank(q, 4, 'Q');
  if (k) requireRank(k, 4, 'K');
  if (v) requireRank(v, 4, 'V');
  if (q && k) {
    checkSameDim(q[3], k[3], 'Q and K head sizes differ');
    checkSameDim(q[0], k[0], 'Q and K batch sizes differ');
    if (typeof q[1] === 'number' && typeof k[1] === 'number' && q[1] % k[1] !== 0) {
      throw new ShapeError(`q_num_heads ${q[1]} is not a multiple of kv_num_heads ${k[1]}`);
    }
  }
  if (k && v) {
    checkSameDim(k[1], v[1], 'K and V head counts differ');
    checkSameDim(k[2], v[2], 'K and V sequence lengths differ');
  }
  const fresh = (what: string) => () => ctx.newSymbol(what);
  const batch: Dim = pickDim(q?.[0], pickDim(k?.[0], v?.[0], fresh('batch')), fresh('batch'));
  const heads: Dim = q?.[1] ?? ctx.newSymbol('q_num_heads');
  const length: Dim = q?.[2] ?? ctx.newSymbol('q_sequence_length');
  const kvLength: Dim = pickDim(k?.[2], v?.[2], fresh('kv_sequence_length'));
  const precision =
    ctx.attrInt('softmax_precision', 0) ||
    (dtype === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT);
  const scores = tensorType(precision as DataType, [batch, heads, length, kvLength]);
  for (const name of ['score_mod', 'prob_mod']) {
    const g = ctx.attr(name)?.g;
    if (g) ctx.inferSubgraph(g, [scores]);
  }
  return {
    types: [tensorType(dtype, [batch, heads, length, v?.[3] ?? ctx.newSymbol('v_head_size')])],
  };
};

export const previewRules: Record<string, ShapeRule> = {
  FlexAttention: flexAttention,
};
