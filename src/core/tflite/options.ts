/**
 * Decodes an operator's builtin options: the tables the analysis needs become typed objects
 * (types.ts), every other table stays a reference to its bytes. Defaults are schema.fbs's.
 */
import type { FieldsOf, Table } from './flatbuffer';
import { builtinOptionsName } from './ops';
import {
  ActivationOptionsTable,
  BatchMatMulOptionsTable,
  ConcatenationOptionsTable,
  Conv2DOptionsTable,
  Conv3DOptionsTable,
  DepthwiseConv2DOptionsTable,
  FullyConnectedOptionsTable,
  OpaqueTable,
  OperatorTable,
  Pool2DOptionsTable,
  ReshapeOptionsTable,
  SequenceRnnOptionsTable,
  SoftmaxOptionsTable,
  SvdfOptionsTable,
  TransposeConvOptionsTable,
  UnidirectionalSequenceLstmOptionsTable,
} from './schema';
import type {
  ActivationOnlyOptions,
  BuiltinOptions,
  FullyConnectedOptions,
  FusedActivation,
  Padding,
} from './types';

type OperatorFields = FieldsOf<typeof OperatorTable>;

const PADDINGS = ['SAME', 'VALID'] as const;
const ACTIVATIONS = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'] as const;
const WEIGHTS_FORMATS = ['DEFAULT', 'SHUFFLED4x16INT8'] as const;

function enumName<T extends string>(names: readonly T[], value: number): T | `UNKNOWN_${number}` {
  return names[value] ?? `UNKNOWN_${value}`;
}

const padding = (value: number): Padding => enumName(PADDINGS, value);
const activation = (value: number): FusedActivation => enumName(ACTIVATIONS, value);

/** The operator's options from `builtin_options` or else `builtin_options_2`, if it has any. */
export function decodeBuiltinOptions(op: Table<OperatorFields>): BuiltinOptions | undefined {
  const type1 = op.uint8('builtin_options_type');
  if (type1 !== 0 && op.has('builtin_options')) {
    const table = op.table('builtin_options', OpaqueTable);
    if (table) return decodeOptions1(type1, table.pos, op);
  }
  const type2 = op.uint8('builtin_options_2_type');
  if (type2 !== 0 && op.has('builtin_options_2')) {
    const table = op.table('builtin_options_2', OpaqueTable);
    if (table) return other(2, type2, table.pos);
  }
  return undefined;
}

function other(union: 1 | 2, unionType: number, tableOffset: number): BuiltinOptions {
  return {
    kind: 'other',
    name: builtinOptionsName(union, unionType),
    union,
    unionType,
    tableOffset,
  };
}

/** Union member numbers of `BuiltinOptions` (see ops.ts) that are decoded here. */
const enum Member {
  Conv2D = 1,
  DepthwiseConv2D = 2,
  Pool2D = 5,
  SVDF = 6,
  FullyConnected = 8,
  Softmax = 9,
  Concatenation = 10,
  Add = 11,
  Reshape = 17,
  Mul = 21,
  Sub = 28,
  Div = 29,
  SequenceRNN = 31,
  TransposeConv = 49,
  UnidirectionalSequenceLSTM = 71,
  BatchMatMul = 101,
  Conv3D = 106,
}

const ARITHMETIC_KINDS = new Map<number, ActivationOnlyOptions['kind']>([
  [Member.Add, 'AddOptions'],
  [Member.Sub, 'SubOptions'],
  [Member.Mul, 'MulOptions'],
  [Member.Div, 'DivOptions'],
]);

