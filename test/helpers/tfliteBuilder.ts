/**
 * Builds small .tflite files with the `flatbuffers` npm Builder (the reference writer), from a
 * plain description, so reader tests can state exactly what a file holds. Field ids follow
 * schema.fbs; every given value is written, even when it equals the schema default.
 */
import { Builder } from 'flatbuffers';

type Offset = number;

export interface TensorSpec {
  readonly name?: string;
  readonly shape: readonly number[];
  /** TensorType number; INT8 (9) when omitted. */
  readonly type?: number;
  readonly buffer?: number;
  readonly isVariable?: boolean;
  readonly hasRank?: boolean;
  readonly shapeSignature?: readonly number[];
  readonly quantization?: QuantizationSpec;
  readonly sparsity?: SparsitySpec;
}

export interface QuantizationSpec {
  readonly scale?: readonly number[];
  readonly zeroPoint?: readonly number[];
  readonly min?: readonly number[];
  readonly max?: readonly number[];
  readonly quantizedDimension?: number;
  readonly custom?: Uint8Array;
  readonly blockwise?: { scales: number; zeroPoints: number; blockSize: number };
}

export interface SparsitySpec {
  readonly traversalOrder: readonly number[];
  readonly blockMap?: readonly number[];
  readonly dimMetadata: readonly {
    format: number;
    denseSize?: number;
    segments?: readonly number[];
    indices?: readonly number[];
    /** SparseIndexVector member: 1 Int32Vector, 2 Uint16Vector, 3 Uint8Vector. */
    vectorType?: 1 | 2 | 3;
  }[];
}

/** An options table: its union member and its scalar fields by field id. */
export interface OptionsSpec {
  readonly union?: 1 | 2;
  readonly type: number;
  readonly fields?: readonly OptionField[];
}

export type OptionField =
  | { readonly id: number; readonly int8: number }
  | { readonly id: number; readonly int32: number }
  | { readonly id: number; readonly float32: number }
  | { readonly id: number; readonly bool: boolean }
  | { readonly id: number; readonly int32s: readonly number[] };

export interface OperatorSpec {
  readonly opcodeIndex: number;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly intermediates?: readonly number[];
  readonly mutatingVariableInputs?: readonly boolean[];
  readonly options?: OptionsSpec;
  readonly customOptions?: Uint8Array;
}

export interface OperatorCodeSpec {
  readonly builtinCode?: number;
  readonly deprecatedBuiltinCode?: number;
  readonly customCode?: string;
  readonly version?: number;
}

export interface SubgraphSpec {
  readonly name?: string;
  readonly tensors: readonly TensorSpec[];
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly operators: readonly OperatorSpec[];
}

/**
 * A buffer: inline `data`, or `outside` bytes appended after the flatbuffer and referenced by
 * offset/size (ai-edge-quantizer's layout); `offset`/`size` set by hand override that.
 */
export interface BufferSpec {
  readonly data?: Uint8Array;
  readonly outside?: Uint8Array;
  readonly offset?: number;
  readonly size?: number;
}

export interface ModelSpec {
  readonly version?: number;
  readonly identifier?: string;
  readonly description?: string;
  readonly operatorCodes: readonly OperatorCodeSpec[];
  readonly subgraphs: readonly SubgraphSpec[];
  /** Buffer 0, the empty sentinel, is added in front of these unless `noSentinel`. */
  readonly buffers?: readonly BufferSpec[];
  readonly noSentinel?: boolean;
  readonly metadata?: readonly { name: string; buffer: number }[];
  readonly signatureDefs?: readonly {
    key: string;
    subgraphIndex: number;
    inputs: readonly { name: string; tensorIndex: number }[];
    outputs: readonly { name: string; tensorIndex: number }[];
  }[];
}

