/**
 * float16 / bfloat16 weights as compression input. Many models ship their weights as float16
 * behind Cast(to=FLOAT) (a background-removal model has 238 such initializers), or read them
 * directly in a float16 Conv. Quantize and prune treat those as weights (weightOrigin follows the
 * Cast); this file says how a quantized one is read back:
 * - every reader is Cast(to=FLOAT): the Cast goes, and the DequantizeLinear (float32 scales)
 *   produces the Cast's output; further Casts of the same weight become Identity of it;
 * - a reader computes in float16/bfloat16: the DequantizeLinear produces that type under the
 *   weight's own name, through scales of that type (DequantizeLinear-19).
 */
import type { GraphView } from '../graph/graph';
import { makeAttribute, makeTensor } from '../onnx/build';
import type { ExternalData } from '../onnx/externalData';
import { elementCount, forEachFloatChunk } from '../onnx/tensorData';
import { DataType, type Model, type Node, type Tensor } from '../onnx/types';
import { floatToBfloat16Bits, floatToHalfBits } from './convertFloat';
import { makeNode, withGraph } from './graphEdit';
import { compressionResult, type CompressionResult } from './summary';

/** The stored float types compression reads as weights. */
export const WEIGHT_FLOAT_TYPES: ReadonlySet<DataType> = new Set([
  DataType.FLOAT,
  DataType.FLOAT16,
  DataType.BFLOAT16,
]);

export function isHalfType(dt: DataType): dt is DataType.FLOAT16 | DataType.BFLOAT16 {
  return dt === DataType.FLOAT16 || dt === DataType.BFLOAT16;
}

/** A Cast to a float type: it changes the precision, not the layout, of a weight. */
export function isFloatCast(node: Node | undefined): boolean {
  if (node?.opType !== 'Cast') return false;
  const to = node.attributes.find((a) => a.name === 'to')?.i;
  return to === DataType.FLOAT || to === DataType.FLOAT16 || to === DataType.BFLOAT16;
}

export interface DequantizeTarget {
  /** The tensor the DequantizeLinear writes. */
  readonly output: string;
  /** The scales' type, which is the DequantizeLinear's output type. */
  readonly scaleType: DataType;
  /** The Cast the DequantizeLinear replaces, and the other Casts that become Identity. */
  readonly cast?: Node;
  readonly otherCasts: readonly Node[];
  /** The opset the DequantizeLinear needs for its output type (0: no constraint). */
  readonly minOpset: number;
}

export function dequantizeTarget(
  view: GraphView,
  source: string,
  stored: DataType,
): DequantizeTarget {
  if (!isHalfType(stored))
    return { output: source, scaleType: DataType.FLOAT, otherCasts: [], minOpset: 0 };
  const readers = view.graph.nodes.filter((n) => n.inputs.includes(source));
  const toFloat = (n: Node): boolean =>
    n.opType === 'Cast' && n.attributes.find((a) => a.name === 'to')?.i === DataType.FLOAT;
  const outputs = view.graph.outputs.some((o) => o.name === source);
  if (readers.length > 0 && readers.every(toFloat) && !outputs) {
    const [cast, ...otherCasts] = readers;
    return { output: cast.outputs[0], scaleType: DataType.FLOAT, cast, otherCasts, minOpset: 0 };
  }
  return { output: source, scaleType: stored, otherCasts: [], minOpset: 19 };
}

/** Scales stored in `dataType` (float32, or float16/bfloat16 for a half DequantizeLinear). */
export function scaleTensor(
  name: string,
  dataType: DataType,
  dims: readonly number[],
  scales: Float32Array,
): Tensor {
  if (!isHalfType(dataType)) return makeTensor(name, dataType, dims, scales);
  return halfTensor(name, dataType, dims, scales);
}

/** A float16/bfloat16 tensor from float values (rounded to nearest even). */
export function halfTensor(
  name: string,
  dataType: DataType.FLOAT16 | DataType.BFLOAT16,
  dims: readonly number[],
  values: ArrayLike<number>,
): Tensor {
  const encode = dataType === DataType.FLOAT16 ? floatToHalfBits : floatToBfloat16Bits;
  const bits = Uint16Array.from(values, (v) => encode(v));
  return makeTensor(name, dataType, dims, new Uint8Array(bits.buffer));
}

/** Identity nodes standing in for the other Casts of a weight now read from `output`. */
export function castReplacements(target: DequantizeTarget): { cast: Node; identity: Node }[] {
  return target.otherCasts.map((cast) => ({
    cast,
    identity: makeNode({
      name: cast.name,
      opType: 'Identity',
      inputs: [target.output],
      outputs: cast.outputs,
    }),
  }));
}

