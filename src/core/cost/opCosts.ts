/**
 * Compute cost of one node: MACs and FLOPs, following conventions.md "Compute".
 *
 * MACs count multiply-accumulates of the linear layers only (Conv, ConvTranspose, Gemm/MatMul,
 * Einsum, attention, recurrent cells). FLOPs = 2 × MACs + the per-element operations of the
 * table below. Every constant lives in that one table, so a user can see what we assumed.
 */
import type { Node } from '../onnx/types';
import { elementCount } from '../onnx/tensorData';
import { TFLITE_DOMAIN } from '../tflite/attributes';
import { tfliteCompute } from '../tflite/opCosts';

/** Shapes with symbolic dims already replaced by 1 (symbolic batch counts as 1). */
export interface CostShapes {
  readonly inputs: readonly (readonly number[] | undefined)[];
  readonly outputs: readonly (readonly number[] | undefined)[];
}

export interface NodeCompute {
  readonly macs: number;
  /** Non-MAC operations (FLOPs beyond 2 × MACs). */
  readonly elementwiseFlops: number;
  /** Bias additions, counted separately so that a setting can leave them out of FLOPs. */
  readonly biasFlops: number;
  /** Accumulation depth n·k² of one output (for the BOPs accumulator width), when linear. */
  readonly accumulationDepth?: number;
  /**
   * Set when what the node computes is not known (a TFLite custom operator such as Vela's
   * `ethos-u`): why. Its MACs and FLOPs are then no count, only placeholders for "unknown".
   */
  readonly unknown?: string;
}

/**
 * FLOPs per output element for non-linear ops. Sources: the usual counting of fvcore/ptflops for
 * activations (one op per compare, add or multiply), with transcendental functions counted as
 * one op each, as onnx-tool does. Pooling and reductions are costed by window below instead.
 */
// prettier-ignore
export const FLOPS_PER_ELEMENT: Readonly<Record<string, number>> = {
  // One op per element.
  Relu: 1, LeakyRelu: 2, PRelu: 2, ThresholdedRelu: 1, Clip: 2, Abs: 1, Neg: 1, Sign: 1,
  Add: 1, Sub: 1, Mul: 1, Div: 1, Pow: 1, Mod: 1, Max: 1, Min: 1, Sum: 1, Mean: 1,
  Sqrt: 1, Reciprocal: 1, Exp: 1, Log: 1, Erf: 1, Floor: 1, Ceil: 1, Round: 1,
  Sin: 1, Cos: 1, Tan: 1, Tanh: 1, Sinh: 1, Cosh: 1, Atan: 1, Asin: 1, Acos: 1,
  Equal: 1, Greater: 1, Less: 1, GreaterOrEqual: 1, LessOrEqual: 1, And: 1, Or: 1, Xor: 1,
  Not: 1, Where: 1,
  // exp, add, divide.
  Sigmoid: 3, Softplus: 3, Softsign: 3, Elu: 3, Selu: 4, Celu: 4,
  // x · sigmoid(x) and friends.
  HardSigmoid: 3, HardSwish: 4, Swish: 4, Mish: 5, Gelu: 8, FastGelu: 8, BiasGelu: 9,
  QuickGelu: 5,
  // exp per element, a sum, a divide.
  Softmax: 3, LogSoftmax: 4, Hardmax: 1,
  // Inference-form BatchNorm is a scale and a shift per element.
  BatchNormalization: 2, InstanceNormalization: 5, LayerNormalization: 5,
  GroupNormalization: 5, RMSNormalization: 4, SimplifiedLayerNormalization: 4,
  SkipLayerNormalization: 6, SkipSimplifiedLayerNormalization: 5, LpNormalization: 3,
  MeanVarianceNormalization: 5, LRN: 5,
  // Quantize: divide, round, add zero point, clip. Dequantize: subtract, multiply.
  QuantizeLinear: 4, DequantizeLinear: 2, DynamicQuantizeLinear: 5,
};

/** Ops whose inputs are added to or compared per window element. */
const WINDOW_POOLS = new Set(['MaxPool', 'AveragePool', 'LpPool']);
const GLOBAL_POOLS = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']);
const REDUCTIONS = /^Reduce|^Arg(Max|Min)$/;

