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
  DataType,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  type ValueInfo,
} from '../../src/core/onnx/types';
import type { Dim } from '../../src/core/shapes/types';
import { makeAttribute, makeTensor, valueInfo, type AttrValue } from '../../src/core/onnx/build';

export {
  FloatAttr,
  float,
  makeAttribute,
  makeTensor,
  tensorTypeInfo,
  valueInfo,
  type AttrValue,
} from '../../src/core/onnx/build';

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

  /**
   * The usual classifier head on a [1, C, H, W] feature map: GlobalAveragePool 'pool' → Flatten
   * 'flat' (output 'features') → Gemm 'fc' (weight 'fc' [classes, C], transB, output 'logits'),
   * declared as the graph output [1, classes]. Returns 'logits'.
   */
  classifierHead(x: string, channels: number, classes = 10): string {
    const [p] = this.node('GlobalAveragePool', [x], {}, { name: 'pool' });
    const [f] = this.node('Flatten', [p], {}, { name: 'flat', outputs: ['features'] });
    const [y] = this.node(
      'Gemm',
      [f, this.weight('fc', [classes, channels])],
      { transB: 1 },
      { name: 'fc', outputs: ['logits'] },
    );
    this.output(y, DataType.FLOAT, [1, classes]);
    return y;
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
