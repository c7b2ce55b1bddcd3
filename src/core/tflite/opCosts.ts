/**
 * MACs and FLOPs of translated TFLite operators (domain `tflite`), by the conventions every ONNX
 * op is counted with (conventions.md "Compute", cost/opCosts.ts): the same formulas, read from
 * TFLite's tensor layouts. Each layout is the one TFLite Micro's reference kernel indexes
 * (tensorflow/lite/kernels/internal/reference/*.h, called by tensorflow/lite/micro/kernels/*.cc).
 * Non-linear ops are costed by mapping their name onto the ONNX op whose per-element FLOPs
 * cost/opCosts.ts's one table states, so there is no second table of constants.
 */
import { elementCount } from '../onnx/tensorData';
import type { Node } from '../onnx/types';
import type { CostShapes, NodeCompute } from '../cost/opCosts';
import { intAttr, isOpaqueOp, stringAttr } from './attributes';

/** TFLite builtin → the ONNX op (or ops, in sequence) costed the same per output element. */
const ONNX_EQUIVALENT: Readonly<Record<string, string | readonly string[]>> = {
  ADD: 'Add',
  ADD_N: 'Sum',
  SUB: 'Sub',
  MUL: 'Mul',
  DIV: 'Div',
  FLOOR_DIV: 'Div',
  FLOOR_MOD: 'Mod',
  POW: 'Pow',
  SQUARE: 'Mul',
  SQUARED_DIFFERENCE: ['Sub', 'Mul'],
  MAXIMUM: 'Max',
  MINIMUM: 'Min',
  ABS: 'Abs',
  NEG: 'Neg',
  SIGN: 'Sign',
  EXP: 'Exp',
  LOG: 'Log',
  SQRT: 'Sqrt',
  RSQRT: ['Sqrt', 'Reciprocal'],
  FLOOR: 'Floor',
  CEIL: 'Ceil',
  ROUND: 'Round',
  SIN: 'Sin',
  COS: 'Cos',
  EQUAL: 'Equal',
  NOT_EQUAL: 'Equal',
  GREATER: 'Greater',
  GREATER_EQUAL: 'GreaterOrEqual',
  LESS: 'Less',
  LESS_EQUAL: 'LessOrEqual',
  LOGICAL_AND: 'And',
  LOGICAL_OR: 'Or',
  LOGICAL_NOT: 'Not',
  SELECT: 'Where',
  SELECT_V2: 'Where',
  RELU: 'Relu',
  RELU6: 'Clip',
  RELU_N1_TO_1: 'Clip',
  RELU_0_TO_1: 'Clip',
  LEAKY_RELU: 'LeakyRelu',
  PRELU: 'PRelu',
  ELU: 'Elu',
  GELU: 'Gelu',
  LOGISTIC: 'Sigmoid',
  TANH: 'Tanh',
  HARD_SWISH: 'HardSwish',
  SOFTMAX: 'Softmax',
  LOG_SOFTMAX: 'LogSoftmax',
  L2_NORMALIZATION: 'LpNormalization',
  LOCAL_RESPONSE_NORMALIZATION: 'LRN',
  QUANTIZE: 'QuantizeLinear',
  DEQUANTIZE: 'DequantizeLinear',
};

/** A fused activation's ONNX equivalent: ReLU6 and ReLU-N1-to-1 are clips (TFLM activation_utils). */
const FUSED_ACTIVATION: Readonly<Record<string, string>> = {
  RELU: 'Relu',
  RELU6: 'Clip',
  RELU_N1_TO_1: 'Clip',
  TANH: 'Tanh',
  SIGN_BIT: 'Sign',
};

const WINDOW_POOLS = new Set(['AVERAGE_POOL_2D', 'MAX_POOL_2D', 'L2_POOL_2D']);
const RECURRENT = new Set([
  'UNIDIRECTIONAL_SEQUENCE_LSTM',
  'LSTM',
  'UNIDIRECTIONAL_SEQUENCE_RNN',
  'RNN',
]);
const REDUCTIONS = new Set([
  'MEAN',
  'SUM',
  'REDUCE_MAX',
  'REDUCE_MIN',
  'REDUCE_PROD',
  'REDUCE_ANY',
  'REDUCE_ALL',
  'ARG_MAX',
  'ARG_MIN',
]);

