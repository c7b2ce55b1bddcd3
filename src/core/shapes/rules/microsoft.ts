/**
 * com.microsoft contrib ops that exporters and ORT's transformer optimizer emit (fused
 * convolutions/GEMMs, transformer blocks, quantized ops). Output shapes follow ORT's
 * docs/ContribOperators.md.
 */
import { DataType } from '../../onnx/types';
import { addDim, broadcastShapes, divDim, isKnown, mulDim, tensorType } from '../dims';
import { ShapeError, type Dim, type InferContext, type ShapeRule, type TensorType } from '../types';
import { convRule, convShape } from './conv';
import { gemm, matmulShape, perHead } from './linear';
import { gridSample } from './misc';
import { layerNormalization } from './normalization';
import { dequantizeLinear, quantizeLinear } from './quantization';
import {
  checkSameDim,
  dtypeOf,
  requireMinRank,
  requireRank,
  sameAsInput,
  shapeOf,
} from './nnHelpers';
import { constIntegerScalar } from './constInputs';

const shapePreserving: ShapeRule = (ctx) => ({ types: [sameAsInput(ctx)] });

/** NHWC → NCHW view of a shape, and back, for the channels-last variants. */
const toChannelsFirst = (s: readonly Dim[]): Dim[] => [s[0], s[s.length - 1], ...s.slice(1, -1)];
const toChannelsLast = (s: readonly Dim[]): Dim[] => [s[0], ...s.slice(2), s[1]];

/** Runs a channels-first rule on a channels-last input by viewing X as NCHW. */
function channelsLast(
  ctx: InferContext,
  x: number,
  rule: (view: InferContext) => Dim[] | undefined,
): Dim[] | undefined {
  const type = ctx.inputType(x);
  if (!type?.shape) return rule(ctx);
  requireMinRank(type.shape, 3, 'input');
  const viewed: TensorType = { dtype: type.dtype, shape: toChannelsFirst(type.shape) };
  const view: InferContext = { ...ctx, inputType: (i) => (i === x ? viewed : ctx.inputType(i)) };
  const out = rule(view);
  return out && toChannelsLast(out);
}

/** NhwcConv: X [N, H, W, C], W in Conv's [M, C/group, kH, kW] layout → [N, oH, oW, M]. */
const nhwcConv: ShapeRule = (ctx) => ({
  types: [
    tensorType(
      dtypeOf(ctx, 0),
      channelsLast(ctx, 0, (view) => convShape(view, { x: 0, w: 1 })),
    ),
  ],
});

/** QLinearConv with channels_last = 1 reads and writes NHWC. */
const qlinearConv: ShapeRule = (ctx) => {
  const dtype = dtypeOf(ctx, 7, dtypeOf(ctx, 0));
  const conv = (view: InferContext) => convShape(view, { x: 0, w: 3 });
  const shape = ctx.attrInt('channels_last', 0) ? channelsLast(ctx, 0, conv) : conv(ctx);
  return { types: [tensorType(dtype, shape)] };
};

const qlinearGlobalAveragePool: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  if (!x) return { types: [tensorType(dtypeOf(ctx, 0))] };
  requireMinRank(x, 3, 'input');
  const last = ctx.attrInt('channels_last', 0) === 1;
  const out = last
    ? [x[0], ...x.slice(1, -1).map(() => 1), x[x.length - 1]]
    : [x[0], x[1], ...x.slice(2).map(() => 1)];
  return { types: [tensorType(dtypeOf(ctx, 0), out)] };
};

/** QLinearAdd/QLinearMul: A (0) and B (3) broadcast; C has A's quantized type. */
const qlinearBinary: ShapeRule = (ctx) => {
  const a = shapeOf(ctx, 0);
  const b = shapeOf(ctx, 3);
  return { types: [tensorType(dtypeOf(ctx, 0), a && b ? broadcastShapes([a, b]) : undefined)] };
};

/**
 * FusedMatMul: transBatchA moves A's first dim behind its batch dims, then transA swaps the last
 * two (likewise for B), then numpy matmul.
 */
function fusedOperand(s: readonly Dim[], transBatch: boolean, trans: boolean): Dim[] {
  let out = [...s];
  if (transBatch && out.length > 2) out = [...out.slice(1, -1), out[0], out[out.length - 1]];
  if (trans && out.length >= 2)
    out = [...out.slice(0, -2), out[out.length - 1], out[out.length - 2]];
  return out;
}

const fusedMatMul: ShapeRule = (ctx) => {
  const a = shapeOf(ctx, 0);
  const b = shapeOf(ctx, 1);
  if (!a || !b) return { types: [tensorType(dtypeOf(ctx, 0))] };
  const a2 = fusedOperand(a, ctx.attrInt('transBatchA', 0) === 1, ctx.attrInt('transA', 0) === 1);
  const b2 = fusedOperand(b, ctx.attrInt('transBatchB', 0) === 1, ctx.attrInt('transB', 0) === 1);
  return { types: [tensorType(dtypeOf(ctx, 0), matmulShape(a2, b2))] };
};

