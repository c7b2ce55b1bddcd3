/**
 * Which inputs of a node are its weights (conventions.md "Params"): initializers, Constant
 * tensors or folded constants that a node uses as weights or bias. Shape, axes and index
 * constants (the int64 inputs of Reshape, Slice, …) and scalar bounds (Clip's min/max) are not.
 * A quantized weight (int8 → DequantizeLinear → Conv) belongs to the Conv: weightOrigin.ts traces
 * it back to its stored tensor, so DequantizeLinear itself has no weight slot.
 */
import type { Node } from '../onnx/types';
import { TFLITE_DOMAIN } from '../tflite/attributes';
import {
  TFLITE_ELEMENTWISE_WITH_PARAMS,
  tfliteMainWeight,
  tfliteWeightSlots,
} from '../tflite/weightSlots';

/** Input slots that hold weights, per op. A slot counts only when it is fed a constant. */
const WEIGHT_SLOTS: Readonly<Record<string, readonly number[]>> = {
  Conv: [1, 2],
  ConvTranspose: [1, 2],
  ConvInteger: [1],
  QLinearConv: [3, 8],
  DeformConv: [1, 3],
  FusedConv: [1, 2],
  NhwcConv: [1, 2],
  Gemm: [0, 1, 2],
  FusedGemm: [0, 1, 2],
  MatMul: [0, 1],
  FusedMatMul: [0, 1],
  MatMulInteger: [1],
  QLinearMatMul: [3],
  MatMulNBits: [1],
  Einsum: [0, 1, 2, 3],
  BatchNormalization: [1, 2, 3, 4],
  InstanceNormalization: [1, 2],
  LayerNormalization: [1, 2],
  SimplifiedLayerNormalization: [1],
  SkipLayerNormalization: [2, 3, 4],
  SkipSimplifiedLayerNormalization: [2],
  GroupNormalization: [1, 2],
  RMSNormalization: [1],
  EmbedLayerNormalization: [2, 3, 4, 5, 6],
  LSTM: [1, 2, 3],
  GRU: [1, 2, 3],
  RNN: [1, 2, 3],
  PRelu: [1],
  Gather: [0],
  Attention: [1, 2],
  BiasGelu: [1],
  BiasAdd: [1, 2],
};

/** Elementwise ops whose constant operand is a weight when it is a real tensor (a bias, a scale). */
const ELEMENTWISE_WITH_PARAMS = new Set(['Add', 'Sub', 'Mul', 'Div']);

/**
 * Indices of the inputs of `node` that are weights, given which input names are constants and
 * how many elements each has.
 */
export function weightInputIndices(
  node: Node,
  isConstant: (name: string) => boolean,
  elements: (name: string) => number,
): number[] {
  const tflite = node.domain === TFLITE_DOMAIN;
  const slots = tflite ? tfliteWeightSlots(node) : WEIGHT_SLOTS[node.opType];
  const elementwise = tflite ? TFLITE_ELEMENTWISE_WITH_PARAMS : ELEMENTWISE_WITH_PARAMS;
  const result: number[] = [];
  const candidates = slots ?? (elementwise.has(node.opType) ? [0, 1] : []);
  for (const i of candidates) {
    const name = node.inputs[i];
    if (!name || !isConstant(name)) continue;
    // Scalars in elementwise ops are hyper-parameters (0.5 in GELU, 1/√d in attention), not weights.
    if (!slots && elements(name) <= 1) continue;
    result.push(i);
  }
  return result;
}

/**
 * The layers compression works on when none are named (quantize, prune, sensitivity, the editor's
 * quick fixes): the linear ops whose weight axis mainWeight() knows and that carry the bulk of a
 * model's weights. Named layers may be any op mainWeight() knows. ONNX ops only: compression and
 * the ONNX Runtime sensitivity runs do not take TFLite models (yet), so no TFLite op is listed.
 */
export const WEIGHT_LAYER_OPS: ReadonlySet<string> = new Set([
  'Conv',
  'ConvTranspose',
  'Gemm',
  'MatMul',
]);

/**
 * The main weight of a layer (the one whose precision we advise on), and the axis of its output
 * channels, as per-channel quantization needs (conventions.md "Compression formats").
 */
export function mainWeight(
  node: Node,
  rank: (inputIndex: number) => number | undefined,
): { input: number; channelAxis: number } | undefined {
  if (node.domain === TFLITE_DOMAIN) return tfliteMainWeight(node, rank);
  switch (node.opType) {
    case 'Conv':
    case 'FusedConv':
    case 'NhwcConv':
      return { input: 1, channelAxis: 0 };
    case 'ConvTranspose':
      return { input: 1, channelAxis: 1 };
    case 'Gemm':
    case 'FusedGemm': {
      const transB = node.attributes.find((a) => a.name === 'transB')?.i ?? 0;
      return { input: 1, channelAxis: transB ? 0 : 1 };
    }
    case 'MatMul':
    case 'FusedMatMul': {
      const r = rank(1);
      return r !== undefined && r >= 2 ? { input: 1, channelAxis: r - 1 } : undefined;
    }
    case 'LSTM':
    case 'GRU':
    case 'RNN':
      return { input: 1, channelAxis: 1 };
    case 'Gather':
      return { input: 0, channelAxis: 0 };
    default:
      return undefined;
  }
}
