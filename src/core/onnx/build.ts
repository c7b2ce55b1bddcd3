/**
 * Constructors for new ONNX messages (no `raw`, so the encoder writes them from their fields):
 * tensors from values, attributes from plain values, value infos. The compression engine and
 * the tests' model builder both build models with these.
 */
import {
  AttributeType,
  DataType,
  type Attribute,
  type Dim,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  type TypeInfo,
  type ValueInfo,
} from './types';

/** Marks a number as a FLOAT attribute even when it is integral (e.g. epsilon 1). */
export class FloatAttr {
  constructor(readonly value: number) {}
}
export const float = (v: number): FloatAttr => new FloatAttr(v);

export type AttrValue =
  number | number[] | string | string[] | FloatAttr | FloatAttr[] | Tensor | Graph;

export function makeTensor(
  name: string,
  dataType: DataType,
  dims: readonly number[],
  values?: ArrayLike<number> | Uint8Array,
): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  let rawData: Uint8Array;
  if (values instanceof Uint8Array && dataType !== DataType.UINT8) rawData = values;
  else {
    const src = values ?? new Array<number>(n).fill(0);
    rawData = encodeValues(dataType, src);
  }
  return {
    extra: [],
    name,
    dataType,
    dims: [...dims],
    rawData,
    externalEntries: [],
    dataLocation: 0,
    docString: '',
  };
}

function encodeValues(dt: DataType, src: ArrayLike<number>): Uint8Array {
  switch (dt) {
    case DataType.FLOAT:
      return new Uint8Array(Float32Array.from(src).buffer);
    case DataType.DOUBLE:
      return new Uint8Array(Float64Array.from(src).buffer);
    case DataType.INT64:
      return new Uint8Array(
        BigInt64Array.from(Array.from(src, (v) => BigInt(Math.trunc(v)))).buffer,
      );
    case DataType.INT32:
      return new Uint8Array(Int32Array.from(src).buffer);
    case DataType.INT8:
      return new Uint8Array(Int8Array.from(src).buffer);
    case DataType.UINT8:
    case DataType.BOOL:
      return Uint8Array.from(src);
    case DataType.INT16:
      return new Uint8Array(Int16Array.from(src).buffer);
    case DataType.UINT16:
    case DataType.FLOAT16:
      return new Uint8Array(Uint16Array.from(src).buffer);
    default:
      throw new Error(`cannot encode ${dt} values`);
  }
}

export function tensorTypeInfo(dtype: DataType, shape?: readonly Dim[]): TypeInfo {
  return { extra: [], kind: 'tensor', elemType: dtype, shape: shape ? [...shape] : undefined };
}

export function valueInfo(name: string, dtype?: DataType, shape?: readonly Dim[]): ValueInfo {
  return {
    extra: [],
    name,
    type: dtype === undefined ? undefined : tensorTypeInfo(dtype, shape),
    docString: '',
  };
}

export function makeAttribute(name: string, value: AttrValue): Attribute {
  const base = { extra: [], name, floats: [], ints: [], strings: [], tensors: [], graphs: [] };
  const enc = new TextEncoder();
  if (value instanceof FloatAttr) return { ...base, type: AttributeType.FLOAT, f: value.value };
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? { ...base, type: AttributeType.INT, i: value }
      : { ...base, type: AttributeType.FLOAT, f: value };
  }
  if (typeof value === 'string')
    return { ...base, type: AttributeType.STRING, s: enc.encode(value) };
  if (Array.isArray(value)) {
    if (value.length > 0 && value[0] instanceof FloatAttr) {
      return {
        ...base,
        type: AttributeType.FLOATS,
        floats: (value as FloatAttr[]).map((v) => v.value),
      };
    }
    if (value.length > 0 && typeof value[0] === 'string') {
      return {
        ...base,
        type: AttributeType.STRINGS,
        strings: (value as string[]).map((s) => enc.encode(s)),
      };
    }
    const nums = value as number[];
    return nums.every(Number.isInteger)
      ? { ...base, type: AttributeType.INTS, ints: nums }
      : { ...base, type: AttributeType.FLOATS, floats: nums };
  }
  if ('nodes' in value) return { ...base, type: AttributeType.GRAPH, g: value };
  return { ...base, type: AttributeType.TENSOR, t: value };
}

/**
 * A small standalone model of its own (a helper graph run in ONNX Runtime: a matrix product, a
 * Gram product), IR 8, one default-domain opset.
 */
export function makeModel(fields: {
  readonly name: string;
  readonly nodes: readonly Node[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly opset: number;
}): Model {
  return {
    extra: [],
    irVersion: 8,
    producerName: 'model-lens',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    graph: {
      extra: [],
      name: fields.name,
      nodes: [...fields.nodes],
      initializers: [],
      sparseInitializers: [],
      inputs: [...fields.inputs],
      outputs: [...fields.outputs],
      valueInfo: [],
      docString: '',
    },
    opsetImport: [{ extra: [], domain: '', version: fields.opset }],
    metadataProps: [],
    functions: [],
  };
}