/** MatMulNBits: A [..., K] × packed B → [..., N] with N and K as attributes. */
const matMulNBits: ShapeRule = (ctx) => {
  const a = shapeOf(ctx, 0);
  const n = ctx.attrInt('N', 0);
  const k = ctx.attrInt('K', 0);
  if (n < 1 || k < 1) throw new ShapeError('attributes K and N are required');
  if (!a) return { types: [tensorType(dtypeOf(ctx, 0))] };
  requireMinRank(a, 1, 'A');
  checkSameDim(a[a.length - 1], k, 'A last dim vs attribute K');
  return { types: [tensorType(dtypeOf(ctx, 0), [...a.slice(0, -1), n])] };
};

/** BiasSplitGelu: [N, S, D] + bias [D] → [N, S, D/2]. */
const biasSplitGelu: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  if (!x) return { types: [tensorType(dtypeOf(ctx, 0))] };
  requireRank(x, 3, 'input');
  checkSameDim(x[2], shapeOf(ctx, 1)?.[0], 'bias length vs input hidden size');
  if (isKnown(x[2]) && x[2] % 2 !== 0)
    throw new ShapeError(`hidden size ${x[2]} is odd; it must split in two`);
  return { types: [tensorType(dtypeOf(ctx, 0), [x[0], x[1], divDim(x[2], 2)])] };
};

/** Per-row statistics of a last-axis normalization: X's shape with the last dim set to 1. */
function rowStats(x: readonly Dim[] | undefined, axis = -1): TensorType {
  if (!x) return tensorType(DataType.FLOAT);
  const a = axis < 0 ? axis + x.length : axis;
  return tensorType(
    DataType.FLOAT,
    x.map((d, i) => (i < a ? d : 1)),
  );
}

/**
 * SkipLayerNormalization / SkipSimplifiedLayerNormalization: output, mean, inv_std_var,
 * input_skip_bias_sum. input and skip must agree (skip may drop the batch dim).
 */
const skipLayerNorm: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  const skip = shapeOf(ctx, 1);
  if (x && skip) {
    const tail = x.slice(x.length - skip.length);
    skip.forEach((d, i) => {
      if (d !== 1) checkSameDim(tail[i], d, `skip dim ${i} vs input`);
    });
  }
  const out = sameAsInput(ctx);
  const stats = rowStats(x);
  return { types: [out, stats, stats, out] };
};

/** SimplifiedLayerNormalization (RMS norm): Y and inv_std_var. */
const simplifiedLayerNorm: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  return { types: [sameAsInput(ctx), rowStats(x, ctx.attrInt('axis', -1))] };
};

/** EmbedLayerNormalization: input_ids [B, S] → output [B, S, H], mask_index [B], embedding_sum. */
const embedLayerNorm: ShapeRule = (ctx) => {
  const ids = shapeOf(ctx, 0);
  if (ids) requireRank(ids, 2, 'input_ids');
  const hidden = shapeOf(ctx, 2)?.[1] ?? shapeOf(ctx, 5)?.[0] ?? ctx.newSymbol('hidden');
  const dtype = dtypeOf(ctx, 2);
  const batch = ids?.[0] ?? ctx.newSymbol('batch');
  const out = tensorType(dtype, [batch, ids?.[1] ?? ctx.newSymbol('seq'), hidden]);
  return { types: [out, tensorType(DataType.INT32, [batch]), out] };
};

/** com.microsoft.Attention: packed QKV projection; output [B, S, v_hidden], present [2, B, N, P+S, H]. */
const msAttention: ShapeRule = (ctx) => {
  const dtype = dtypeOf(ctx, 0);
  const x = shapeOf(ctx, 0);
  const w = shapeOf(ctx, 1);
  const heads = ctx.attrInt('num_heads', 0);
  const sizes = ctx.attrInts('qkv_hidden_sizes');
  if (x) requireRank(x, 3, 'input');
  if (w) {
    requireRank(w, 2, 'weights');
    checkSameDim(x?.[2], w[0], 'input hidden size vs weights dim 0');
  }
  const hidden: Dim =
    sizes?.length === 3 ? sizes[0] : w ? divDim(w[1], 3) : ctx.newSymbol('hidden');
  const vHidden: Dim = sizes?.length === 3 ? sizes[2] : hidden;
  if (!x) return { types: [tensorType(dtype), tensorType(dtype)] };
  const [batch, seq] = [x[0], x[1]];
  const past = shapeOf(ctx, 4);
  const shared = ctx.attrInt('past_present_share_buffer', 0) === 1;
  const total = past ? (shared ? past[3] : addDim(past[3], seq)) : seq;
  const present = [2, batch, heads, total, perHead(hidden, heads, 'hidden size')];
  return { types: [tensorType(dtype, [batch, seq, vHidden]), tensorType(dtype, present)] };
};

/**
 * MultiHeadAttention: query [B, S, D] (or packed [B, S, N, 3, H]); key [B, L, D], [B, N, L, H]
 * or packed KV [B, L, N, 2, H]. Output [B, S, v_hidden]; present_key/value [B, N, P+L, H].
 */
