/**
 * Builds small ONNX models in memory for unit tests, through the same encoder the product saves
 * with. Tests never need files outside the repo.
 *
 *   const b = new ModelBuilder();
 *   const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
 *   const w = b.weight('w', [4, 3, 3, 3]);
 *   const [y] = b.node('Conv', [x, w], { pads: [1, 1, 1, 1] });
 *   b.output(y);
 *   const loaded = b.load();
 */
import { encodeModel } from '../../src/core/onnx/encode';
import { parseModelBytes, type LoadedModel } from '../../src/core/onnx/load';
import {
  AttributeType,
  DataType,
  type Attribute,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  type TypeInfo,
  type ValueInfo,
} from '../../src/core/onnx/types';
import type { Dim } from '../../src/core/shapes/types';

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
      throw new Error(`modelBuilder: cannot encode dtype ${dt}`);
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

/** A tiny deterministic PRNG so test weights are reproducible. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

export class ModelBuilder {
  private nodes: Node[] = [];
  private initializers: Tensor[] = [];
  private inputs: ValueInfo[] = [];
  private outputs: ValueInfo[] = [];
  private valueInfo: ValueInfo[] = [];
  private counter = 0;
  private readonly random: () => number;
  readonly opset: number;
  producerName = 'model-lens-tests';
  extraOpsets: { domain: string; version: number }[] = [];

  constructor(options: { opset?: number; seed?: number } = {}) {
    this.opset = options.opset ?? 17;
    this.random = seededRandom(options.seed ?? 1);
  }

  input(name: string, dtype: DataType, shape?: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  /** Adds an initializer. Without values, float weights are seeded random in [-1, 1). */
  initializer(
    name: string,
    dtype: DataType,
    dims: readonly number[],
    values?: ArrayLike<number>,
  ): string {
    const n = dims.reduce((a, b) => a * b, 1);
    const data =
      values ??
      (dtype === DataType.FLOAT || dtype === DataType.DOUBLE
        ? Array.from({ length: n }, () => this.random() * 2 - 1)
        : undefined);
    this.initializers.push(makeTensor(name, dtype, dims, data));
    return name;
  }

  /** A float32 weight with seeded random values. */
  weight(name: string, dims: readonly number[]): string {
    return this.initializer(name, DataType.FLOAT, dims);
  }

  /** An int64 constant initializer, e.g. a Reshape target shape. */
  ints(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.initializer(name, DataType.INT64, dims, values);
  }

  /** Adds a node; returns its output names (generated unless given). */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, AttrValue> = {},
    options: { name?: string; outputs?: readonly string[] | number; domain?: string } = {},
  ): string[] {
    const id = this.counter++;
    const name = options.name ?? `${opType.toLowerCase()}_${id}`;
    const outputs =
      typeof options.outputs === 'number' || options.outputs === undefined
        ? Array.from(
            { length: (options.outputs as number | undefined) ?? 1 },
            (_, i) => `${name}_out${i}`,
          )
        : [...options.outputs];
    this.nodes.push({
      extra: [],
      name,
      opType,
      domain: options.domain ?? '',
      inputs: [...inputs],
      outputs,
      attributes: Object.entries(attributes).map(([k, v]) => makeAttribute(k, v)),
      docString: '',
    });
    return outputs;
  }

  /** Declares an intermediate tensor's type in value_info, as exporters do. */
  declare(name: string, dtype: DataType, shape: readonly Dim[]): void {
    this.valueInfo.push(valueInfo(name, dtype, shape));
  }

  output(name: string, dtype?: DataType, shape?: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, dtype, shape));
  }

  graph(name = 'main'): Graph {
    return {
      extra: [],
      name,
      nodes: this.nodes,
      initializers: this.initializers,
      sparseInitializers: [],
      inputs: this.inputs,
      outputs: this.outputs,
      valueInfo: this.valueInfo,
      docString: '',
    };
  }

  build(): Model {
    return {
      extra: [],
      irVersion: 8,
      producerName: this.producerName,
      producerVersion: '1',
      domain: '',
      modelVersion: 0,
      docString: '',
      graph: this.graph(),
      opsetImport: [
        { extra: [], domain: '', version: this.opset },
        ...this.extraOpsets.map((o) => ({ extra: [], ...o })),
      ],
      metadataProps: [],
      functions: [],
    };
  }

  bytes(): Uint8Array {
    return encodeModel(this.build());
  }

  /** Encodes and decodes the model, as if read from a file. */
  load(): LoadedModel {
    return parseModelBytes(this.bytes());
  }
}

/** A sub-graph for If/Loop/Scan bodies, built with its own builder. */
export function subgraph(build: (b: ModelBuilder) => void, name = 'body'): Graph {
  const b = new ModelBuilder();
  build(b);
  return b.graph(name);
}