const NONE: NodeCompute = { macs: 0, elementwiseFlops: 0, biasFlops: 0 };

function size(shape: readonly number[] | undefined): number {
  return shape ? elementCount(shape) : 0;
}

/**
 * MACs and FLOP components of a tflite node, given its concrete input and output shapes and the
 * per-element FLOPs of ONNX ops (cost/opCosts.ts FLOPS_PER_ELEMENT, passed in to keep one table).
 * An opaque op (custom, unknown, calling a subgraph) has `unknown` set: its 0s are no count.
 */
export function tfliteCompute(
  node: Node,
  shapes: CostShapes,
  flopsPerElement: Readonly<Record<string, number>>,
): NodeCompute {
  if (isOpaqueOp(node)) {
    return { ...NONE, unknown: `${node.opType}: what this operator computes is not known` };
  }
  const linear = linearCompute(node, shapes);
  if (linear.unknown) return linear;
  const outElems = size(shapes.outputs[0]);
  let elementwise = linear.elementwiseFlops;
  for (const op of [ONNX_EQUIVALENT[node.opType] ?? []].flat()) {
    elementwise += (flopsPerElement[op] ?? 0) * outElems;
  }
  // A recurrent cell's fused activation is its own (the cell and hidden tanh), already among the
  // 4 FLOPs per gate unit and step that lstmCompute/rnnCompute count, as the ONNX LSTM/RNN do.
  const activation = RECURRENT.has(node.opType)
    ? undefined
    : FUSED_ACTIVATION[stringAttr(node, 'fused_activation_function', 'NONE')];
  if (activation) elementwise += (flopsPerElement[activation] ?? 0) * outElems;
  return { ...linear, elementwiseFlops: elementwise };
}

/**
 * Unknown MACs, and why: the shapes do not fit the kernel's layout (a missing input, a filter of
 * another rank, a window of no size). TFLM would refuse such an operator; a count read from the
 * wrong dims would be garbage, and 0 would claim it costs nothing.
 */
function malformed(node: Node, why: string): NodeCompute {
  return { ...NONE, unknown: `${node.opType}: ${why}, so its MACs are unknown` };
}

/** Why `shape` is not a `rank`-D `what` (laid out as `layout`), or undefined when it is. */
function notRank(
  shape: readonly number[] | undefined,
  rank: number | ((r: number) => boolean),
  what: string,
  layout: string,
): string | undefined {
  if (!shape) return `its ${what} (${layout}) is missing or of unknown rank`;
  const fits = typeof rank === 'number' ? shape.length === rank : rank(shape.length);
  return fits ? undefined : `its ${what} has rank ${shape.length}, not ${layout}`;
}