export function buildTflite(spec: ModelSpec): Uint8Array {
  const buffers = spec.noSentinel ? [...(spec.buffers ?? [])] : [{}, ...(spec.buffers ?? [])];
  // Outside data goes after the flatbuffer, whose length is known only once it is built. The
  // offsets are fixed-width uint64 fields, so a second build with the real offsets has the same
  // layout as a first one with placeholders.
  const placeholder = buildFlatbuffer(spec, buffers, () => 2);
  let end = alignUp(placeholder.length, 16);
  const starts = buffers.map((b) => {
    if (!b.outside) return 0;
    const start = end;
    end = alignUp(start + b.outside.length, 16);
    return start;
  });
  const flat = buildFlatbuffer(spec, buffers, (i) => starts[i]);
  if (flat.length !== placeholder.length) throw new Error('layout changed between builds');
  const out = new Uint8Array(end);
  out.set(flat);
  buffers.forEach((b, i) => b.outside && out.set(b.outside, starts[i]));
  return out;
}

function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function buildFlatbuffer(
  spec: ModelSpec,
  buffers: readonly BufferSpec[],
  outsideOffset: (index: number) => number,
): Uint8Array {
  const b = new Builder(1024);
  const opcodes = spec.operatorCodes.map((c) => operatorCode(b, c));
  const subgraphs = spec.subgraphs.map((s) => subgraph(b, s));
  const bufferTables = buffers.map((buf, i) => buffer(b, buf, outsideOffset(i)));
  const metadata = (spec.metadata ?? []).map((m) => {
    const name = b.createString(m.name);
    b.startObject(2);
    b.addFieldOffset(0, name, 0);
    b.addFieldInt32(1, m.buffer, null);
    return b.endObject();
  });
  const signatures = (spec.signatureDefs ?? []).map((s) => {
    const maps = (list: readonly { name: string; tensorIndex: number }[]) =>
      offsets(
        b,
        list.map((m) => {
          const name = b.createString(m.name);
          b.startObject(2);
          b.addFieldOffset(0, name, 0);
          b.addFieldInt32(1, m.tensorIndex, null);
          return b.endObject();
        }),
      );
    const inputs = maps(s.inputs);
    const outputs = maps(s.outputs);
    const key = b.createString(s.key);
    b.startObject(5);
    b.addFieldOffset(0, inputs, 0);
    b.addFieldOffset(1, outputs, 0);
    b.addFieldOffset(2, key, 0);
    b.addFieldInt32(4, s.subgraphIndex, null);
    return b.endObject();
  });
  const opcodeVector = offsets(b, opcodes);
  const subgraphVector = offsets(b, subgraphs);
  const bufferVector = offsets(b, bufferTables);
  const metadataVector = spec.metadata ? offsets(b, metadata) : 0;
  const signatureVector = spec.signatureDefs ? offsets(b, signatures) : 0;
  const description = spec.description === undefined ? 0 : b.createString(spec.description);
  b.startObject(8);
  b.addFieldInt32(0, spec.version ?? 3, null);
  b.addFieldOffset(1, opcodeVector, 0);
  b.addFieldOffset(2, subgraphVector, 0);
  b.addFieldOffset(3, description, 0);
  b.addFieldOffset(4, bufferVector, 0);
  b.addFieldOffset(6, metadataVector, 0);
  b.addFieldOffset(7, signatureVector, 0);
  b.finish(b.endObject(), spec.identifier ?? 'TFL3');
  return b.asUint8Array().slice();
}

function operatorCode(b: Builder, c: OperatorCodeSpec): Offset {
  const custom = c.customCode === undefined ? 0 : b.createString(c.customCode);
  b.startObject(4);
  if (c.deprecatedBuiltinCode !== undefined) b.addFieldInt8(0, c.deprecatedBuiltinCode, null);
  b.addFieldOffset(1, custom, 0);
  if (c.version !== undefined) b.addFieldInt32(2, c.version, null);
  if (c.builtinCode !== undefined) b.addFieldInt32(3, c.builtinCode, null);
  return b.endObject();
}

function subgraph(b: Builder, s: SubgraphSpec): Offset {
  const tensors = offsets(
    b,
    s.tensors.map((t) => tensor(b, t)),
  );
  const operators = offsets(
    b,
    s.operators.map((o) => operator(b, o)),
  );
  const inputs = int32s(b, s.inputs);
  const outputs = int32s(b, s.outputs);
  const name = s.name === undefined ? 0 : b.createString(s.name);
  b.startObject(5);
  b.addFieldOffset(0, tensors, 0);
  b.addFieldOffset(1, inputs, 0);
  b.addFieldOffset(2, outputs, 0);
  b.addFieldOffset(3, operators, 0);
  b.addFieldOffset(4, name, 0);
  return b.endObject();
}

