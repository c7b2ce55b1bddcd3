/**
 * Small TFLite networks for analysis tests, layer by layer, written with the reference
 * flatbuffers Builder (tfliteBuilder.ts):
 *
 *   const n = new TfliteNetwork();
 *   const x = n.input('x', [1, 8, 8, 3]);
 *   const y = n.op(BUILTIN.CONV_2D, [x, n.floatWeight('w', [4, 3, 3, 3])], [1, 8, 8, 4], conv2d());
 *   const bytes = n.build([y]);
 *
 * Options are written field by field as schema.fbs numbers them (see the helpers below).
 */
import { seededRandom } from './modelBuilder';
import {
  buildTflite,
  type BufferSpec,
  type OperatorCodeSpec,
  type OperatorSpec,
  type OptionsSpec,
  type QuantizationSpec,
  type SparsitySpec,
  type TensorSpec,
} from './tfliteBuilder';

/** BuiltinOperator numbers (schema.fbs). */
export const BUILTIN = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  DEQUANTIZE: 6,
  FULLY_CONNECTED: 9,
  RELU: 19,
  RESHAPE: 22,
  SOFTMAX: 25,
  CUSTOM: 32,
  MAX_POOL_2D: 17,
  RELU6: 21,
  SVDF: 27,
  TANH: 28,
  UNIDIRECTIONAL_SEQUENCE_RNN: 35,
  UNIDIRECTIONAL_SEQUENCE_LSTM: 44,
  TRANSPOSE_CONV: 67,
  BATCH_MATMUL: 126,
  CONV_3D: 132,
} as const;

/** TensorType numbers (schema.fbs). */
export const TYPE = { FLOAT32: 0, FLOAT16: 1, INT32: 2, INT8: 9 } as const;

/** Padding and ActivationFunctionType numbers. */
export const SAME = 0;
export const VALID = 1;
export const RELU = 1;
export const RELU6 = 3;
export const TANH = 4;

/** Conv2DOptions (union member 1): padding 0, stride_w 1, stride_h 2, activation 3. */
export function conv2d(stride = 1, padding = SAME, activation = 0): OptionsSpec {
  return {
    type: 1,
    fields: [
      { id: 0, int8: padding },
      { id: 1, int32: stride },
      { id: 2, int32: stride },
      { id: 3, int8: activation },
    ],
  };
}

/** DepthwiseConv2DOptions (2): padding 0, stride_w 1, stride_h 2, depth_multiplier 3, act. 4. */
export function depthwise(stride = 1, multiplier = 1, padding = SAME, activation = 0): OptionsSpec {
  return {
    type: 2,
    fields: [
      { id: 0, int8: padding },
      { id: 1, int32: stride },
      { id: 2, int32: stride },
      { id: 3, int32: multiplier },
      { id: 4, int8: activation },
    ],
  };
}

/** FullyConnectedOptions (8): fused_activation_function 0, keep_num_dims 2 (when given). */
export function fullyConnected(activation = 0, keepNumDims?: boolean): OptionsSpec {
  return {
    type: 8,
    fields: [
      { id: 0, int8: activation },
      ...(keepNumDims === undefined ? [] : [{ id: 2, bool: keepNumDims }]),
    ],
  };
}

/**
 * Conv2DOptions with every field: padding 0, stride_w 1, stride_h 2, activation 3,
 * dilation_w_factor 4, dilation_h_factor 5.
 */
export function conv2dWith(o: {
  strideH?: number;
  strideW?: number;
  padding?: number;
  activation?: number;
  dilationH?: number;
  dilationW?: number;
}): OptionsSpec {
  return {
    type: 1,
    fields: [
      { id: 0, int8: o.padding ?? SAME },
      { id: 1, int32: o.strideW ?? 1 },
      { id: 2, int32: o.strideH ?? 1 },
      { id: 3, int8: o.activation ?? 0 },
      { id: 4, int32: o.dilationW ?? 1 },
      { id: 5, int32: o.dilationH ?? 1 },
    ],
  };
}