const CONV_LIKE: Readonly<Record<string, { weight: number; bias?: number }>> = {
  Conv: { weight: 1, bias: 2 },
  ConvInteger: { weight: 1 },
  QLinearConv: { weight: 3, bias: 8 },
  FusedConv: { weight: 1, bias: 2 },
  NhwcConv: { weight: 1, bias: 2 },
  DeformConv: { weight: 1, bias: 3 },
};

const MATMUL_LIKE = new Set(['MatMul', 'MatMulInteger', 'QLinearMatMul', 'FusedMatMul']);
const RECURRENT_GATES: Readonly<Record<string, number>> = { LSTM: 4, GRU: 3, RNN: 1 };

function size(shape: readonly number[] | undefined): number {
  return shape ? elementCount(shape) : 0;
}

function intAttr(node: Node, name: string, fallback: number): number {
  return node.attributes.find((a) => a.name === name)?.i ?? fallback;
}

function strAttr(node: Node, name: string): string {
  const a = node.attributes.find((x) => x.name === name);
  return a?.s ? new TextDecoder().decode(a.s) : '';
}

/** MACs and FLOP components of `node`, given its concrete input and output shapes. */
export function nodeCompute(node: Node, shapes: CostShapes): NodeCompute {
  // Translated TFLite operators: their layouts (NHWC, OHWI …) have their own table, which maps
  // the non-linear ops onto this file's per-element FLOPs.
  if (node.domain === TFLITE_DOMAIN) return tfliteCompute(node, shapes, FLOPS_PER_ELEMENT);
  const op = node.opType;
  const out0 = shapes.outputs[0];
  const outElems = size(out0);
  const conv = CONV_LIKE[op];
  if (conv) return convCompute(shapes, conv, outElems);
  if (op === 'ConvTranspose') {
    const w = shapes.inputs[1];
    const perInput = w ? elementCount(w.slice(1)) : 0;
    return {
      macs: size(shapes.inputs[0]) * perInput,
      elementwiseFlops: 0,
      biasFlops: shapes.inputs[2] ? outElems : 0,
      accumulationDepth: w ? w[0] * elementCount(w.slice(2)) : undefined,
    };
  }
  if (op === 'Gemm' || op === 'FusedGemm') {
    const a = shapes.inputs[0];
    const k = a ? (intAttr(node, 'transA', 0) ? a[0] : a[a.length - 1]) : 0;
    return {
      macs: outElems * k,
      elementwiseFlops: 0,
      biasFlops: shapes.inputs[2] ? outElems : 0,
      accumulationDepth: k,
    };
  }
  if (MATMUL_LIKE.has(op)) {
    const a = shapes.inputs[0];
    const k = a && a.length > 0 ? a[a.length - 1] : 0;
    return { macs: outElems * k, elementwiseFlops: 0, biasFlops: 0, accumulationDepth: k };
  }
  if (op === 'Einsum') return { macs: einsumMacs(node, shapes), elementwiseFlops: 0, biasFlops: 0 };
  const gates = RECURRENT_GATES[op];
  if (gates) return recurrentCompute(node, shapes, gates);
  if (op === 'Attention' || op === 'MultiHeadAttention' || op === 'GroupQueryAttention') {
    return attentionCompute(node, shapes);
  }
  if (WINDOW_POOLS.has(op)) {
    const kernel = node.attributes.find((a) => a.name === 'kernel_shape')?.ints ?? [];
    return { macs: 0, elementwiseFlops: outElems * elementCount(kernel), biasFlops: 0 };
  }
  if (GLOBAL_POOLS.has(op) || REDUCTIONS.test(op)) {
    return { macs: 0, elementwiseFlops: size(shapes.inputs[0]), biasFlops: 0 };
  }
  const perElement = FLOPS_PER_ELEMENT[op] ?? 0;
  return { macs: 0, elementwiseFlops: perElement * outElems, biasFlops: 0 };
}