function tensor(b: Builder, t: TensorSpec): Offset {
  const shape = int32s(b, t.shape);
  const signature = t.shapeSignature ? int32s(b, t.shapeSignature) : 0;
  const name = b.createString(t.name ?? '');
  const quant = t.quantization ? quantization(b, t.quantization) : 0;
  const sparsity = t.sparsity ? sparsityTable(b, t.sparsity) : 0;
  b.startObject(11);
  b.addFieldOffset(0, shape, 0);
  b.addFieldInt8(1, t.type ?? 9, null);
  b.addFieldInt32(2, t.buffer ?? 0, null);
  b.addFieldOffset(3, name, 0);
  b.addFieldOffset(4, quant, 0);
  if (t.isVariable !== undefined) b.addFieldInt8(5, t.isVariable ? 1 : 0, null);
  b.addFieldOffset(6, sparsity, 0);
  b.addFieldOffset(7, signature, 0);
  if (t.hasRank !== undefined) b.addFieldInt8(8, t.hasRank ? 1 : 0, null);
  return b.endObject();
}

function quantization(b: Builder, q: QuantizationSpec): Offset {
  const floats = (values: readonly number[] | undefined): Offset => {
    if (!values) return 0;
    b.startVector(4, values.length, 4);
    for (let i = values.length - 1; i >= 0; i--) b.addFloat32(values[i]);
    return b.endVector();
  };
  const min = floats(q.min);
  const max = floats(q.max);
  const scale = floats(q.scale);
  let zeroPoint = 0;
  if (q.zeroPoint) {
    b.startVector(8, q.zeroPoint.length, 8);
    for (let i = q.zeroPoint.length - 1; i >= 0; i--) b.addInt64(BigInt(q.zeroPoint[i]));
    zeroPoint = b.endVector();
  }
  let detailsType = 0;
  let details = 0;
  if (q.custom) {
    const custom = b.createByteVector(q.custom);
    b.startObject(1);
    b.addFieldOffset(0, custom, 0);
    details = b.endObject();
    detailsType = 1;
  } else if (q.blockwise) {
    b.startObject(3);
    b.addFieldInt32(0, q.blockwise.scales, null);
    b.addFieldInt32(1, q.blockwise.zeroPoints, null);
    b.addFieldInt32(2, q.blockwise.blockSize, null);
    details = b.endObject();
    detailsType = 2;
  }
  b.startObject(7);
  b.addFieldOffset(0, min, 0);
  b.addFieldOffset(1, max, 0);
  b.addFieldOffset(2, scale, 0);
  b.addFieldOffset(3, zeroPoint, 0);
  if (detailsType) b.addFieldInt8(4, detailsType, null);
  b.addFieldOffset(5, details, 0);
  if (q.quantizedDimension !== undefined) b.addFieldInt32(6, q.quantizedDimension, null);
  return b.endObject();
}

function sparsityTable(b: Builder, s: SparsitySpec): Offset {
  const indexVector = (values: readonly number[] | undefined, type: 1 | 2 | 3): Offset => {
    if (!values) return 0;
    const size = type === 1 ? 4 : type === 2 ? 2 : 1;
    b.startVector(size, values.length, 4);
    for (let i = values.length - 1; i >= 0; i--) {
      if (type === 1) b.addInt32(values[i]);
      else if (type === 2) b.addInt16(values[i]);
      else b.addInt8(values[i]);
    }
    const vector = b.endVector();
    b.startObject(1);
    b.addFieldOffset(0, vector, 0);
    return b.endObject();
  };
  const dims = s.dimMetadata.map((d) => {
    const type = d.vectorType ?? 1;
    const segments = indexVector(d.segments, type);
    const indices = indexVector(d.indices, type);
    b.startObject(6);
    b.addFieldInt8(0, d.format, null);
    if (d.denseSize !== undefined) b.addFieldInt32(1, d.denseSize, null);
    if (segments) b.addFieldInt8(2, type, null);
    b.addFieldOffset(3, segments, 0);
    if (indices) b.addFieldInt8(4, type, null);
    b.addFieldOffset(5, indices, 0);
    return b.endObject();
  });
  const order = int32s(b, s.traversalOrder);
  const blockMap = s.blockMap ? int32s(b, s.blockMap) : 0;
  const dimVector = offsets(b, dims);
  b.startObject(3);
  b.addFieldOffset(0, order, 0);
  b.addFieldOffset(1, blockMap, 0);
  b.addFieldOffset(2, dimVector, 0);
  return b.endObject();
}