function linearCompute(node: Node, shapes: CostShapes): NodeCompute {
  const { inputs, outputs } = shapes;
  const outElems = size(outputs[0]);
  const biasFlops = (i: number): number => (inputs[i] ? outElems : 0);
  const check = (...problems: (string | undefined)[]): string | undefined =>
    problems.find((p) => p !== undefined) ??
    (outputs[0] ? undefined : 'its output is of unknown rank');
  switch (node.opType) {
    case 'CONV_2D': {
      // reference/conv.h: filter [Cout, kH, kW, Cin/groups] (OHWI); each output accumulates
      // kH·kW·Cin/groups products. The same outputElements × (Cin/groups) × kH × kW as ONNX Conv.
      const w = inputs[1];
      const problem = check(notRank(w, 4, 'filter', '[Cout, kH, kW, Cin]'));
      if (problem || !w) return malformed(node, problem ?? '');
      const depth = elementCount(w.slice(1));
      return {
        macs: outElems * depth,
        elementwiseFlops: 0,
        biasFlops: biasFlops(2),
        accumulationDepth: depth,
      };
    }
    case 'DEPTHWISE_CONV_2D': {
      // reference/depthwiseconv_*.h: filter [1, kH, kW, Cin·depth_multiplier]; each output
      // channel reads one input channel, so kH·kW products per output (groups = Cin).
      const w = inputs[1];
      const problem = check(notRank(w, 4, 'filter', '[1, kH, kW, Cin·M]'));
      if (problem || !w) return malformed(node, problem ?? '');
      const depth = w[1] * w[2];
      return {
        macs: outElems * depth,
        elementwiseFlops: 0,
        biasFlops: biasFlops(2),
        accumulationDepth: depth,
      };
    }
    case 'CONV_3D': {
      // reference/conv3d.h: filter [kD, kH, kW, Cin, Cout] (DHWIO).
      const w = inputs[1];
      const problem = check(notRank(w, 5, 'filter', '[kD, kH, kW, Cin, Cout]'));
      if (problem || !w) return malformed(node, problem ?? '');
      const depth = elementCount(w.slice(0, 4));
      return {
        macs: outElems * depth,
        elementwiseFlops: 0,
        biasFlops: biasFlops(2),
        accumulationDepth: depth,
      };
    }
    case 'FULLY_CONNECTED': {
      // reference/fully_connected.h: weights [units, depth]; batches = outputs / units, each
      // output a dot product of length depth: M × N × K as ONNX Gemm.
      const w = inputs[1];
      const problem = check(notRank(w, 2, 'weights', '[units, depth]'));
      if (problem || !w) return malformed(node, problem ?? '');
      const depth = w[1];
      return {
        macs: outElems * depth,
        elementwiseFlops: 0,
        biasFlops: biasFlops(2),
        accumulationDepth: depth,
      };
    }
    case 'BATCH_MATMUL': {
      // reference/batch_matmul.h: lhs [..., rows, depth], or [..., depth, rows] with adj_x.
      const a = inputs[0];
      const problem = check(notRank(a, (r) => r >= 2, 'lhs', '[..., rows, depth]'));
      if (problem || !a) return malformed(node, problem ?? '');
      const depth = a[a.length - (intAttr(node, 'adj_x', 0) ? 2 : 1)];
      return {
        macs: outElems * depth,
        elementwiseFlops: 0,
        biasFlops: 0,
        accumulationDepth: depth,
      };
    }
    case 'TRANSPOSE_CONV': {
      // reference/transpose_conv.h: inputs (output_shape, filter, input, bias), filter
      // [Cout, kH, kW, Cin]; every input element is scattered into kH·kW·Cout outputs:
      // inputElements × Cout × kH × kW, as ONNX ConvTranspose.
      const w = inputs[1];
      const problem = check(
        notRank(w, 4, 'filter', '[Cout, kH, kW, Cin]'),
        inputs[2] ? undefined : 'its input (the third) is missing or of unknown rank',
      );
      if (problem || !w) return malformed(node, problem ?? '');
      return {
        macs: size(inputs[2]) * w[0] * w[1] * w[2],
        elementwiseFlops: 0,
        biasFlops: biasFlops(3),
        accumulationDepth: w[1] * w[2] * w[3],
      };
    }
    case 'CONV_3D_TRANSPOSE': {
      // reference/conv3d_transpose.h: inputs (output_shape, filter, input, bias), filter
      // [kD, kH, kW, Cout, Cin].
      const w = inputs[1];
      const problem = check(
        notRank(w, 5, 'filter', '[kD, kH, kW, Cout, Cin]'),
        inputs[2] ? undefined : 'its input (the third) is missing or of unknown rank',
      );
      if (problem || !w) return malformed(node, problem ?? '');
      const perInput = elementCount(w.slice(0, 4));
      return { macs: size(inputs[2]) * perInput, elementwiseFlops: 0, biasFlops: biasFlops(3) };
    }
    case 'UNIDIRECTIONAL_SEQUENCE_LSTM':
    case 'LSTM':
      return lstmCompute(node, shapes);
    case 'UNIDIRECTIONAL_SEQUENCE_RNN':
    case 'RNN':
      return rnnCompute(node, shapes);
    case 'SVDF':
      return svdfCompute(node, shapes);
  }
  if (WINDOW_POOLS.has(node.opType)) {
    const kh = intAttr(node, 'filter_height', 1);
    const kw = intAttr(node, 'filter_width', 1);
    if (kh < 1 || kw < 1) return malformed(node, `its window ${kh}×${kw} is empty`);
    return { ...NONE, elementwiseFlops: outElems * kh * kw };
  }
  if (REDUCTIONS.has(node.opType)) return { ...NONE, elementwiseFlops: size(inputs[0]) };
  return NONE;
}