/** outputElements × (Cin/groups) × kH × kW: the weight is [Cout, Cin/groups, kH, kW]. */
function convCompute(
  shapes: CostShapes,
  conv: { weight: number; bias?: number },
  outElems: number,
): NodeCompute {
  const w = shapes.inputs[conv.weight];
  const perOutput = w ? elementCount(w.slice(1)) : 0;
  const hasBias = conv.bias !== undefined && shapes.inputs[conv.bias] !== undefined;
  return {
    macs: outElems * perOutput,
    elementwiseFlops: 0,
    biasFlops: hasBias ? outElems : 0,
    accumulationDepth: perOutput,
  };
}

/**
 * gates × hidden × (input + hidden) × sequence length × directions × batch. The sequence length
 * is the factor other tools forget.
 */
function recurrentCompute(node: Node, shapes: CostShapes, gates: number): NodeCompute {
  const x = shapes.inputs[0];
  const w = shapes.inputs[1]; // [directions, gates·hidden, input]
  if (!x || !w || x.length < 3 || w.length < 3)
    return { macs: 0, elementwiseFlops: 0, biasFlops: 0 };
  const batchFirst = intAttr(node, 'layout', 0) === 1;
  const seq = batchFirst ? x[1] : x[0];
  const batch = batchFirst ? x[0] : x[1];
  const directions = w[0];
  const hidden = w[1] / gates;
  const input = w[2];
  const macs = gates * hidden * (input + hidden) * seq * directions * batch;
  // Gate non-linearities and the cell update, per hidden unit per step.
  const elementwise = gates * 4 * hidden * seq * directions * batch;
  return { macs, elementwiseFlops: elementwise, biasFlops: 0, accumulationDepth: input + hidden };
}

/**
 * Scaled dot-product attention: Q·Kᵀ and P·V, i.e. batch × heads × Sq × Skv × (dk + dv).
 * Inputs are [B, S, hidden] (3-D) or [B, heads, S, d] (4-D); 3-D hidden = heads × d, so the
 * product is the same either way. com.microsoft Attention also projects the input with its
 * weight [hidden, 3·hidden], which is added.
 */
function attentionCompute(node: Node, shapes: CostShapes): NodeCompute {
  const q = shapes.inputs[0];
  if (!q) return { macs: 0, elementwiseFlops: 0, biasFlops: 0 };
  if (node.domain === 'com.microsoft' && node.opType === 'Attention') {
    const w = shapes.inputs[1];
    if (!w || q.length !== 3) return { macs: 0, elementwiseFlops: 0, biasFlops: 0 };
    const [b, s, hidden] = q;
    const projection = b * s * hidden * w[1];
    const attention = b * s * s * (2 * hidden);
    return {
      macs: projection + attention,
      elementwiseFlops: 3 * b * s * s,
      biasFlops: b * s * w[1],
    };
  }
  const k = shapes.inputs[1] ?? q;
  const v = shapes.inputs[2] ?? k;
  const rank = q.length;
  const batch = q[0];
  const sq = rank === 4 ? q[2] : q[1];
  const skv = rank === 4 ? k[2] : k[1];
  const headsTimesDk = rank === 4 ? q[1] * q[3] : q[2];
  const dvRatio = rank === 4 ? v[3] / q[3] : v[2] / q[2];
  const macs = batch * sq * skv * headsTimesDk * (1 + dvRatio);
  const heads = rank === 4 ? q[1] : 1;
  return { macs, elementwiseFlops: 3 * batch * heads * sq * skv, biasFlops: 0 };
}

/** Product of the sizes of every label in the equation: one multiply-add per combination. */
function einsumMacs(node: Node, shapes: CostShapes): number {
  const equation = strAttr(node, 'equation').replace(/\s/g, '');
  const [lhs] = equation.split('->');
  const operands = lhs.split(',');
  const sizes = new Map<string, number>();
  operands.forEach((term, i) => {
    const shape = shapes.inputs[i];
    if (!shape) return;
    const letters = term.replace('...', '');
    const ellipsisDims = shape.length - letters.length;
    let dim = 0;
    for (let c = 0; c < term.length; c++) {
      if (term.startsWith('...', c)) {
        for (let e = 0; e < ellipsisDims; e++) sizes.set(`...${e}`, shape[dim++]);
        c += 2;
      } else sizes.set(term[c], shape[dim++]);
    }
  });
  if (operands.length < 2) return 0;
  let product = 1;
  for (const s of sizes.values()) product *= s;
  return product * (operands.length - 1);
}