/**
 * Pool2DOptions (5): padding 0, stride_w 1, stride_h 2, filter_width 3, filter_height 4,
 * activation 5.
 */
export function pool2d(
  filterH: number,
  filterW: number,
  stride = 1,
  padding = VALID,
  activation = 0,
): OptionsSpec {
  return {
    type: 5,
    fields: [
      { id: 0, int8: padding },
      { id: 1, int32: stride },
      { id: 2, int32: stride },
      { id: 3, int32: filterW },
      { id: 4, int32: filterH },
      { id: 5, int8: activation },
    ],
  };
}

/** TransposeConvOptions (49): padding 0, stride_w 1, stride_h 2, activation 3. */
export function transposeConv(stride = 1, padding = SAME, activation = 0): OptionsSpec {
  return {
    type: 49,
    fields: [
      { id: 0, int8: padding },
      { id: 1, int32: stride },
      { id: 2, int32: stride },
      { id: 3, int8: activation },
    ],
  };
}

/** BatchMatMulOptions (101): adj_x 0, adj_y 1. */
export function batchMatMul(adjX = false, adjY = false): OptionsSpec {
  return {
    type: 101,
    fields: [
      { id: 0, bool: adjX },
      { id: 1, bool: adjY },
    ],
  };
}

/**
 * Conv3DOptions (106): padding 0, stride_d 1, stride_w 2, stride_h 3, activation 4,
 * dilation_d/w/h_factor 5–7.
 */
export function conv3d(stride = 1, padding = SAME, activation = 0): OptionsSpec {
  return {
    type: 106,
    fields: [
      { id: 0, int8: padding },
      { id: 1, int32: stride },
      { id: 2, int32: stride },
      { id: 3, int32: stride },
      { id: 4, int8: activation },
    ],
  };
}

/**
 * UnidirectionalSequenceLSTMOptions (71): activation 0, cell_clip 1, proj_clip 2, time_major 3.
 */
export function sequenceLstm(timeMajor = false, activation = TANH): OptionsSpec {
  return {
    type: 71,
    fields: [
      { id: 0, int8: activation },
      { id: 3, bool: timeMajor },
    ],
  };
}

/** SequenceRNNOptions (31): time_major 0, activation 1. */
export function sequenceRnn(timeMajor = false, activation = TANH): OptionsSpec {
  return {
    type: 31,
    fields: [
      { id: 0, bool: timeMajor },
      { id: 1, int8: activation },
    ],
  };
}

/** SVDFOptions (6): rank 0, activation 1. */
export function svdf(rank: number, activation = 0): OptionsSpec {
  return {
    type: 6,
    fields: [
      { id: 0, int32: rank },
      { id: 1, int8: activation },
    ],
  };
}

export class TfliteNetwork {
  private readonly tensors: TensorSpec[] = [];
  private readonly buffers: BufferSpec[] = [];
  private readonly operators: OperatorSpec[] = [];
  private readonly codes: OperatorCodeSpec[] = [];
  private readonly inputs: number[] = [];
  private readonly random: () => number;

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  input(name: string, shape: readonly number[], type: number = TYPE.FLOAT32): number {
    this.inputs.push(this.tensors.length);
    return this.tensor({ name, shape, type });
  }

  /** A constant with its own buffer holding `data`. */
  constant(
    name: string,
    shape: readonly number[],
    data: Uint8Array,
    type: number,
    quantization?: QuantizationSpec,
  ): number {
    this.buffers.push({ data });
    return this.tensor({ name, shape, type, buffer: this.buffers.length, quantization });
  }

  /**
   * A sparse constant (TACO, tflite/sparse.ts): `data` holds only the stored values, in the
   * order `sparsity` walks them; `shape` is the dense shape.
   */
  sparseConstant(
    name: string,
    shape: readonly number[],
    data: Uint8Array,
    type: number,
    sparsity: SparsitySpec,
    quantization?: QuantizationSpec,
  ): number {
    this.buffers.push({ data });
    return this.tensor({ name, shape, type, buffer: this.buffers.length, quantization, sparsity });
  }