function decodeOptions1(unionType: number, pos: number, op: Table<OperatorFields>): BuiltinOptions {
  const fb = op.fb;
  const arithmetic = ARITHMETIC_KINDS.get(unionType);
  if (arithmetic) {
    const t = fb.table(pos, ActivationOptionsTable);
    return { kind: arithmetic, fusedActivation: activation(t.int8('fused_activation_function')) };
  }
  switch (unionType) {
    case Member.Conv2D: {
      const t = fb.table(pos, Conv2DOptionsTable);
      return {
        kind: 'Conv2DOptions',
        padding: padding(t.int8('padding')),
        strideW: t.int32('stride_w'),
        strideH: t.int32('stride_h'),
        dilationW: t.int32('dilation_w_factor', 1),
        dilationH: t.int32('dilation_h_factor', 1),
        fusedActivation: activation(t.int8('fused_activation_function')),
      };
    }
    case Member.DepthwiseConv2D: {
      const t = fb.table(pos, DepthwiseConv2DOptionsTable);
      return {
        kind: 'DepthwiseConv2DOptions',
        padding: padding(t.int8('padding')),
        strideW: t.int32('stride_w'),
        strideH: t.int32('stride_h'),
        dilationW: t.int32('dilation_w_factor', 1),
        dilationH: t.int32('dilation_h_factor', 1),
        depthMultiplier: t.int32('depth_multiplier'),
        fusedActivation: activation(t.int8('fused_activation_function')),
      };
    }
    case Member.Conv3D: {
      const t = fb.table(pos, Conv3DOptionsTable);
      return {
        kind: 'Conv3DOptions',
        padding: padding(t.int8('padding')),
        strideD: t.int32('stride_d'),
        strideW: t.int32('stride_w'),
        strideH: t.int32('stride_h'),
        dilationD: t.int32('dilation_d_factor', 1),
        dilationW: t.int32('dilation_w_factor', 1),
        dilationH: t.int32('dilation_h_factor', 1),
        fusedActivation: activation(t.int8('fused_activation_function')),
      };
    }
    case Member.Pool2D: {
      const t = fb.table(pos, Pool2DOptionsTable);
      return {
        kind: 'Pool2DOptions',
        padding: padding(t.int8('padding')),
        strideW: t.int32('stride_w'),
        strideH: t.int32('stride_h'),
        filterWidth: t.int32('filter_width'),
        filterHeight: t.int32('filter_height'),
        fusedActivation: activation(t.int8('fused_activation_function')),
      };
    }
    case Member.FullyConnected: {
      const t = fb.table(pos, FullyConnectedOptionsTable);
      const weightsFormat: FullyConnectedOptions['weightsFormat'] = enumName(
        WEIGHTS_FORMATS,
        t.int8('weights_format'),
      );
      return {
        kind: 'FullyConnectedOptions',
        fusedActivation: activation(t.int8('fused_activation_function')),
        weightsFormat,
        keepNumDims: t.bool('keep_num_dims'),
      };
    }
    case Member.TransposeConv: {
      const t = fb.table(pos, TransposeConvOptionsTable);
      return {
        kind: 'TransposeConvOptions',
        padding: padding(t.int8('padding')),
        strideW: t.int32('stride_w'),
        strideH: t.int32('stride_h'),
        fusedActivation: activation(t.int8('fused_activation_function')),
      };
    }
    case Member.BatchMatMul: {
      const t = fb.table(pos, BatchMatMulOptionsTable);
      return { kind: 'BatchMatMulOptions', adjX: t.bool('adj_x'), adjY: t.bool('adj_y') };
    }
    case Member.SVDF: {
      const t = fb.table(pos, SvdfOptionsTable);
      return {
        kind: 'SVDFOptions',
        rank: t.int32('rank'),
        fusedActivation: activation(t.int8('fused_activation_function')),
      };
    }
    case Member.SequenceRNN: {
      const t = fb.table(pos, SequenceRnnOptionsTable);
      return {
        kind: 'SequenceRNNOptions',
        timeMajor: t.bool('time_major'),
        fusedActivation: activation(t.int8('fused_activation_function')),
      };
    }
    case Member.UnidirectionalSequenceLSTM: {
      const t = fb.table(pos, UnidirectionalSequenceLstmOptionsTable);
      return {
        kind: 'UnidirectionalSequenceLSTMOptions',
        timeMajor: t.bool('time_major'),
        fusedActivation: activation(t.int8('fused_activation_function')),
        cellClip: t.float32('cell_clip'),
        projClip: t.float32('proj_clip'),
      };
    }
    case Member.Reshape: {
      const t = fb.table(pos, ReshapeOptionsTable);
      const newShape = t.int32Vector('new_shape');
      return newShape ? { kind: 'ReshapeOptions', newShape } : { kind: 'ReshapeOptions' };
    }
    case Member.Softmax: {
      const t = fb.table(pos, SoftmaxOptionsTable);
      return { kind: 'SoftmaxOptions', beta: t.float32('beta') };
    }
    case Member.Concatenation: {
      const t = fb.table(pos, ConcatenationOptionsTable);
      return {
        kind: 'ConcatenationOptions',
        axis: t.int32('axis'),
        fusedActivation: activation(t.int8('fused_activation_function')),
      };
    }
    default:
      return other(1, unionType, pos);
  }
}
