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
} as const;

/** TensorType numbers (schema.fbs). */
export const TYPE = { FLOAT32: 0, FLOAT16: 1, INT32: 2, INT8: 9 } as const;

/** Padding and ActivationFunctionType numbers. */
export const SAME = 0;
export const VALID = 1;
export const RELU = 1;

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

/** FullyConnectedOptions (8): fused_activation_function 0. */
export function fullyConnected(activation = 0): OptionsSpec {
  return { type: 8, fields: [{ id: 0, int8: activation }] };
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