const multiHeadAttention: ShapeRule = (ctx) => {
  const dtype = dtypeOf(ctx, 0);
  const heads = ctx.attrInt('num_heads', 0);
  const q = shapeOf(ctx, 0);
  if (!q) return { types: [tensorType(dtype), tensorType(dtype), tensorType(dtype)] };
  requireRank(q, [3, 5], 'query');
  const [batch, seq] = [q[0], q[1]];
  const qHead = q.length === 5 ? q[4] : perHead(q[2], heads, 'query hidden size');
  const k = ctx.hasInput(1) ? shapeOf(ctx, 1) : undefined;
  const v = ctx.hasInput(2) ? shapeOf(ctx, 2) : undefined;
  const kvSeq = kvSequence(ctx, q, k);
  const vHead = v
    ? v.length === 4
      ? v[3]
      : perHead(v[2], heads, 'value hidden size')
    : k?.length === 5
      ? k[4]
      : qHead;
  const past = shapeOf(ctx, 6);
  const total = past && ctx.hasInput(6) ? addDim(past[2], kvSeq) : kvSeq;
  return {
    types: [
      tensorType(dtype, [batch, seq, mulDim(heads, vHead)]),
      tensorType(dtype, [batch, heads, total, qHead]),
      tensorType(dtype, [batch, heads, total, vHead]),
    ],
  };
};

/** Key sequence length: from key ([B, L, D], [B, N, L, H] or [B, L, N, 2, H]), else query's. */
function kvSequence(ctx: InferContext, q: readonly Dim[], k: readonly Dim[] | undefined): Dim {
  if (!ctx.hasInput(1)) return q[1];
  if (!k) return ctx.newSymbol('kv_seq');
  requireRank(k, [3, 4, 5], 'key');
  return k.length === 4 ? k[2] : k[1];
}

/**
 * GroupQueryAttention: query [B, S, N·H] or packed [B, S, (N + 2·kvN)·H] when key is absent.
 * present_key/value are [B, kvN, T, H]: T is the shared past buffer length, else
 * total_sequence_length (input 6) when constant.
 */
const groupQueryAttention: ShapeRule = (ctx) => {
  const dtype = dtypeOf(ctx, 0);
  const heads = ctx.attrInt('num_heads', 0);
  const kvHeads = ctx.attrInt('kv_num_heads', 0);
  const q = shapeOf(ctx, 0);
  if (!q) return { types: [tensorType(dtype), tensorType(dtype), tensorType(dtype)] };
  requireRank(q, 3, 'query');
  const packed = !ctx.hasInput(1);
  const head = perHead(q[2], packed ? heads + 2 * kvHeads : heads, 'query hidden size');
  const past = shapeOf(ctx, 3);
  const totalInput = constIntegerScalar(ctx, 6);
  let present: Dim = ctx.newSymbol('present_seq');
  if (isKnown(totalInput) && past && isKnown(past[2])) present = Math.max(totalInput, past[2]);
  else if (isKnown(totalInput) && !ctx.hasInput(3)) present = totalInput;
  else if (!ctx.hasInput(3)) present = shapeOf(ctx, 1)?.[1] ?? q[1];
  const cache = tensorType(dtype, [q[0], kvHeads, present, head]);
  return { types: [tensorType(dtype, [q[0], q[1], mulDim(heads, head)]), cache, cache] };
};

/** com.microsoft.RotaryEmbedding: [B, S, D] or [B, N, S, H], shape preserved. */
const msRotaryEmbedding: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  if (x) requireRank(x, [3, 4], 'input');
  return { types: [sameAsInput(ctx)] };
};

export const microsoftRules: Record<string, ShapeRule> = {
  FusedConv: convRule({ x: 0, w: 1 }, (ctx) => dtypeOf(ctx, 0)),
  FusedGemm: gemm,
  NhwcConv: nhwcConv,
  FusedMatMul: fusedMatMul,
  Gelu: shapePreserving,
  FastGelu: shapePreserving,
  BiasGelu: shapePreserving,
  QuickGelu: shapePreserving,
  BiasAdd: shapePreserving,
  BiasSplitGelu: biasSplitGelu,
  SkipLayerNormalization: skipLayerNorm,
  SkipSimplifiedLayerNormalization: skipLayerNorm,
  SimplifiedLayerNormalization: simplifiedLayerNorm,
  LayerNormalization: layerNormalization,
  EmbedLayerNormalization: embedLayerNorm,
  Attention: msAttention,
  MultiHeadAttention: multiHeadAttention,
  GroupQueryAttention: groupQueryAttention,
  RotaryEmbedding: msRotaryEmbedding,
  QLinearConv: qlinearConv,
  QLinearAdd: qlinearBinary,
  QLinearMul: qlinearBinary,
  QLinearSigmoid: shapePreserving,
  QLinearGlobalAveragePool: qlinearGlobalAveragePool,
  MatMulNBits: matMulNBits,
  DequantizeLinear: dequantizeLinear,
  QuantizeLinear: quantizeLinear,
  GridSample: gridSample,
};
