/**
 * Decodes TFLite flatbuffer bytes into the model of types.ts, and checks what the TFLite runtime
 * checks before it runs a model (interpreter_builder.cc): schema version 3, every tensor, buffer
 * and operator-code index in range, buffers stored outside the flatbuffer inside the file.
 * Payloads stay views of the input bytes.
 */
import { FlatBuffer, FlatBufferError, type FieldsOf, type Table } from './flatbuffer';
import { CUSTOM_OPERATOR_CODE, builtinOperatorName } from './ops';
import { decodeBuiltinOptions } from './options';
import {
  BlockwiseQuantizationTable,
  BufferTable,
  CustomQuantizationTable,
  DimensionMetadataTable,
  ExternalBufferGroupTable,
  ExternalBufferTable,
  IndexVectorTable,
  MetadataTable,
  ModelTable,
  OperatorCodeTable,
  OperatorTable,
  QuantizationDetailsType,
  QuantizationTable,
  SignatureDefTable,
  SparseIndexVectorType,
  SparsityTable,
  SubGraphTable,
  TensorMapTable,
  TensorTable,
} from './schema';
import type {
  Buffer,
  DimensionMetadata,
  ExternalBuffer,
  Metadata,
  OfflineMemoryAllocation,
  Operator,
  OperatorCode,
  Quantization,
  QuantizationDetails,
  SignatureDef,
  Sparsity,
  Subgraph,
  Tensor,
  TensorMap,
  TensorType,
  TfliteModel,
} from './types';

/** A well-formed flatbuffer that is not a valid TFLite model (an index out of range, ...). */
export class TfliteFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TfliteFormatError';
  }
}

export const TFLITE_FILE_IDENTIFIER = 'TFL3';
const SCHEMA_VERSION = 3;

/** True when the bytes carry TFLite's file identifier (how a .tflite file is recognised). */
export function hasTfliteIdentifier(bytes: Uint8Array): boolean {
  return new FlatBuffer(bytes).identifier() === TFLITE_FILE_IDENTIFIER;
}

export function decodeTflite(bytes: Uint8Array): TfliteModel {
  if (bytes.length === 0) throw new FlatBufferError('the file is empty');
  const fb = new FlatBuffer(bytes);
  if (fb.identifier() !== TFLITE_FILE_IDENTIFIER) {
    throw new TfliteFormatError(`no ${TFLITE_FILE_IDENTIFIER} file identifier at byte 4`);
  }
  const root = fb.root(ModelTable);
  const version = root.uint32('version');
  if (version !== SCHEMA_VERSION) {
    throw new TfliteFormatError(
      `schema version ${version}; Model Lens reads version ${SCHEMA_VERSION}`,
    );
  }
  const buffers = (root.tableVector('buffers', BufferTable) ?? []).map((t, i) =>
    decodeBuffer(fb, t, i),
  );
  const operatorCodes = (root.tableVector('operator_codes', OperatorCodeTable) ?? []).map(
    decodeOperatorCode,
  );
  const subgraphs = (root.tableVector('subgraphs', SubGraphTable) ?? []).map((t, i) =>
    decodeSubgraph(t, i, buffers, operatorCodes),
  );
  if (subgraphs.length === 0) throw new TfliteFormatError('the model has no subgraphs');
  const metadata = (root.tableVector('metadata', MetadataTable) ?? []).map((t, i) =>
    decodeMetadata(t, i, buffers),
  );
  const signatureDefs = (root.tableVector('signature_defs', SignatureDefTable) ?? []).map((t, i) =>
    decodeSignatureDef(t, i, subgraphs),
  );
  const offlinePlan = metadata.find((m) => m.name === 'OfflineMemoryAllocation');
  const runtimeVersion = metadata.find((m) => m.name === 'min_runtime_version');
  return {
    version,
    description: root.string('description') ?? '',
    operatorCodes,
    subgraphs,
    buffers,
    metadata,
    signatureDefs,
    ...(offlinePlan && { offlineMemoryAllocation: decodeOfflinePlan(offlinePlan) }),
    ...(runtimeVersion && { minRuntimeVersion: cString(runtimeVersion.data) }),
    externalBufferGroups: (
      root.tableVector('external_buffer_groups', ExternalBufferGroupTable) ?? []
    ).map((t) => t.string('name') ?? ''),
    externalBuffers: (root.tableVector('external_buffers', ExternalBufferTable) ?? []).map(
      decodeExternalBuffer,
    ),
    bytes,
  };
}

/**
 * A buffer's data: the inline `data` vector, or, when `offset` > 1 (the schema's "valid if > 1"),
 * `size` bytes at that offset from the start of the file.
 */