/** A float16/bfloat16 weight lifted to float32 for an operation that edits float32 tensors. */
export interface LiftedWeight {
  readonly source: string;
  readonly dataType: DataType.FLOAT16 | DataType.BFLOAT16;
}

/**
 * Lifts every float16/bfloat16 initializer read only through Cast(to=FLOAT) to a float32
 * initializer under the Cast's output name (exact: both types are subsets of float32), so that
 * operations that follow Identity chains to float32 tensors (structured pruning) see it.
 * restoreHalfWeights() stores the edited tensors back in their type behind a Cast.
 */
export function liftHalfWeights(
  model: Model,
  ext: ExternalData | undefined,
): { model: Model; lifted: Map<string, LiftedWeight> } {
  const lifted = new Map<string, LiftedWeight>();
  const graph = model.graph;
  const toFloat = (n: Node): boolean =>
    n.opType === 'Cast' && n.attributes.find((a) => a.name === 'to')?.i === DataType.FLOAT;
  const removed = new Set<Node>();
  const replaced = new Map<Node, Node>();
  const initializers: Tensor[] = [];
  for (const t of graph.initializers) {
    const readers = isHalfType(t.dataType)
      ? graph.nodes.filter((n) => n.inputs.includes(t.name))
      : [];
    if (
      !isHalfType(t.dataType) ||
      readers.length === 0 ||
      !readers.every(toFloat) ||
      graph.outputs.some((o) => o.name === t.name) ||
      graph.inputs.some((i) => i.name === t.name)
    ) {
      initializers.push(t);
      continue;
    }
    const [cast, ...others] = readers;
    const name = cast.outputs[0];
    const values = new Float32Array(elementCount(t.dims));
    forEachFloatChunk(t, ext, (chunk, start) => values.set(chunk, start));
    initializers.push(makeTensor(name, DataType.FLOAT, t.dims, values));
    lifted.set(name, { source: t.name, dataType: t.dataType });
    removed.add(cast);
    for (const other of others) {
      replaced.set(
        other,
        makeNode({ name: other.name, opType: 'Identity', inputs: [name], outputs: other.outputs }),
      );
    }
  }
  if (lifted.size === 0) return { model, lifted };
  const nodes = graph.nodes.filter((n) => !removed.has(n)).map((n) => replaced.get(n) ?? n);
  const { raw: _raw, ...rest } = graph;
  return { model: withGraph(model, { ...rest, nodes, initializers }), lifted };
}

/** Stores lifted weights (as edited) back in their own type, read through Cast(to=FLOAT). */
export function restoreHalfWeights(model: Model, lifted: ReadonlyMap<string, LiftedWeight>): Model {
  if (lifted.size === 0) return model;
  const graph = model.graph;
  const casts = new Map<string, Node>();
  const initializers = graph.initializers.map((t) => {
    const w = lifted.get(t.name);
    if (!w || t.dataType !== DataType.FLOAT) return t;
    const values = new Float32Array(elementCount(t.dims));
    forEachFloatChunk(t, undefined, (chunk, start) => values.set(chunk, start));
    casts.set(
      t.name,
      makeNode({
        name: `${w.source}_Cast`,
        opType: 'Cast',
        inputs: [w.source],
        outputs: [t.name],
        attributes: [makeAttribute('to', DataType.FLOAT)],
      }),
    );
    return halfTensor(w.source, w.dataType, t.dims, values);
  });
  const nodes: Node[] = [];
  const placed = new Set<string>();
  for (const n of graph.nodes) {
    for (const input of n.inputs) {
      const cast = casts.get(input);
      if (cast && !placed.has(input)) {
        nodes.push(cast);
        placed.add(input);
      }
    }
    nodes.push(n);
  }
  const { raw: _raw, ...rest } = graph;
  return withGraph(model, { ...rest, nodes, initializers });
}

/**
 * Runs an operation that edits float32 weights (BatchNorm folding) on a model whose weights are
 * float16/bfloat16 behind Cast: lifted, edited, stored back in their type. The summary's figures
 * compare the model as given with the result.
 */
export function withHalfWeightsLifted(
  model: Model,
  ext: ExternalData,
  operation: (lifted: Model) => CompressionResult,
): CompressionResult {
  const lift = liftHalfWeights(model, ext);
  if (lift.lifted.size === 0) return operation(model);
  const r = operation(lift.model);
  const restored = restoreHalfWeights(r.model, lift.lifted);
  const s = r.summary;
  return compressionResult(s.operation, model, restored, ext, s.layersTouched, s.notes);
}
