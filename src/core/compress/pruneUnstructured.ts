/**
 * Unstructured magnitude pruning (conventions.md "Compression formats"): the smallest-magnitude
 * elements of each layer's main weight become exactly zero, to a target sparsity, either per
 * layer (each stored weight loses the same fraction) or globally (one magnitude threshold over all
 * the selected weights, as in Han et al. 2015, so layers with many small weights lose more).
 *
 * Zeros alone do not shrink a dense file. A pruned initializer can instead be stored as a
 * `sparse_initializer` (SparseTensorProto: `values` [NNZ] float32 and `indices` [NNZ] int64
 * linear indices into the row-major dense tensor, ONNX IR "Sparse tensors"). That costs
 * 4 + 8 = 12 bytes per kept element against 4 per element dense, so it is smaller only above
 * 2/3 sparsity. The ONNX spec requires int64 indices, hence no narrower index type.
 *
 * ONNX Runtime and sparse initializers, measured with onnxruntime-node 1.30.0: a model whose
 * weight is a `sparse_initializer` with linear [NNZ] indices (or [NNZ, rank] coordinates) loads
 * and runs, at IR 3 and IR 8, and gives the dense result (ORT densifies sparse initializers when
 * it loads the graph, so it saves file size, not memory or time). So `storage: 'auto'` (the
 * default) stores sparse whenever that is smaller; 'dense' never does; 'sparse' always does
 * (where the weight is a plain initializer), even when larger.
 */
import { opsetVersions } from '../onnx/opsets';
import { mainWeight, WEIGHT_LAYER_OPS } from '../cost/weights';
import { weightOrigin } from '../cost/weightOrigin';
import { halfTensor, isHalfType, WEIGHT_FLOAT_TYPES } from './halfWeights';
import { buildGraphView, nodeLabel, type GraphView } from '../graph/graph';
import { makeAttribute, makeTensor } from '../onnx/build';
import { ExternalData } from '../onnx/externalData';
import { elementCount, forEachFloatChunk } from '../onnx/tensorData';
import { DataType, type Model, type Node, type SparseTensor, type Tensor } from '../onnx/types';
import { inferShapes, type ShapeInference } from '../shapes/infer';
import { GraphEdit, makeNode, withGraph } from './graphEdit';
import { CompressionRefusal, type CompressionResult, compressionResult } from './summary';

export interface PruneOptions {
  /** Fraction of each weight (or of all weights, globally) set to zero, 0..1. */
  sparsity: number;
  /** 'layer': each weight reaches the sparsity; 'global': one threshold over all weights. */
  scope: 'layer' | 'global';
  /** Node names; default every Conv, ConvTranspose, Gemm and MatMul with a float weight. */
  layers?: readonly string[];
  /** How pruned initializers are stored (see the file comment); default 'auto'. */
  storage?: 'dense' | 'sparse' | 'auto';
}

/** Bytes per kept element in a sparse initializer: float32 value + int64 linear index. */
const SPARSE_BYTES_PER_VALUE = 4 + 8;

/** One stored float32 weight to prune, with every layer that reads it. */
interface PruneTarget {
  readonly source: string;
  readonly tensor: Tensor;
  /** The Constant node holding it, when it is not an initializer. */
  readonly constant?: Node;
  readonly layers: string[];
}

export function pruneUnstructured(
  model: Model,
  options: PruneOptions,
  external?: ExternalData,
): CompressionResult {
  const ext = external ?? new ExternalData(undefined);
  const sparsity = options.sparsity;
  if (!(sparsity >= 0 && sparsity <= 1)) {
    throw new CompressionRefusal(`sparsity ${sparsity} is out of range (0 to 1)`);
  }
  const view = buildGraphView(model.graph);
  const shapes = inferShapes(view, { opsets: opsetVersions(model), external: ext });
  const targets = planTargets(view, shapes, options);
  const values = targets.map((t) => readFloats(t.tensor, ext));
  const notes: string[] = [];
  if (options.scope === 'global') {
    const t = zeroSmallest(values, Math.round(sparsity * total(values)));
    notes.push(`global magnitude threshold ${t.toPrecision(4)}`);
  } else {
    for (const v of values) zeroSmallest([v], Math.round(sparsity * v.length));
  }
  const edit = new GraphEdit(model.graph);
  const sparse: SparseTensor[] = [];
  const storage = { sparse: 0, denseLarger: 0 };
  targets.forEach((target, i) => {
    notes.push(sparsityNote(target, values[i]));
    const s = storeTarget(edit, view, target, values[i], options.storage ?? 'auto');
    if (s) {
      sparse.push(s);
      storage.sparse++;
    } else if (isPlainInitializer(view, target)) storage.denseLarger++;
  });
  const built = edit.build();
  const graph =
    sparse.length === 0
      ? built
      : { ...built, sparseInitializers: [...built.sparseInitializers, ...sparse] };
  notes.push(...storageNotes(storage, options.storage ?? 'auto'));
  const pruned = withGraph(model, graph);
  return summarize(model, pruned, ext, targets, options, notes);
}

