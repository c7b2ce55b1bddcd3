/**
 * Which inputs of a translated TFLite operator are its weights, and which is its main weight with
 * the axis of its output channels (cost/weights.ts asks here for domain `tflite`). Input numbers
 * and layouts are TFLite Micro's kernels' (tensorflow/lite/micro/kernels/*.cc); a slot counts
 * only when a constant feeds it, so a FULLY_CONNECTED of two activations has no weight.
 */
import type { Node } from '../onnx/types';
import { intAttr, isOpaqueOp } from './attributes';

/** Input slots holding weights or biases, per builtin. */
const TFLITE_WEIGHT_SLOTS: Readonly<Record<string, readonly number[]>> = {
  CONV_2D: [1, 2],
  DEPTHWISE_CONV_2D: [1, 2],
  CONV_3D: [1, 2],
  FULLY_CONNECTED: [1, 2],
  // (output_shape, filter, input, bias)
  TRANSPOSE_CONV: [1, 3],
  CONV_3D_TRANSPOSE: [1, 3],
  BATCH_MATMUL: [0, 1],
  // lstm_shared.h: 1–8 gate weights, 9–11 peepholes, 12–15 gate biases, 16–17 projection,
  // 20–23 layer-norm coefficients; 18–19 are the state (variable tensors), not weights.
  UNIDIRECTIONAL_SEQUENCE_LSTM: [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 21, 22, 23,
  ],
  LSTM: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 21, 22, 23],
  // (input, weights, recurrent weights, bias, hidden state)
  UNIDIRECTIONAL_SEQUENCE_RNN: [1, 2, 3],
  RNN: [1, 2, 3],
  // (input, weights_feature, weights_time, bias, activation_state)
  SVDF: [1, 2, 3],
  PRELU: [1],
  // (lookup ids, table)
  EMBEDDING_LOOKUP: [1],
  GATHER: [0],
};

/**
 * The weight slots of a tflite node. Every constant input of an opaque operator (a CUSTOM one
 * such as Vela's `ethos-u`, whose `flash` input holds the compressed weights) is a weight: what
 * it computes is unknown, but its constants are stored with the model (flash), which is what a
 * device fit needs to see.
 */
export function tfliteWeightSlots(node: Node): readonly number[] | undefined {
  if (isOpaqueOp(node)) return node.inputs.map((_, i) => i);
  return TFLITE_WEIGHT_SLOTS[node.opType];
}

/** Elementwise ops whose constant operand, when a real tensor, is a weight (a scale, a bias). */
export const TFLITE_ELEMENTWISE_WITH_PARAMS: ReadonlySet<string> = new Set([
  'ADD',
  'SUB',
  'MUL',
  'DIV',
]);

/**
 * The weight whose precision the advisor studies, and its output-channel axis: the axis TFLite
 * quantizes per channel along (`quantized_dimension`) for each kernel.
 */
export function tfliteMainWeight(
  node: Node,
  rank: (inputIndex: number) => number | undefined,
): { input: number; channelAxis: number } | undefined {
  switch (node.opType) {
    case 'CONV_2D': // [Cout, kH, kW, Cin]
    case 'FULLY_CONNECTED': // [units, depth]
    case 'TRANSPOSE_CONV': // [Cout, kH, kW, Cin]
    case 'UNIDIRECTIONAL_SEQUENCE_RNN': // [units, input]
    case 'RNN':
    case 'SVDF': // weights_feature [filters, input]
    case 'EMBEDDING_LOOKUP': // [rows, …]
      return { input: 1, channelAxis: 0 };
    case 'DEPTHWISE_CONV_2D': // [1, kH, kW, Cin·multiplier]
      return { input: 1, channelAxis: 3 };
    case 'CONV_3D': // [kD, kH, kW, Cin, Cout]
      return { input: 1, channelAxis: 4 };
    case 'CONV_3D_TRANSPOSE': // [kD, kH, kW, Cout, Cin]
      return { input: 1, channelAxis: 3 };
    case 'UNIDIRECTIONAL_SEQUENCE_LSTM': // input_to_forget_weights [cell, input]: always present
    case 'LSTM':
      return { input: 2, channelAxis: 0 };
    case 'BATCH_MATMUL': {
      // rhs [..., depth, cols], or [..., cols, depth] with adj_y.
      const r = rank(1);
      if (r === undefined || r < 2) return undefined;
      return { input: 1, channelAxis: intAttr(node, 'adj_y', 0) ? r - 2 : r - 1 };
    }
    default:
      return undefined;
  }
}