/** Sequence length and batch of a [time, batch, …] or [batch, time, …] input (time_major). */
function sequence(node: Node, x: readonly number[]): { steps: number; batch: number } {
  if (node.opType === 'LSTM' || node.opType === 'RNN') return { steps: 1, batch: x[0] };
  return intAttr(node, 'time_major', 0)
    ? { steps: x[0], batch: x[1] }
    : { steps: x[1], batch: x[0] };
}

/**
 * TFLM lstm_eval.cc, inputs as lstm_shared.h numbers them: 1–4 input-to-gate weights [cell,
 * input] (the input gate's absent with CIFG), 5–8 recurrent-to-gate weights [cell, output],
 * 16 an optional projection [output, cell]. Per step and batch row: gates × cell × (input +
 * output) + output × cell; times the sequence length (conventions.md "Recurrent ops"). Gate
 * non-linearities and the cell update count as the ONNX LSTM's do: 4 per gate unit per step.
 */
function lstmCompute(node: Node, { inputs }: CostShapes): NodeCompute {
  const x = inputs[0];
  const forget = inputs[2];
  const recurrent = inputs[6];
  const problem =
    notRank(x, (r) => r >= 2, 'input', '[time, batch, …] or [batch, time, …]') ??
    notRank(forget, 2, 'input_to_forget_weights', '[cell, input]') ??
    notRank(recurrent, 2, 'recurrent_to_forget_weights', '[cell, output]');
  if (problem || !x || !forget || !recurrent) return malformed(node, problem ?? '');
  const { steps, batch } = sequence(node, x);
  const gates = [1, 2, 3, 4].filter((i) => inputs[i]).length;
  const [cell, input] = forget;
  const output = recurrent[1];
  const projection = inputs[16] ? size(inputs[16]) : 0;
  const perStep = gates * cell * (input + output) + projection;
  return {
    macs: perStep * steps * batch,
    elementwiseFlops: gates * 4 * cell * steps * batch,
    biasFlops: 0,
    accumulationDepth: input + output,
  };
}

/**
 * TFLM unidirectional_sequence_rnn / basic_rnn: weights [units, input], recurrent weights
 * [units, units]; units × (input + units) per step and batch row, as a one-gate ONNX RNN.
 */
function rnnCompute(node: Node, { inputs }: CostShapes): NodeCompute {
  const x = inputs[0];
  const w = inputs[1];
  const problem =
    notRank(x, (r) => r >= 2, 'input', '[time, batch, …] or [batch, time, …]') ??
    notRank(w, 2, 'weights', '[units, input]');
  if (problem || !x || !w) return malformed(node, problem ?? '');
  const { steps, batch } = sequence(node, x);
  const [units, input] = w;
  return {
    macs: units * (input + units) * steps * batch,
    elementwiseFlops: 4 * units * steps * batch,
    biasFlops: 0,
    accumulationDepth: input + units,
  };
}

/**
 * TFLM svdf_common.cc: input [batch, input], weights_feature [filters, input], weights_time
 * [filters, memory], state [batch, memory·filters], filters = units × rank. Per batch row each
 * filter takes a dot product with the input (the feature matmul) and one with its memory
 * (the time matmul); the rank filters of a unit are then summed and the bias added.
 */
function svdfCompute(node: Node, { inputs, outputs }: CostShapes): NodeCompute {
  const x = inputs[0];
  const feature = inputs[1];
  const time = inputs[2];
  const problem =
    notRank(x, 2, 'input', '[batch, input]') ??
    notRank(feature, 2, 'weights_feature', '[filters, input]') ??
    notRank(time, 2, 'weights_time', '[filters, memory]');
  if (problem || !x || !feature || !time) return malformed(node, problem ?? '');
  const batch = x[0];
  const filters = feature[0];
  const macs = batch * filters * (feature[1] + time[1]);
  return {
    macs,
    // The sum over rank: one add per filter.
    elementwiseFlops: batch * filters,
    biasFlops: inputs[3] ? size(outputs[0]) : 0,
    accumulationDepth: feature[1],
  };
}