function decodeBuffer(
  fb: FlatBuffer,
  t: Table<FieldsOf<typeof BufferTable>>,
  index: number,
): Buffer {
  const offset = t.uint64('offset');
  if (offset > 1) {
    const size = t.uint64('size');
    if (offset + size > fb.length) {
      throw new TfliteFormatError(
        `buffer ${index} stores ${size} bytes at offset ${offset}, past the end of the ${fb.length}-byte file`,
      );
    }
    return {
      index,
      data: fb.bytes.subarray(offset, offset + size),
      fileOffset: offset,
      outsideFlatbuffer: true,
    };
  }
  const data = t.uint8Vector('data') ?? fb.bytes.subarray(0, 0);
  return {
    index,
    data,
    fileOffset: data.byteOffset - fb.bytes.byteOffset,
    outsideFlatbuffer: false,
  };
}

function decodeOperatorCode(t: Table<FieldsOf<typeof OperatorCodeTable>>): OperatorCode {
  // Codes below 127 used to live in the int8 `deprecated_builtin_code`; newer writers fill both,
  // older ones only the deprecated field. The larger of the two is the code (schema_utils.cc).
  const builtinCode = Math.max(t.int32('builtin_code'), t.int8('deprecated_builtin_code'));
  const customCode = t.string('custom_code');
  return {
    builtinCode,
    builtinName: builtinOperatorName(builtinCode),
    ...(customCode !== undefined && { customCode }),
    version: t.int32('version', 1),
  };
}

function decodeSubgraph(
  t: Table<FieldsOf<typeof SubGraphTable>>,
  index: number,
  buffers: readonly Buffer[],
  operatorCodes: readonly OperatorCode[],
): Subgraph {
  const where = `subgraph ${index}`;
  const tensors = (t.tableVector('tensors', TensorTable) ?? []).map((tt, i) =>
    decodeTensor(tt, i, buffers, `${where} tensor ${i}`),
  );
  const inputs = t.int32Vector('inputs') ?? [];
  const outputs = t.int32Vector('outputs') ?? [];
  checkTensorIndices(inputs, tensors.length, `${where} input`, false);
  checkTensorIndices(outputs, tensors.length, `${where} output`, false);
  for (const tensor of tensors) {
    const details = tensor.quantization?.details;
    if (details?.kind === 'blockwise') {
      const what = `${where} tensor ${tensor.index}'s blockwise`;
      checkTensorIndices([details.scalesTensor], tensors.length, `${what} scales`, false);
      checkTensorIndices([details.zeroPointsTensor], tensors.length, `${what} zero points`, true);
    }
  }
  const operators = (t.tableVector('operators', OperatorTable) ?? []).map((ot, i) =>
    decodeOperator(ot, i, operatorCodes, tensors.length, `${where} operator ${i}`),
  );
  return { index, name: t.string('name') ?? '', tensors, inputs, outputs, operators };
}

function decodeTensor(
  t: Table<FieldsOf<typeof TensorTable>>,
  index: number,
  buffers: readonly Buffer[],
  where: string,
): Tensor {
  const bufferIndex = t.uint32('buffer');
  const buffer = buffers[bufferIndex];
  if (!buffer) {
    throw new TfliteFormatError(
      `${where} refers to buffer ${bufferIndex}, but the model has ${buffers.length} buffers`,
    );
  }
  const shapeSignature = t.int32Vector('shape_signature');
  const quantization = t.table('quantization', QuantizationTable);
  const quant = quantization && decodeQuantization(quantization);
  const sparsityTable = t.table('sparsity', SparsityTable);
  return {
    index,
    name: t.string('name') ?? '',
    type: t.int8('type') as TensorType,
    shape: t.int32Vector('shape') ?? [],
    ...(shapeSignature && { shapeSignature }),
    hasRank: t.bool('has_rank'),
    bufferIndex,
    buffer,
    ...(quant && { quantization: quant }),
    isVariable: t.bool('is_variable'),
    ...(sparsityTable && { sparsity: decodeSparsity(sparsityTable) }),
    externalBufferId: t.uint32('external_buffer'),
  };
}

/** Undefined for the empty table converters write for float tensors. */
function decodeQuantization(
  t: Table<FieldsOf<typeof QuantizationTable>>,
): Quantization | undefined {
  const scale = t.float32Vector('scale') ?? [];
  const zeroPoint = t.int64Vector('zero_point') ?? [];
  const min = t.float32Vector('min') ?? [];
  const max = t.float32Vector('max') ?? [];
  const details = decodeQuantizationDetails(t);
  if (!details && scale.length + zeroPoint.length + min.length + max.length === 0) return undefined;
  return {
    scale,
    zeroPoint,
    min,
    max,
    quantizedDimension: t.int32('quantized_dimension'),
    ...(details && { details }),
  };
}

