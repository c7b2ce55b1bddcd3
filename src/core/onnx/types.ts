/**
 * The ONNX messages as Model Lens reads them (onnx/onnx.proto, IR version 10+).
 *
 * Every decoded message keeps `raw`, its original encoded bytes, and `extra`, the raw bytes of
 * each field we do not model (unknown to our schema, or known but never needed). The writer emits
 * `raw` for any object that still has it, so an unedited model re-saves byte for byte. To edit,
 * build a new object without `raw` (copying `extra`): only that message is re-encoded.
 * Objects are treated as immutable after decoding.
 */

/** TensorProto.DataType. */
export const enum DataType {
  UNDEFINED = 0,
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  COMPLEX64 = 14,
  COMPLEX128 = 15,
  BFLOAT16 = 16,
  FLOAT8E4M3FN = 17,
  FLOAT8E4M3FNUZ = 18,
  FLOAT8E5M2 = 19,
  FLOAT8E5M2FNUZ = 20,
  UINT4 = 21,
  INT4 = 22,
  FLOAT4E2M1 = 23,
  FLOAT8E8M0 = 24,
  UINT2 = 25,
  INT2 = 26,
}

/** AttributeProto.AttributeType. */
export const enum AttributeType {
  UNDEFINED = 0,
  FLOAT = 1,
  INT = 2,
  STRING = 3,
  TENSOR = 4,
  GRAPH = 5,
  FLOATS = 6,
  INTS = 7,
  STRINGS = 8,
  TENSORS = 9,
  GRAPHS = 10,
  SPARSE_TENSOR = 11,
  SPARSE_TENSORS = 12,
  TYPE_PROTO = 13,
  TYPE_PROTOS = 14,
}

/** Fields shared by every decoded message. */
export interface Decoded {
  /** The message's original bytes; present only while the object is unedited. */
  readonly raw?: Uint8Array;
  /** Raw bytes (tag included) of fields this schema does not model, in file order. */
  readonly extra: readonly Uint8Array[];
}

export interface OperatorSetId extends Decoded {
  readonly domain: string;
  readonly version: number;
}

export interface StringStringEntry extends Decoded {
  readonly key: string;
  readonly value: string;
}

export interface Model extends Decoded {
  readonly irVersion: number;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly domain: string;
  readonly modelVersion: number;
  readonly docString: string;
  readonly graph: Graph;
  readonly opsetImport: readonly OperatorSetId[];
  readonly metadataProps: readonly StringStringEntry[];
  readonly functions: readonly OnnxFunction[];
}

export interface Graph extends Decoded {
  readonly name: string;
  readonly nodes: readonly Node[];
  readonly initializers: readonly Tensor[];
  readonly sparseInitializers: readonly SparseTensor[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly valueInfo: readonly ValueInfo[];
  readonly docString: string;
}

export interface Node extends Decoded {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  /** Input names; an empty string marks an omitted optional input. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: readonly Attribute[];
  readonly docString: string;
}

export interface Attribute extends Decoded {
  readonly name: string;
  readonly type: AttributeType;
  /** Set when the attribute refers to an attribute of the enclosing function. */
  readonly refAttrName?: string;
  readonly f?: number;
  readonly i?: number;
  readonly s?: Uint8Array;
  readonly t?: Tensor;
  readonly g?: Graph;
  readonly sparseTensor?: SparseTensor;
  readonly tp?: TypeInfo;
  readonly floats: readonly number[];
  readonly ints: readonly number[];
  readonly strings: readonly Uint8Array[];
  readonly tensors: readonly Tensor[];
  readonly graphs: readonly Graph[];
}

export interface ExternalDataRef {
  readonly location: string;
  readonly offset: number;
  /** Byte length; undefined means "to the end of the file". */
  readonly length?: number;
}

export interface Tensor extends Decoded {
  readonly name: string;
  readonly dataType: DataType;
  readonly dims: readonly number[];
  /** `raw_data`, as a view of the file bytes. */
  readonly rawData?: Uint8Array;
  /** Packed payloads of the typed fields, as views; decoded on demand by tensorData.ts. */
  readonly floatData?: Uint8Array;
  readonly doubleData?: Uint8Array;
  /** Integer typed fields, decoded (they are varints, usually short). */
  readonly int32Data?: readonly number[];
  readonly int64Data?: readonly number[];
  readonly uint64Data?: readonly number[];
  readonly stringData?: readonly Uint8Array[];
  /** Present when `data_location` is EXTERNAL. */
  readonly external?: ExternalDataRef;
  readonly externalEntries: readonly StringStringEntry[];
  readonly dataLocation: number;
  readonly docString: string;
}

export interface SparseTensor extends Decoded {
  readonly values?: Tensor;
  readonly indices?: Tensor;
  readonly dims: readonly number[];
}

export type Dim = number | string;

/** A TypeProto. Only tensor types get a shape; other kinds are named. */
export interface TypeInfo extends Decoded {
  readonly kind: 'tensor' | 'sparse_tensor' | 'sequence' | 'map' | 'optional' | 'unknown';
  readonly elemType: DataType;
  /** undefined when the shape (even the rank) is unknown. A dimension without value or param is ''. */
  readonly shape?: readonly Dim[];
  /** Element type of a sequence or optional. */
  readonly inner?: TypeInfo;
}

export interface ValueInfo extends Decoded {
  readonly name: string;
  readonly type?: TypeInfo;
  readonly docString: string;
}

export interface OnnxFunction extends Decoded {
  readonly name: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributeNames: readonly string[];
  readonly nodes: readonly Node[];
  readonly opsetImport: readonly OperatorSetId[];
}
