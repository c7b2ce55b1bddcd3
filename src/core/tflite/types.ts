/**
 * A TensorFlow Lite model as Model Lens reads it (tensorflow/compiler/mlir/lite/schema/schema.fbs,
 * schema version 3 up to revision 3d, file identifier `TFL3`).
 *
 * The reader validates before it returns: every tensor, buffer and operator-code index below is
 * in range (a file where one is not is rejected with a ModelLoadError), so code built on these
 * types can index without checks. Names are the schema's, in camelCase. Byte payloads
 * (buffer data, custom options, metadata) are views of the file's bytes, never copies: keep the
 * model and its file alive together. Objects are immutable after decoding. Produced by
 * `loadTfliteFile` / `parseTfliteBytes` (load.ts).
 */

/** TensorType. Numbers are the schema's; `tensorType.ts` has names and bit widths. */
export const enum TensorType {
  FLOAT32 = 0,
  FLOAT16 = 1,
  INT32 = 2,
  UINT8 = 3,
  INT64 = 4,
  STRING = 5,
  BOOL = 6,
  INT16 = 7,
  COMPLEX64 = 8,
  INT8 = 9,
  FLOAT64 = 10,
  COMPLEX128 = 11,
  UINT64 = 12,
  RESOURCE = 13,
  VARIANT = 14,
  UINT32 = 15,
  UINT16 = 16,
  INT4 = 17,
  BFLOAT16 = 18,
  INT2 = 19,
}

export interface TfliteModel {
  /** Schema version; the reader accepts 3 only, as the TFLite runtime does. */
  readonly version: number;
  readonly description: string;
  readonly operatorCodes: readonly OperatorCode[];
  /** Subgraph 0 is the main model; the others are called by IF, WHILE, CALL_ONCE, ... */
  readonly subgraphs: readonly Subgraph[];
  /** Deduplicated by index: tensors that name the same buffer share this one object. */
  readonly buffers: readonly Buffer[];
  readonly metadata: readonly Metadata[];
  readonly signatureDefs: readonly SignatureDef[];
  /** TFLM's `OfflineMemoryAllocation` metadata (written by Vela and TFLM's tooling), decoded. */
  readonly offlineMemoryAllocation?: OfflineMemoryAllocation;
  /** The `min_runtime_version` metadata string the converter writes (e.g. "1.14.0"). */
  readonly minRuntimeVersion?: string;
  /** Schema 3d: data in files beside the model. Listed only; the reader never opens them. */
  readonly externalBufferGroups: readonly string[];
  readonly externalBuffers: readonly ExternalBuffer[];
  /** The whole file; every view above points into it. */
  readonly bytes: Uint8Array;
}

/** One entry of `operator_codes`. Several entries may name the same operator. */
export interface OperatorCode {
  /** max(builtin_code, deprecated_builtin_code), as the runtime's GetBuiltinCode reads it. */
  readonly builtinCode: number;
  /** The BuiltinOperator name (`CONV_2D`), or `UNKNOWN_<n>` for a code newer than ops.ts. */
  readonly builtinName: string;
  /** Set for builtinCode 32 (CUSTOM): the custom operator's name, e.g. `ethos-u`. */
  readonly customCode?: string;
  readonly version: number;
}

export interface Subgraph {
  readonly index: number;
  readonly name: string;
  readonly tensors: readonly Tensor[];
  /** Tensor indices. */
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  /** In execution order. */
  readonly operators: readonly Operator[];
}

export interface Tensor {
  /** Index in its subgraph's `tensors`. */
  readonly index: number;
  readonly name: string;
  readonly type: TensorType;
  /** Dims; for a scalar []. With `hasRank` false and [] the rank is unknown. */
  readonly shape: readonly number[];
  /** `shape` with -1 for dims unknown at conversion time; absent when the file has none. */
  readonly shapeSignature?: readonly number[];
  readonly hasRank: boolean;
  readonly bufferIndex: number;
  /** `buffers[bufferIndex]`. A constant tensor's buffer has data; a run-time tensor's is empty. */
  readonly buffer: Buffer;
  /** Absent for a float tensor (converters write an empty table there, read as absent). */
  readonly quantization?: Quantization;
  /** A state tensor (RNN/SVDF/LSTM) the runtime keeps across invocations. */
  readonly isVariable: boolean;
  readonly sparsity?: Sparsity;
  /** Schema 3d: id of an `ExternalBuffer` holding the data (0 = none). */
  readonly externalBufferId: number;
}