function decodeQuantizationDetails(
  t: Table<FieldsOf<typeof QuantizationTable>>,
): QuantizationDetails | undefined {
  const type = t.uint8('details_type');
  if (type === 0 || !t.has('details')) return undefined;
  if (type === QuantizationDetailsType.CustomQuantization) {
    const custom = t.table('details', CustomQuantizationTable)?.uint8Vector('custom');
    return { kind: 'custom', custom: custom ?? t.fb.bytes.subarray(0, 0) };
  }
  if (type === QuantizationDetailsType.BlockwiseQuantization) {
    const b = t.table('details', BlockwiseQuantizationTable);
    return {
      kind: 'blockwise',
      scalesTensor: b?.int32('scales') ?? 0,
      zeroPointsTensor: b?.int32('zero_points') ?? 0,
      blockSize: b?.int32('block_size') ?? 0,
    };
  }
  return { kind: 'unknown', unionType: type };
}

function decodeSparsity(t: Table<FieldsOf<typeof SparsityTable>>): Sparsity {
  return {
    traversalOrder: t.int32Vector('traversal_order') ?? [],
    blockMap: t.int32Vector('block_map') ?? [],
    dimMetadata: (t.tableVector('dim_metadata', DimensionMetadataTable) ?? []).map(
      decodeDimensionMetadata,
    ),
  };
}

function decodeDimensionMetadata(
  t: Table<FieldsOf<typeof DimensionMetadataTable>>,
): DimensionMetadata {
  const format = t.int8('format');
  const arraySegments = sparseIndexVector(t, 'array_segments_type', 'array_segments');
  const arrayIndices = sparseIndexVector(t, 'array_indices_type', 'array_indices');
  return {
    format: format === 0 ? 'DENSE' : format === 1 ? 'SPARSE_CSR' : `UNKNOWN_${format}`,
    denseSize: t.int32('dense_size'),
    ...(arraySegments && { arraySegments }),
    ...(arrayIndices && { arrayIndices }),
  };
}

function sparseIndexVector(
  t: Table<FieldsOf<typeof DimensionMetadataTable>>,
  typeField: 'array_segments_type' | 'array_indices_type',
  valueField: 'array_segments' | 'array_indices',
): number[] | undefined {
  const type = t.uint8(typeField);
  if (type === 0) return undefined;
  const vector = t.table(valueField, IndexVectorTable);
  if (!vector) return undefined;
  switch (type) {
    case SparseIndexVectorType.Int32Vector:
      return vector.int32Vector('values') ?? [];
    case SparseIndexVectorType.Uint16Vector:
      return vector.uint16Vector('values') ?? [];
    case SparseIndexVectorType.Uint8Vector:
      return vector.uint8Numbers('values') ?? [];
    default:
      throw new TfliteFormatError(
        `${t.type.name}.${typeField} is ${type}, not a known vector type`,
      );
  }
}

function decodeOperator(
  t: Table<FieldsOf<typeof OperatorTable>>,
  index: number,
  operatorCodes: readonly OperatorCode[],
  tensorCount: number,
  where: string,
): Operator {
  const opcodeIndex = t.uint32('opcode_index');
  const opcode = operatorCodes[opcodeIndex];
  if (!opcode) {
    throw new TfliteFormatError(
      `${where} uses operator code ${opcodeIndex}, but the model has ${operatorCodes.length}`,
    );
  }
  const named = `${where} (${operatorLabel(opcode)})`;
  const inputs = t.int32Vector('inputs') ?? [];
  const outputs = t.int32Vector('outputs') ?? [];
  const intermediates = t.int32Vector('intermediates') ?? [];
  checkTensorIndices(inputs, tensorCount, `${named} input`, true);
  checkTensorIndices(outputs, tensorCount, `${named} output`, true);
  checkTensorIndices(intermediates, tensorCount, `${named} intermediate`, true);
  const builtinOptions = decodeBuiltinOptions(t);
  const customOptions = decodeCustomOptions(t, named);
  return {
    index,
    opcodeIndex,
    opcode,
    inputs,
    outputs,
    intermediates,
    mutatingVariableInputs: t.boolVector('mutating_variable_inputs') ?? [],
    ...(builtinOptions && { builtinOptions }),
    ...(customOptions && { customOptions }),
  };
}

/** `CONV_2D`, or a custom operator's own name. */
function operatorLabel(opcode: OperatorCode): string {
  return opcode.builtinCode === CUSTOM_OPERATOR_CODE && opcode.customCode
    ? printable(opcode.customCode)
    : opcode.builtinName;
}