function operator(b: Builder, o: OperatorSpec): Offset {
  const inputs = int32s(b, o.inputs);
  const outputs = int32s(b, o.outputs);
  const intermediates = o.intermediates ? int32s(b, o.intermediates) : 0;
  const custom = o.customOptions ? b.createByteVector(o.customOptions) : 0;
  let mutating = 0;
  if (o.mutatingVariableInputs) {
    b.startVector(1, o.mutatingVariableInputs.length, 1);
    for (let i = o.mutatingVariableInputs.length - 1; i >= 0; i--) {
      b.addInt8(o.mutatingVariableInputs[i] ? 1 : 0);
    }
    mutating = b.endVector();
  }
  const options = o.options ? optionsTable(b, o.options) : 0;
  b.startObject(13);
  b.addFieldInt32(0, o.opcodeIndex, null);
  b.addFieldOffset(1, inputs, 0);
  b.addFieldOffset(2, outputs, 0);
  if (o.options && (o.options.union ?? 1) === 1) {
    b.addFieldInt8(3, o.options.type, null);
    b.addFieldOffset(4, options, 0);
  }
  b.addFieldOffset(5, custom, 0);
  b.addFieldOffset(7, mutating, 0);
  b.addFieldOffset(8, intermediates, 0);
  if (o.options?.union === 2) {
    b.addFieldInt8(11, o.options.type, null);
    b.addFieldOffset(12, options, 0);
  }
  return b.endObject();
}

function optionsTable(b: Builder, o: OptionsSpec): Offset {
  const fields = o.fields ?? [];
  const vectors = fields.map((f) => ('int32s' in f ? int32s(b, f.int32s) : 0));
  const count = Math.max(0, ...fields.map((f) => f.id + 1));
  b.startObject(count);
  fields.forEach((f, i) => {
    if ('int8' in f) b.addFieldInt8(f.id, f.int8, null);
    else if ('int32' in f) b.addFieldInt32(f.id, f.int32, null);
    else if ('float32' in f) b.addFieldFloat32(f.id, f.float32, null);
    else if ('bool' in f) b.addFieldInt8(f.id, f.bool ? 1 : 0, null);
    else b.addFieldOffset(f.id, vectors[i], 0);
  });
  return b.endObject();
}

function buffer(b: Builder, spec: BufferSpec, outsideOffset: number): Offset {
  let data = 0;
  if (spec.data) {
    b.startVector(1, spec.data.length, 16);
    for (let i = spec.data.length - 1; i >= 0; i--) b.addInt8(spec.data[i]);
    data = b.endVector();
  }
  const offset = spec.offset ?? (spec.outside ? outsideOffset : undefined);
  const size = spec.size ?? spec.outside?.length;
  b.startObject(3);
  b.addFieldOffset(0, data, 0);
  if (offset !== undefined) b.addFieldInt64(1, BigInt(offset), null);
  if (size !== undefined) b.addFieldInt64(2, BigInt(size), null);
  return b.endObject();
}

function offsets(b: Builder, items: readonly Offset[]): Offset {
  b.startVector(4, items.length, 4);
  for (let i = items.length - 1; i >= 0; i--) b.addOffset(items[i]);
  return b.endVector();
}

function int32s(b: Builder, values: readonly number[]): Offset {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i]);
  return b.endVector();
}
