/**
 * What every weight pruner shares (pruneUnstructured.ts, pruneSemiStructured.ts): finding the
 * stored float weight behind each layer, each once however many layers read it, and writing the
 * pruned values back, dense or as a `sparse_initializer` (SparseTensorProto: `values` [NNZ]
 * float32 and `indices` [NNZ] int64 linear indices into the row-major dense tensor, ONNX IR
 * "Sparse tensors").
 *
 * Sparse storage costs 4 + 8 = 12 bytes per kept element against 4 per element dense, so it is
 * smaller only above 2/3 sparsity. The ONNX spec requires int64 indices, hence no narrower index
 * type. ONNX Runtime and sparse initializers, measured with onnxruntime-node 1.30.0: a model whose
 * weight is a `sparse_initializer` with linear [NNZ] indices (or [NNZ, rank] coordinates) loads
 * and runs, at IR 3 and IR 8, and gives the dense result (ORT densifies sparse initializers when
 * it loads the graph, so it saves file size, not memory or time). So `storage: 'auto'` (the
 * default) stores sparse whenever that is smaller; 'dense' never does; 'sparse' always does
 * (where the weight is a plain initializer), even when larger.
 */
import { mainWeight, WEIGHT_LAYER_OPS } from '../cost/weights';
import { weightOrigin } from '../cost/weightOrigin';
import { halfTensor, isHalfType, WEIGHT_FLOAT_TYPES } from './halfWeights';
import { nodeLabel, type GraphView } from '../graph/graph';
import { makeAttribute, makeTensor } from '../onnx/build';
import type { ExternalData } from '../onnx/externalData';
import { elementCount, forEachFloatChunk } from '../onnx/tensorData';
import { DataType, type Graph, type Node, type SparseTensor, type Tensor } from '../onnx/types';
import type { ShapeInference } from '../shapes/infer';
import { GraphEdit, makeNode } from './graphEdit';
import { CompressionRefusal } from './summary';

export type WeightStorage = 'dense' | 'sparse' | 'auto';

/** Bytes per kept element in a sparse initializer: float32 value + int64 linear index. */
const SPARSE_BYTES_PER_VALUE = 4 + 8;

/** One stored float weight to prune, with every layer that reads it. */
export interface PruneTarget {
  readonly source: string;
  readonly tensor: Tensor;
  /** The Constant node holding it, when it is not an initializer. */
  readonly constant?: Node;
  /** Labels of the layers that read it, and the layers themselves, in the same order. */
  readonly layers: string[];
  readonly nodes: Node[];
}

/** Why a layer's main weight can't be pruned, or its stored tensor when it can. */
function inspectLayer(
  node: Node,
  label: string,
  view: GraphView,
  shapes: ShapeInference,
): { source: string; tensor: Tensor; constant?: Node } | string {
  const rank = (i: number): number | undefined => shapes.types.get(node.inputs[i])?.shape?.length;
  const main = mainWeight(node, rank);
  if (!main) return `layer '${label}' (${node.opType}) has no known main weight`;
  const input = node.inputs[main.input];
  const origin = input ? weightOrigin(input, view, shapes) : undefined;
  if (!origin) return `layer '${label}' has no constant weight (its input '${input}' is computed)`;
  // Zeroing is elementwise, so pass-through ops (Identity, Reshape, Transpose…) between the stored
  // tensor and the layer do not matter here; only the stored dtype does (quantized weights are
  // int). A pruner whose selection depends on the layout checks the chain itself.
  const initializer = view.graph.initializers.find((t) => t.name === origin.source);
  const producer = view.producer.get(origin.source);
  const constant = producer?.opType === 'Constant' ? producer : undefined;
  const tensor = initializer ?? constant?.attributes.find((a) => a.name === 'value')?.t;
  if (!tensor) return `layer '${label}': weight '${origin.source}' is not stored as a tensor`;
  if (!WEIGHT_FLOAT_TYPES.has(tensor.dataType)) {
    return `layer '${label}': weight '${origin.source}' is not float32, float16 or bfloat16; only float weights are pruned`;
  }
  return { source: origin.source, tensor, constant };
}

/**
 * Every stored weight to prune, each once however many layers share it: the named layers (a
 * refusal names the first that has no float weight), else every Conv, ConvTranspose, Gemm and
 * MatMul that has one. May be empty; the caller says why.
 */
export function planTargets(
  view: GraphView,
  shapes: ShapeInference,
  layers: readonly string[] | undefined,
): PruneTarget[] {
  const labels = view.order.map((n, i) => nodeLabel(n, i));
  for (const name of layers ?? []) {
    if (!labels.includes(name)) throw new CompressionRefusal(`no layer named '${name}'`);
  }
  const requested = layers ? new Set(layers) : undefined;
  const targets = new Map<string, PruneTarget>();
  view.order.forEach((node, i) => {
    const label = labels[i];
    if (requested ? !requested.has(label) : !WEIGHT_LAYER_OPS.has(node.opType)) return;
    const found = inspectLayer(node, label, view, shapes);
    if (typeof found === 'string') {
      if (requested) throw new CompressionRefusal(found);
      return;
    }
    const existing = targets.get(found.source);
    if (existing) {
      existing.layers.push(label);
      existing.nodes.push(node);
    } else targets.set(found.source, { ...found, layers: [label], nodes: [node] });
  });
  return [...targets.values()];
}