/** A name from the file, fit for a one-line message: control characters escaped, length capped. */
function printable(name: string): string {
  const escaped = JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name);
  return escaped.slice(1, -1);
}

/** Inline `custom_options`, or, past 2 GB, the bytes at `large_custom_options_offset`. */
function decodeCustomOptions(
  t: Table<FieldsOf<typeof OperatorTable>>,
  where: string,
): Uint8Array | undefined {
  const offset = t.uint64('large_custom_options_offset');
  if (offset > 1) {
    const size = t.uint64('large_custom_options_size');
    if (offset + size > t.fb.length) {
      throw new TfliteFormatError(
        `${where} stores ${size} bytes of custom options at offset ${offset}, past the end of the file`,
      );
    }
    return t.fb.bytes.subarray(offset, offset + size);
  }
  return t.uint8Vector('custom_options');
}

/** -1 marks an omitted optional tensor where the runtime allows it (operator inputs/outputs). */
function checkTensorIndices(
  indices: readonly number[],
  tensorCount: number,
  what: string,
  optionalAllowed: boolean,
): void {
  for (const i of indices) {
    if (i === -1 && optionalAllowed) continue;
    if (i < 0 || i >= tensorCount) {
      throw new TfliteFormatError(
        `${what} refers to tensor ${i}, but the subgraph has ${tensorCount} tensors`,
      );
    }
  }
}

function decodeMetadata(
  t: Table<FieldsOf<typeof MetadataTable>>,
  index: number,
  buffers: readonly Buffer[],
): Metadata {
  const name = t.string('name') ?? '';
  const bufferIndex = t.uint32('buffer');
  const buffer = buffers[bufferIndex];
  if (!buffer) {
    throw new TfliteFormatError(
      `metadata ${index} (${printable(name)}) refers to buffer ${bufferIndex}, but the model has ${buffers.length} buffers`,
    );
  }
  return { name, bufferIndex, data: buffer.data };
}

/**
 * TFLM's layout (micro_allocator.cc, "OfflineMemoryAllocation"): little-endian int32 words
 * [version, subgraph, tensor count, one arena offset per tensor (-1: planned online)].
 */
function decodeOfflinePlan(meta: Metadata): OfflineMemoryAllocation {
  const data = meta.data;
  const words = Math.floor(data.length / 4);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const word = (i: number): number => view.getInt32(4 * i, true);
  if (words < 3) {
    throw new TfliteFormatError(
      `OfflineMemoryAllocation metadata has ${data.length} bytes, fewer than its 12-byte header`,
    );
  }
  const tensorCount = word(2);
  if (tensorCount < 0 || 3 + tensorCount > words) {
    throw new TfliteFormatError(
      `OfflineMemoryAllocation metadata lists ${tensorCount} tensors but holds ${words - 3} offsets`,
    );
  }
  const offsets = new Array<number>(tensorCount);
  for (let i = 0; i < tensorCount; i++) offsets[i] = word(3 + i);
  return { version: word(0), subgraph: word(1), tensorCount, offsets };
}

function decodeSignatureDef(
  t: Table<FieldsOf<typeof SignatureDefTable>>,
  index: number,
  subgraphs: readonly Subgraph[],
): SignatureDef {
  const key = t.string('signature_key') ?? '';
  const subgraphIndex = t.uint32('subgraph_index');
  const subgraph = subgraphs[subgraphIndex];
  const where = `signature ${index} (${printable(key)})`;
  if (!subgraph) {
    throw new TfliteFormatError(
      `${where} refers to subgraph ${subgraphIndex}, but the model has ${subgraphs.length}`,
    );
  }
  const maps = (field: 'inputs' | 'outputs'): TensorMap[] =>
    (t.tableVector(field, TensorMapTable) ?? []).map((m) => {
      const tensorIndex = m.uint32('tensor_index');
      checkTensorIndices([tensorIndex], subgraph.tensors.length, `${where} ${field}`, false);
      return { name: m.string('name') ?? '', tensorIndex };
    });
  return { key, subgraphIndex, inputs: maps('inputs'), outputs: maps('outputs') };
}

function decodeExternalBuffer(t: Table<FieldsOf<typeof ExternalBufferTable>>): ExternalBuffer {
  return {
    id: t.uint32('id'),
    group: t.uint32('group'),
    offset: t.uint64('offset'),
    length: t.uint64('length'),
    packing: t.string('packing') ?? '',
  };
}

/** A NUL-terminated (and NUL-padded) string, as the converter writes `min_runtime_version`. */
function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}