  /** An int32 constant (a shape operand such as TRANSPOSE_CONV's output_shape). */
  int32Constant(name: string, values: readonly number[]): number {
    const data = new Uint8Array(Int32Array.from(values).buffer);
    return this.constant(name, [values.length], data, TYPE.INT32);
  }

  /** A variable tensor without data (RNN/LSTM/SVDF state): zero at start, kept by the runtime. */
  variable(name: string, shape: readonly number[], type: number = TYPE.FLOAT32): number {
    return this.tensor({ name, shape, type, isVariable: true });
  }

  /** float32 weights, seeded random in [-1, 1). */
  floatWeight(name: string, shape: readonly number[]): number {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: n }, () => this.random() * 2 - 1);
    return this.constant(name, shape, new Uint8Array(values.buffer), TYPE.FLOAT32);
  }

  /** Another tensor naming the buffer of constant `of` (TFLite's shared buffers). */
  sharing(name: string, of: number): number {
    const t = this.tensors[of];
    return this.tensor({ ...t, name });
  }

  /** Adds an operator writing one new tensor of `outputShape`; returns that tensor. */
  op(
    code: number | string,
    inputs: readonly number[],
    outputShape: readonly number[],
    options?: OptionsSpec,
    outputType: number = TYPE.FLOAT32,
  ): number {
    const output = this.tensor({
      name: `t${this.tensors.length}`,
      shape: outputShape,
      type: outputType,
    });
    this.operators.push({ opcodeIndex: this.opcode(code), inputs, outputs: [output], options });
    return output;
  }

  build(outputs: readonly number[]): Uint8Array {
    return buildTflite({
      description: 'model-lens test network',
      operatorCodes: this.codes,
      subgraphs: [
        {
          name: 'main',
          tensors: this.tensors,
          inputs: this.inputs,
          outputs,
          operators: this.operators,
        },
      ],
      buffers: this.buffers,
    });
  }

  private tensor(spec: TensorSpec): number {
    this.tensors.push(spec);
    return this.tensors.length - 1;
  }

  private opcode(code: number | string): number {
    const spec: OperatorCodeSpec =
      typeof code === 'string'
        ? { builtinCode: BUILTIN.CUSTOM, deprecatedBuiltinCode: BUILTIN.CUSTOM, customCode: code }
        : { builtinCode: code, deprecatedBuiltinCode: code };
    const i = this.codes.findIndex(
      (c) => c.builtinCode === spec.builtinCode && c.customCode === spec.customCode,
    );
    if (i >= 0) return i;
    this.codes.push(spec);
    return this.codes.length - 1;
  }
}

/**
 * conv 3×3 (3 → 4, ReLU) → depthwise 3×3 stride 2 → fully connected 64 → 5, float32, with a
 * SOFTMAX after when `softmax`: the small network several TFLite tests start from.
 */
export function convDepthwiseFcNetwork(seed = 1, softmax = false): Uint8Array {
  const n = new TfliteNetwork(seed);
  const x = n.input('x', [1, 8, 8, 3]);
  const c = n.op(
    BUILTIN.CONV_2D,
    [x, n.floatWeight('conv_w', [4, 3, 3, 3]), n.floatWeight('conv_b', [4])],
    [1, 8, 8, 4],
    conv2d(1, 0, RELU),
  );
  const d = n.op(
    BUILTIN.DEPTHWISE_CONV_2D,
    [c, n.floatWeight('dw_w', [1, 3, 3, 4]), n.floatWeight('dw_b', [4])],
    [1, 4, 4, 4],
    depthwise(2),
  );
  const y = n.op(
    BUILTIN.FULLY_CONNECTED,
    [d, n.floatWeight('fc_w', [5, 64]), n.floatWeight('fc_b', [5])],
    [1, 5],
    fullyConnected(),
  );
  return n.build([softmax ? n.op(BUILTIN.SOFTMAX, [y], [1, 5]) : y]);
}