/** A copy of a float tensor's values (the caller edits them). */
export function readFloats(t: Tensor, ext: ExternalData): Float32Array {
  const out = new Float32Array(elementCount(t.dims));
  forEachFloatChunk(t, ext, (chunk, start) => out.set(chunk, start));
  return out;
}

export function countZeros(values: Float32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) n++;
  return n;
}

/** "conv, conv_b: 50.0% of 'w' is zero": one note per pruned weight. */
export function sparsityNote(target: PruneTarget, values: Float32Array): string {
  const pct = ((100 * countZeros(values)) / Math.max(1, values.length)).toFixed(1);
  return `${target.layers.join(', ')}: ${pct}% of '${target.source}' is zero`;
}

/** An initializer that is not also a graph input (IR < 4 lists them): it may become sparse. */
function isPlainInitializer(view: GraphView, target: PruneTarget): boolean {
  return !target.constant && !view.graph.inputs.some((i) => i.name === target.source);
}

/** How the pruned weights were stored, for the notes. */
export interface StorageCount {
  sparse: number;
  denseLarger: number;
}

/**
 * Writes every target's pruned values back into a new graph: dense in place (initializer or
 * Constant), or as a sparse initializer where the storage choice says so.
 */
export function storeTargets(
  view: GraphView,
  targets: readonly PruneTarget[],
  values: readonly Float32Array[],
  storage: WeightStorage,
): { graph: Graph; count: StorageCount } {
  const edit = new GraphEdit(view.graph);
  const sparse: SparseTensor[] = [];
  const count: StorageCount = { sparse: 0, denseLarger: 0 };
  targets.forEach((target, i) => {
    const s = storeTarget(edit, view, target, values[i], storage);
    if (s) {
      sparse.push(s);
      count.sparse++;
    } else if (isPlainInitializer(view, target)) count.denseLarger++;
  });
  const built = edit.build();
  const graph =
    sparse.length === 0
      ? built
      : { ...built, sparseInitializers: [...built.sparseInitializers, ...sparse] };
  return { graph, count };
}

/**
 * Writes the pruned values back: a dense initializer (or Constant) in place, or, when the
 * storage choice says so, a sparse initializer (returned, for the caller to add to the graph).
 */
function storeTarget(
  edit: GraphEdit,
  view: GraphView,
  target: PruneTarget,
  values: Float32Array,
  storage: WeightStorage,
): SparseTensor | undefined {
  const { tensor } = target;
  const nnz = values.length - countZeros(values);
  const smaller = nnz * SPARSE_BYTES_PER_VALUE < values.length * 4;
  if (
    storage !== 'dense' &&
    tensor.dataType === DataType.FLOAT && // float16 weights stay dense: 2 bytes against 10 sparse
    (storage === 'sparse' || smaller) &&
    isPlainInitializer(view, target)
  ) {
    edit.removeInitializer(tensor.name);
    return toSparse(tensor.name, tensor.dims, values);
  }
  const made = isHalfType(tensor.dataType)
    ? halfTensor(tensor.name, tensor.dataType, tensor.dims, values)
    : makeTensor(tensor.name, DataType.FLOAT, tensor.dims, values);
  const dense = { ...made, extra: tensor.extra, docString: tensor.docString };
  if (!target.constant) {
    edit.setInitializer(dense);
    return undefined;
  }
  const c = target.constant;
  edit.replaceNode(
    c,
    makeNode({
      name: c.name,
      opType: 'Constant',
      inputs: [],
      outputs: c.outputs,
      attributes: [makeAttribute('value', dense)],
      domain: c.domain,
    }),
  );
  return undefined;
}

/** A SparseTensorProto with linear indices into the row-major dense tensor. */
export function toSparse(name: string, dims: readonly number[], dense: Float32Array): SparseTensor {
  const values: number[] = [];
  const indices: number[] = [];
  for (let i = 0; i < dense.length; i++) {
    if (dense[i] !== 0) {
      values.push(dense[i]);
      indices.push(i);
    }
  }
  return {
    extra: [],
    values: makeTensor(name, DataType.FLOAT, [values.length], values),
    indices: makeTensor('', DataType.INT64, [indices.length], indices),
    dims: [...dims],
  };
}

export function storageNotes(storage: StorageCount, mode: WeightStorage): string[] {
  const notes: string[] = [];
  if (storage.sparse > 0) {
    notes.push(
      `${storage.sparse} weight(s) stored as sparse_initializer (float32 values + int64 linear indices, 12 bytes per nonzero); ONNX Runtime densifies them on load`,
    );
  }
  if (storage.denseLarger > 0 && mode !== 'dense') {
    notes.push(
      `${storage.denseLarger} weight(s) kept dense: sparse storage (12 bytes per nonzero) would be larger below 2/3 sparsity; the file only shrinks once compressed (zip, gzip)`,
    );
  } else if (mode === 'dense') {
    notes.push('weights kept dense (storage: dense): the file only shrinks once compressed');
  }
  return notes;
}