function total(values: readonly Float32Array[]): number {
  return values.reduce((n, v) => n + v.length, 0);
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
  // Pruning is elementwise, so pass-through ops (Identity, Reshape, Transpose…) between the stored
  // tensor and the layer do not matter; only the stored dtype does (quantized weights are int).
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

/** Every stored weight to prune, each once however many layers share it. */
function planTargets(
  view: GraphView,
  shapes: ShapeInference,
  options: PruneOptions,
): PruneTarget[] {
  const labels = view.order.map((n, i) => nodeLabel(n, i));
  for (const name of options.layers ?? []) {
    if (!labels.includes(name)) throw new CompressionRefusal(`no layer named '${name}'`);
  }
  const requested = options.layers ? new Set(options.layers) : undefined;
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
    if (existing) existing.layers.push(label);
    else targets.set(found.source, { ...found, layers: [label] });
  });
  if (targets.size === 0) throw new CompressionRefusal('no layer with a float32 weight to prune');
  return [...targets.values()];
}

/** A copy of a float tensor's values (the caller edits them). */
function readFloats(t: Tensor, ext: ExternalData): Float32Array {
  const out = new Float32Array(elementCount(t.dims));
  forEachFloatChunk(t, ext, (chunk, start) => out.set(chunk, start));
  return out;
}

/**
 * Zeroes exactly `k` elements over `arrays`, those of smallest magnitude, and returns the
 * magnitude threshold. Ties at the threshold are broken in order (first array, first index), so
 * the count is exact even when many weights share a value (already-zero weights count first).
 */
export function zeroSmallest(arrays: readonly Float32Array[], k: number): number {
  if (k <= 0) return 0;
  const magnitudes = new Float32Array(total(arrays));
  let offset = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) magnitudes[offset + i] = Math.abs(a[i]);
    offset += a.length;
  }
  magnitudes.sort();
  const threshold = magnitudes[Math.min(k, magnitudes.length) - 1];
  let below = 0;
  for (let i = 0; i < magnitudes.length && magnitudes[i] < threshold; i++) below++;
  let ties = Math.min(k, magnitudes.length) - below;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const m = Math.abs(a[i]);
      if (m < threshold) a[i] = 0;
      else if (m === threshold && ties > 0) {
        a[i] = 0;
        ties--;
      }
    }
  }
  return threshold;
}

function zeros(values: Float32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) n++;
  return n;
}

function sparsityNote(target: PruneTarget, values: Float32Array): string {
  const pct = ((100 * zeros(values)) / Math.max(1, values.length)).toFixed(1);
  return `${target.layers.join(', ')}: ${pct}% of '${target.source}' is zero`;
}

/** An initializer that is not also a graph input (IR < 4 lists them): it may become sparse. */
function isPlainInitializer(view: GraphView, target: PruneTarget): boolean {
  return !target.constant && !view.graph.inputs.some((i) => i.name === target.source);
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
  storage: 'dense' | 'sparse' | 'auto',
): SparseTensor | undefined {
  const { tensor } = target;
  const nnz = values.length - zeros(values);
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

export { sparseToDense } from '../onnx/sparse';

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

function storageNotes(
  storage: { sparse: number; denseLarger: number },
  mode: 'dense' | 'sparse' | 'auto',
): string[] {
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

function summarize(
  model: Model,
  pruned: Model,
  ext: ExternalData,
  targets: readonly PruneTarget[],
  options: PruneOptions,
  notes: string[],
): CompressionResult {
  return compressionResult(
    `prune unstructured ${(options.sparsity * 100).toFixed(0)}% ${options.scope === 'global' ? 'global' : 'per layer'}`,
    model,
    pruned,
    ext,
    targets.flatMap((t) => t.layers),
    notes,
  );
}