export interface Buffer {
  readonly index: number;
  /** The payload as a view of the file (empty when the buffer has none). */
  readonly data: Uint8Array;
  /** Byte offset of `data` in the file. */
  readonly fileOffset: number;
  /**
   * True when the data sits outside the flatbuffer, found by the Buffer's `offset`/`size`
   * fields (models over 2 GB and ai-edge-quantizer's output); false for the inline `data` vector.
   */
  readonly outsideFlatbuffer: boolean;
}

/** f = scale * (q - zero_point); per-tensor (one entry) or per-axis along `quantizedDimension`. */
export interface Quantization {
  readonly scale: readonly number[];
  readonly zeroPoint: readonly number[];
  readonly min: readonly number[];
  readonly max: readonly number[];
  readonly quantizedDimension: number;
  /** When set, the schema says it replaces the four arrays above. */
  readonly details?: QuantizationDetails;
}

export type QuantizationDetails =
  | { readonly kind: 'custom'; readonly custom: Uint8Array }
  /** Tensor indices (in the same subgraph) of the scales and zero points; -1 = zero points 0. */
  | {
      readonly kind: 'blockwise';
      readonly scalesTensor: number;
      readonly zeroPointsTensor: number;
      readonly blockSize: number;
    }
  | { readonly kind: 'unknown'; readonly unionType: number };

/** TACO-style sparsity (schema's SparsityParameters). */
export interface Sparsity {
  readonly traversalOrder: readonly number[];
  readonly blockMap: readonly number[];
  readonly dimMetadata: readonly DimensionMetadata[];
}

export interface DimensionMetadata {
  readonly format: 'DENSE' | 'SPARSE_CSR' | `UNKNOWN_${number}`;
  readonly denseSize: number;
  /** CSR row pointers and column indices of a sparse dimension. */
  readonly arraySegments?: readonly number[];
  readonly arrayIndices?: readonly number[];
}

export interface Operator {
  /** Index in its subgraph's `operators` (= execution order). */
  readonly index: number;
  readonly opcodeIndex: number;
  /** `operatorCodes[opcodeIndex]`. */
  readonly opcode: OperatorCode;
  /**
   * Tensor indices; -1 marks an omitted optional input. As in the runtime, -1 may also appear in
   * `outputs` and `intermediates`; subgraph inputs and outputs never hold -1.
   */
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  /** Tensors internal to the op (LSTM gate scratch), needed for their quantization. */
  readonly intermediates: readonly number[];
  /** Same length as `inputs`, or empty: which inputs the op writes (variable tensors). */
  readonly mutatingVariableInputs: readonly boolean[];
  readonly builtinOptions?: BuiltinOptions;
  /** CUSTOM operators' options (usually FlexBuffers), a view of the file. */
  readonly customOptions?: Uint8Array;
}

export type Padding = 'SAME' | 'VALID' | `UNKNOWN_${number}`;
export type FusedActivation =
  'NONE' | 'RELU' | 'RELU_N1_TO_1' | 'RELU6' | 'TANH' | 'SIGN_BIT' | `UNKNOWN_${number}`;

/**
 * The options the analysis reads, decoded; any other options table is kept as `other`, a
 * reference to its table in the file for a later reader. Absent fields take the schema default.
 */
export type BuiltinOptions =
  | Conv2DOptions
  | DepthwiseConv2DOptions
  | Conv3DOptions
  | Pool2DOptions
  | FullyConnectedOptions
  | TransposeConvOptions
  | BatchMatMulOptions
  | SvdfOptions
  | SequenceRnnOptions
  | UnidirectionalSequenceLstmOptions
  | ReshapeOptions
  | SoftmaxOptions
  | ConcatenationOptions
  | ActivationOnlyOptions
  | OtherOptions;

export interface Conv2DOptions {
  readonly kind: 'Conv2DOptions';
  readonly padding: Padding;
  readonly strideW: number;
  readonly strideH: number;
  readonly dilationW: number;
  readonly dilationH: number;
  readonly fusedActivation: FusedActivation;
}

export interface DepthwiseConv2DOptions {
  readonly kind: 'DepthwiseConv2DOptions';
  readonly padding: Padding;
  readonly strideW: number;
  readonly strideH: number;
  readonly dilationW: number;
  readonly dilationH: number;
  readonly depthMultiplier: number;
  readonly fusedActivation: FusedActivation;
}

/** CONV_3D and CONV_3D_TRANSPOSE. */
export interface Conv3DOptions {
  readonly kind: 'Conv3DOptions';
  readonly padding: Padding;
  readonly strideD: number;
  readonly strideW: number;
  readonly strideH: number;
  readonly dilationD: number;
  readonly dilationW: number;
  readonly dilationH: number;
  readonly fusedActivation: FusedActivation;
}

/** AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D. */
export interface Pool2DOptions {
  readonly kind: 'Pool2DOptions';
  readonly padding: Padding;
  readonly strideW: number;
  readonly strideH: number;
  readonly filterWidth: number;
  readonly filterHeight: number;
  readonly fusedActivation: FusedActivation;
}

export interface FullyConnectedOptions {
  readonly kind: 'FullyConnectedOptions';
  readonly fusedActivation: FusedActivation;
  readonly weightsFormat: 'DEFAULT' | 'SHUFFLED4x16INT8' | `UNKNOWN_${number}`;
  readonly keepNumDims: boolean;
}

export interface TransposeConvOptions {
  readonly kind: 'TransposeConvOptions';
  readonly padding: Padding;
  readonly strideW: number;
  readonly strideH: number;
  readonly fusedActivation: FusedActivation;
}

export interface BatchMatMulOptions {
  readonly kind: 'BatchMatMulOptions';
  readonly adjX: boolean;
  readonly adjY: boolean;
}

export interface SvdfOptions {
  readonly kind: 'SVDFOptions';
  readonly rank: number;
  readonly fusedActivation: FusedActivation;
}

/** UNIDIRECTIONAL_SEQUENCE_RNN (SequenceRNNOptions). */
export interface SequenceRnnOptions {
  readonly kind: 'SequenceRNNOptions';
  readonly timeMajor: boolean;
  readonly fusedActivation: FusedActivation;
}

export interface UnidirectionalSequenceLstmOptions {
  readonly kind: 'UnidirectionalSequenceLSTMOptions';
  readonly timeMajor: boolean;
  readonly fusedActivation: FusedActivation;
  readonly cellClip: number;
  readonly projClip: number;
}

export interface ReshapeOptions {
  readonly kind: 'ReshapeOptions';
  /** Absent when the target shape comes from the second input instead. */
  readonly newShape?: readonly number[];
}

export interface SoftmaxOptions {
  readonly kind: 'SoftmaxOptions';
  readonly beta: number;
}

export interface ConcatenationOptions {
  readonly kind: 'ConcatenationOptions';
  readonly axis: number;
  readonly fusedActivation: FusedActivation;
}

/** ADD, SUB, MUL, DIV: only a fused activation. */
export interface ActivationOnlyOptions {
  readonly kind: 'AddOptions' | 'SubOptions' | 'MulOptions' | 'DivOptions';
  readonly fusedActivation: FusedActivation;
}

/** An options table not decoded yet: which union member it is, and where its table starts. */
export interface OtherOptions {
  readonly kind: 'other';
  /** The union member's name (`GatherOptions`), or `UNKNOWN_<n>`. */
  readonly name: string;
  /** 1 for `builtin_options`, 2 for `builtin_options_2` (the StableHLO options). */
  readonly union: 1 | 2;
  readonly unionType: number;
  /** Byte offset of the options table in `TfliteModel.bytes` (readable with flatbuffer.ts). */
  readonly tableOffset: number;
}

export interface Metadata {
  readonly name: string;
  readonly bufferIndex: number;
  /** `buffers[bufferIndex].data`. */
  readonly data: Uint8Array;
}

/**
 * TFLM's offline memory plan, as micro_allocator.cc reads it: int32 words
 * [version, subgraph, tensor count, offset per tensor...]; an offset of -1 leaves that tensor
 * to the online planner; the others are byte offsets in the non-persistent arena. TFLM itself
 * reads only the count (checked against the subgraph's tensor count) and the offsets; Vela writes
 * [0, 1, n, ...]. The reader checks that the words hold `tensorCount` offsets and nothing more.
 */
export interface OfflineMemoryAllocation {
  readonly version: number;
  readonly subgraph: number;
  readonly tensorCount: number;
  readonly offsets: readonly number[];
}

export interface SignatureDef {
  readonly key: string;
  readonly subgraphIndex: number;
  readonly inputs: readonly TensorMap[];
  readonly outputs: readonly TensorMap[];
}

export interface TensorMap {
  readonly name: string;
  readonly tensorIndex: number;
}

/** Schema 3d: a slice of a file beside the model. */
export interface ExternalBuffer {
  readonly id: number;
  /** Index in `externalBufferGroups` (the file). */
  readonly group: number;
  readonly offset: number;
  readonly length: number;
  readonly packing: string;
}
