/**
 * float16 and bfloat16 conversion (`compress --quantize fp16|bf16`, the quick fixes "Convert to
 * fp16" / "Convert to bf16").
 *
 * - **fp16**: weights and compute in float16. Every float32 initializer and Constant read by an op
 *   that has a float16 path becomes float16, every float32 tensor those ops make becomes float16,
 *   and the graph's inputs and outputs stay float32 (a Cast at each edge, as ONNX Runtime's
 *   float16 converter does with `keep_io_types`). An op with no float16 path (FP16_REFUSED, or
 *   not in FP16_OPS) stays float32 behind Casts, and the summary lists it.
 * - **bf16**: weights stored as bfloat16, cast up to float32 (Cast to=FLOAT after each) for
 *   compute, since ONNX Runtime's CPU provider has no bfloat16 kernels for the ops models use.
 *
 * What ONNX Runtime's CPU provider does with float16 was measured, not assumed: one model per op
 * with float16 inputs, run in onnxruntime-node 1.30 (x64), and the session's optimised graph
 * read back (`optimizedModelFilePath`). FP16_OPS records the result; the unit test
 * convertFloat.test.ts re-runs that probe for every op in the table.
 */
import { opsetVersions } from '../onnx/opsets';
import { weightInputIndices } from '../cost/weights';
import { weightOrigin } from '../cost/weightOrigin';
import { buildGraphView, nodeDependencies, nodeLabel, type GraphView } from '../graph/graph';
import { makeAttribute, makeTensor } from '../onnx/build';
import { ExternalData } from '../onnx/externalData';
import { bfloatToFloat, elementCount, forEachFloatChunk, halfToFloat } from '../onnx/tensorData';
import {
  AttributeType,
  DataType,
  type Attribute,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  type ValueInfo,
} from '../onnx/types';
import { inferShapes, type ShapeInference } from '../shapes/infer';
import { defaultOpset, GraphEdit, makeNode, withGraph } from './graphEdit';
import { convertOpset } from './opsetConvert';
import {
  CompressionRefusal,
  compressionResult,
  modelFigures,
  type CompressionResult,
} from './summary';

export type FloatFormat = 'fp16' | 'bf16';

export interface ConvertFloatOptions {
  format: FloatFormat;
}

/**
 * How ONNX Runtime's CPU provider (onnxruntime-node 1.30, x64) runs an op given float16 tensors:
 * - 'native': it has a float16 kernel;
 * - 'ort-casts': it has none, but loads the model and runs the op in float32 through Casts it
 *   inserts itself (its InsertCastTransformer); GPUs, NPUs and ORT on ARM64 run these in float16.
 * Measured with opsets 13, 17 and 21 (HardSwish, Trilu, CumSum from 14, Gelu 20, Mish and the
 * Reduce ops with axes as input 18, GroupNormalization 21).
 */
export const FP16_OPS: Readonly<Record<string, 'native' | 'ort-casts'>> = {
  // Native float16 kernels.
  Cast: 'native',
  Clip: 'native',
  Concat: 'native',
  Constant: 'native',
  ConstantOfShape: 'native',
  Expand: 'native',
  Flatten: 'native',
  Gather: 'native',
  Identity: 'native',
  IsNaN: 'native',
  LayerNormalization: 'native',
  Max: 'native',
  Min: 'native',
  Reshape: 'native',
  Round: 'native',
  Shape: 'native',
  Sign: 'native',
  Slice: 'native',
  Split: 'native',
  Squeeze: 'native',
  Transpose: 'native',
  Unsqueeze: 'native',
  // No float16 kernel on ORT's CPU provider: ORT computes them in float32 through its own Casts.
  Abs: 'ort-casts',
  Add: 'ort-casts',
  ArgMax: 'ort-casts',
  AveragePool: 'ort-casts',
  BatchNormalization: 'ort-casts',
  Ceil: 'ort-casts',
  Conv: 'ort-casts',
  ConvTranspose: 'ort-casts',
  Cos: 'ort-casts',
  CumSum: 'ort-casts',
  DepthToSpace: 'ort-casts',
  Div: 'ort-casts',
  Dropout: 'ort-casts',
  Einsum: 'ort-casts',
  Elu: 'ort-casts',
  Equal: 'ort-casts',
  Erf: 'ort-casts',
  Exp: 'ort-casts',
  Floor: 'ort-casts',
  Gelu: 'ort-casts',
  Gemm: 'ort-casts',
  GlobalAveragePool: 'ort-casts',
  GlobalMaxPool: 'ort-casts',
  Greater: 'ort-casts',
  GroupNormalization: 'ort-casts',
  GRU: 'ort-casts',
  HardSigmoid: 'ort-casts',
  HardSwish: 'ort-casts',
  Hardmax: 'ort-casts',
  InstanceNormalization: 'ort-casts',
  LeakyRelu: 'ort-casts',
  Less: 'ort-casts',
  Log: 'ort-casts',
  LogSoftmax: 'ort-casts',
  LpNormalization: 'ort-casts',
  LRN: 'ort-casts',
  LSTM: 'ort-casts',
  MatMul: 'ort-casts',
  MaxPool: 'ort-casts',
  Mean: 'ort-casts',
  Mish: 'ort-casts',
  Mul: 'ort-casts',
  Neg: 'ort-casts',
  Pad: 'ort-casts',
  Pow: 'ort-casts',
  PRelu: 'ort-casts',
  Reciprocal: 'ort-casts',
  ReduceL2: 'ort-casts',
  ReduceLogSumExp: 'ort-casts',
  ReduceMax: 'ort-casts',
  ReduceMean: 'ort-casts',
  ReduceMin: 'ort-casts',
  ReduceProd: 'ort-casts',
  ReduceSum: 'ort-casts',
  Relu: 'ort-casts',
  Resize: 'ort-casts',
  RNN: 'ort-casts',
  Selu: 'ort-casts',
  Sigmoid: 'ort-casts',
  Sin: 'ort-casts',
  Softmax: 'ort-casts',
  Softplus: 'ort-casts',
  SpaceToDepth: 'ort-casts',
  Sqrt: 'ort-casts',
  Sub: 'ort-casts',
  Sum: 'ort-casts',
  Tanh: 'ort-casts',
  Tile: 'ort-casts',
  TopK: 'ort-casts',
  Trilu: 'ort-casts',
  Where: 'ort-casts',
};

/** Ops measured to have no float16 path at all: they stay float32 behind Casts. */
export const FP16_REFUSED: Readonly<Record<string, string>> = {
  Range: 'the ONNX schema has no float16 type for Range',
  Upsample: 'ONNX Runtime has no float16 Upsample (deprecated; Resize has one)',
  QuantizeLinear: 'its scale sets the float type; kept float32 with the quantized graph',
  DequantizeLinear: 'its scale sets the float type; kept float32 with the quantized graph',
};

/**
 * Float inputs that keep their own type when the op computes in float16 (the schema gives them
 * a type variable of their own): Resize's roi and scales. And float outputs that stay float32:
 * LayerNormalization's mean and inverse standard deviation (stash_type).
 */
const FLOAT32_INPUTS: Readonly<Record<string, readonly number[]>> = { Resize: [1, 2] };
const FLOAT32_OUTPUTS: Readonly<Record<string, readonly number[]>> = {
  LayerNormalization: [1, 2],
};

const FP16_MAX = 65504;

/** float32 → IEEE half bits, rounding to nearest even; beyond ±65504 saturates (counted). */
export function floatToHalfBits(value: number): number {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7bff; // saturate to the largest finite half
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  if ((half & 0x7c00) === 0x7c00) return sign | 0x7bff;
  return sign | half;
}

/** float32 → bfloat16 bits (the top half), rounding to nearest even. */
export function floatToBfloat16Bits(value: number): number {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0];
  if ((x & 0x7f800000) === 0x7f800000) return (x >>> 16) | ((x & 0xffff) !== 0 ? 0x40 : 0);
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/**
 * A float tensor's values re-encoded as float16 or bfloat16, under the same name. Counts the
 * values that float16 saturates (beyond ±65504) and the squared error, for the summary.
 */
export function encodeHalfTensor(
  t: Tensor,
  ext: ExternalData | undefined,
  dataType: DataType.FLOAT16 | DataType.BFLOAT16,
  name = t.name,
  stats?: { saturated: number; signal: number; noise: number },
): Tensor {
  const n = elementCount(t.dims);
  const bits = new Uint16Array(n);
  const encode = dataType === DataType.FLOAT16 ? floatToHalfBits : floatToBfloat16Bits;
  const decode = dataType === DataType.FLOAT16 ? halfToFloat : bfloatToFloat;
  forEachFloatChunk(t, ext, (chunk, start) => {
    for (let j = 0; j < chunk.length; j++) {
      const v = chunk[j];
      const b = encode(v);
      bits[start + j] = b;
      if (stats) {
        if (dataType === DataType.FLOAT16 && Math.abs(v) > FP16_MAX) stats.saturated++;
        const err = v - decode(b);
        stats.signal += v * v;
        stats.noise += err * err;
      }
    }
  });
  return makeTensor(name, dataType, t.dims, new Uint8Array(bits.buffer));
}

export function convertFloat(
  model: Model,
  options: ConvertFloatOptions,
  external?: ExternalData,
): CompressionResult {
  const ext = external ?? new ExternalData(undefined);
  return options.format === 'fp16' ? convertFp16(model, ext) : convertBf16(model, ext);
}

function analyse(
  model: Model,
  ext: ExternalData,
  subgraphs: 'refuse' | 'allow',
): { view: GraphView; shapes: ShapeInference } {
  const nested = model.graph.nodes.some((n) =>
    n.attributes.some((a) => a.g || a.graphs.length > 0),
  );
  if (subgraphs === 'refuse' && nested) {
    throw new CompressionRefusal(
      'fp16: models with sub-graphs (If/Loop/Scan) are not converted yet; bf16 is',
    );
  }
  const view = buildGraphView(model.graph);
  const shapes = inferShapes(view, { opsets: opsetVersions(model), external: ext });
  return { view, shapes };
}

/** The stored tensor of an initializer or a Constant node's `value`. */
function constantTensor(name: string, view: GraphView): Tensor | undefined {
  const init = view.initializers.get(name);
  if (init) return init;
  const producer = view.producer.get(name);
  if (producer?.opType !== 'Constant') return undefined;
  return producer.attributes.find((a) => a.name === 'value')?.t;
}

function convertFp16(model: Model, ext: ExternalData): CompressionResult {
  const before = modelFigures(model, ext);
  const inits = model.graph.initializers;
  if (
    inits.some((t) => t.dataType === DataType.FLOAT16) &&
    !inits.some((t) => t.dataType === DataType.FLOAT && elementCount(t.dims) > 1)
  ) {
    throw new CompressionRefusal('fp16: the model already stores its weights in float16');
  }
  const { view, shapes } = analyse(model, ext, 'refuse');
  const isFloat = (name: string): boolean =>
    !!name &&
    (view.initializers.get(name)?.dataType ?? shapes.types.get(name)?.dtype) === DataType.FLOAT;

  // 1. Which nodes compute in float16: an op with a float16 path that touches a float tensor.
  const fp16Nodes = new Set<Node>();
  const keptFloat = new Map<string, number>();
  const ortCasts = new Map<string, number>();
  for (const node of view.order) {
    const floats = [...node.inputs, ...node.outputs].some(isFloat);
    if (!floats) continue;
    const support =
      node.domain === '' || node.domain === 'ai.onnx' ? FP16_OPS[node.opType] : undefined;
    const constantOk =
      node.opType !== 'Constant' ||
      node.attributes.find((a) => a.name === 'value')?.t?.dataType === DataType.FLOAT;
    if (support && constantOk) {
      fp16Nodes.add(node);
      if (support === 'ort-casts') ortCasts.set(node.opType, (ortCasts.get(node.opType) ?? 0) + 1);
    } else if (node.opType !== 'Constant') {
      keptFloat.set(node.opType, (keptFloat.get(node.opType) ?? 0) + 1);
    }
  }
  if (fp16Nodes.size === 0) {
    const ops = [...keptFloat.keys()].join(', ');
    throw new CompressionRefusal(
      ops
        ? `fp16: no op of this model has a float16 path (${ops})`
        : 'fp16: no float32 tensor to convert',
    );
  }

  // 2. Which float tensors become float16: the float outputs of float16 nodes, and the float
  // initializers that a float16 node reads in a float16 slot.
  const fp16Slot = (node: Node, i: number): boolean =>
    fp16Nodes.has(node) && !(FLOAT32_INPUTS[node.opType] ?? []).includes(i);
  const half = new Set<string>();
  for (const node of fp16Nodes) {
    node.outputs.forEach((o, i) => {
      if (isFloat(o) && !(FLOAT32_OUTPUTS[node.opType] ?? []).includes(i)) half.add(o);
    });
  }
  const graphInputs = new Set(model.graph.inputs.map((i) => i.name));
  for (const t of model.graph.initializers) {
    if (t.dataType !== DataType.FLOAT || graphInputs.has(t.name)) continue;
    const readers = view.consumers.get(t.name) ?? [];
    if (readers.some((c) => c.inputs.some((n, i) => n === t.name && fp16Slot(c, i))))
      half.add(t.name);
  }

  // 3. Rewrite: convert the tensors, give each node the type it computes in (Casts between),
  // and keep the graph outputs float32.
  const edit = new GraphEdit(model.graph);
  const stats = { saturated: 0, signal: 0, noise: 0 };
  for (const name of half) {
    const init = view.initializers.get(name);
    if (init) edit.setInitializer(encodeHalfTensor(init, ext, DataType.FLOAT16, name, stats));
  }
  const outputs = new Set(model.graph.outputs.map((o) => o.name));
  const renamed = new Map<string, string>();
  for (const o of outputs) if (half.has(o)) renamed.set(o, edit.uniqueName(`${o}_fp16`));
  const casts = new Map<string, string>();
  let castCount = 0;
  const castOf = (name: string, to: DataType, before: Node): string => {
    const key = `${name}\u0000${to}`;
    const known = casts.get(key);
    if (known) return known;
    const source = renamed.get(name) ?? name;
    const out = edit.uniqueName(`${name}_${to === DataType.FLOAT16 ? 'fp16' : 'fp32'}`);
    edit.insertBefore(before, [
      makeNode({
        name: edit.uniqueName(`${out}_Cast`),
        opType: 'Cast',
        inputs: [source],
        outputs: [out],
        attributes: [makeAttribute('to', to)],
      }),
    ]);
    castCount++;
    casts.set(key, out);
    return out;
  };
  const original = new Set(model.graph.nodes);
  for (const node of view.order) {
    if (!original.has(node)) continue; // sub-graph nodes are refused above
    const inputs = node.inputs.map((name, i) => {
      if (!isFloat(name)) return renamed.get(name) ?? name;
      const want = fp16Slot(node, i) ? DataType.FLOAT16 : DataType.FLOAT;
      const have = half.has(name) ? DataType.FLOAT16 : DataType.FLOAT;
      return want === have ? (renamed.get(name) ?? name) : castOf(name, want, node);
    });
    const outputsOf = node.outputs.map((o) => renamed.get(o) ?? o);
    let attributes = node.attributes;
    if (fp16Nodes.has(node)) attributes = attributes.map((a) => fp16Attribute(node, a, ext, stats));
    if (
      node.opType === 'ConstantOfShape' &&
      fp16Nodes.has(node) &&
      !attributes.some((a) => a.name === 'value')
    ) {
      attributes = [
        ...attributes,
        makeAttribute('value', makeTensor('value', DataType.FLOAT16, [1], [0])),
      ];
    }
    const changed =
      attributes !== node.attributes ||
      inputs.some((n, i) => n !== node.inputs[i]) ||
      outputsOf.some((n, i) => n !== node.outputs[i]);
    const replacement: Node[] = [];
    if (changed) {
      const { raw: _raw, ...rest } = node;
      replacement.push({ ...rest, inputs, outputs: outputsOf, attributes });
    } else replacement.push(node);
    for (const o of node.outputs) {
      const internal = renamed.get(o);
      if (!internal) continue;
      replacement.push(
        makeNode({
          name: edit.uniqueName(`${o}_Cast`),
          opType: 'Cast',
          inputs: [internal],
          outputs: [o],
          attributes: [makeAttribute('to', DataType.FLOAT)],
        }),
      );
      castCount++;
    }
    if (replacement.length > 1 || replacement[0] !== node) edit.replaceNode(node, replacement);
  }
  const graph = retype(edit.build(), half, renamed);
  const converted = raise(withGraph(model, graph), 6, ext, 'Cast');

  const notes: string[] = [];
  const weightsDb = stats.noise > 0 ? 10 * Math.log10(stats.signal / stats.noise) : Infinity;
  notes.push(
    `${half.size} float32 tensors now float16 (weights SQNR ${Number.isFinite(weightsDb) ? `${weightsDb.toFixed(1)} dB` : 'exact'}); graph inputs and outputs kept float32 (${castCount} Cast nodes at the edges and around float32 ops)`,
  );
  if (stats.saturated > 0) {
    notes.push(`${stats.saturated} weight value(s) beyond ±65504 saturated to the largest float16`);
  }
  if (keptFloat.size > 0) {
    const list = [...keptFloat].map(
      ([op, n]) => `${op} ×${n}${FP16_REFUSED[op] ? ` (${FP16_REFUSED[op]})` : ''}`,
    );
    notes.push(`kept float32 (no float16 path): ${list.join(', ')}`);
  }
  if (ortCasts.size > 0) {
    const list = [...ortCasts].map(([op, n]) => `${op} ×${n}`).join(', ');
    notes.push(
      `ONNX Runtime's CPU provider has no float16 kernel for ${list}: it runs them in float32 through Casts it inserts itself (GPU, NPU and ARM64 providers run them in float16)`,
    );
  }
  const touched = view.order
    .filter((n) => fp16Nodes.has(n))
    .map((n) => nodeLabel(n, view.order.indexOf(n)));
  return compressionResult('convert fp16', before, converted.model, ext, touched, [
    ...notes,
    ...converted.notes,
  ]);
}

/** An fp16 node's float attributes: Constant's value, ConstantOfShape's value, Cast's `to`. */
function fp16Attribute(
  node: Node,
  a: Attribute,
  ext: ExternalData,
  stats: { saturated: number; signal: number; noise: number },
): Attribute {
  if (node.opType === 'Cast' && a.name === 'to' && a.i === DataType.FLOAT) {
    return makeAttribute('to', DataType.FLOAT16);
  }
  if (
    (node.opType === 'Constant' || node.opType === 'ConstantOfShape') &&
    a.name === 'value' &&
    a.type === AttributeType.TENSOR &&
    a.t?.dataType === DataType.FLOAT
  ) {
    return makeAttribute('value', encodeHalfTensor(a.t, ext, DataType.FLOAT16, a.t.name, stats));
  }
  return a;
}

/** value_info entries (and graph outputs read through a rename) declared with their new types. */
function retype(
  graph: Graph,
  half: ReadonlySet<string>,
  renamed: ReadonlyMap<string, string>,
): Graph {
  const internal = new Set(renamed.values());
  const valueInfo: ValueInfo[] = [];
  for (const v of graph.valueInfo) {
    if (!half.has(v.name) || !v.type) {
      valueInfo.push(v);
      continue;
    }
    const { raw: _raw, ...rest } = v;
    const { raw: _t, ...type } = v.type;
    const retyped = { ...rest, type: { ...type, elemType: DataType.FLOAT16 } };
    if (renamed.has(v.name)) {
      valueInfo.push({ ...retyped, name: renamed.get(v.name)! });
    } else valueInfo.push(retyped);
  }
  void internal;
  return { ...graph, valueInfo };
}

function raise(
  model: Model,
  opset: number,
  ext: ExternalData,
  reason: string,
): { model: Model; notes: string[] } {
  if (defaultOpset(model) >= opset) return { model, notes: [] };
  const raised = convertOpset(model, opset, { external: ext, reason });
  return { model: raised.model, notes: raised.notes };
}

/**
 * bf16: every float32 weight (weights.ts's slots, traced to the stored tensor by weightOrigin)
 * stored as bfloat16, read through Cast(to=FLOAT) under its old name, so every consumer computes
 * in float32 as before. Cast from bfloat16 needs opset 13.
 */
function convertBf16(model: Model, ext: ExternalData): CompressionResult {
  const before = modelFigures(model, ext);
  // Sub-graphs read the weights by name, which the Cast keeps: they need no change.
  const { view, shapes } = analyse(model, ext, 'allow');
  const isConstant = (n: string): boolean => shapes.constants.has(n);
  const elements = (n: string): number => {
    const t = shapes.types.get(n);
    return t?.shape && t.shape.every((d) => typeof d === 'number')
      ? elementCount(t.shape as number[])
      : 0;
  };
  const sources = new Map<string, string[]>();
  view.order.forEach((node, index) => {
    for (const i of weightInputIndices(node, isConstant, elements)) {
      const origin = weightOrigin(node.inputs[i], view, shapes);
      if (!origin || origin.dtype !== DataType.FLOAT) continue;
      const tensor = constantTensor(origin.source, view);
      if (!tensor || tensor.dataType !== DataType.FLOAT) continue;
      const list = sources.get(origin.source) ?? [];
      list.push(nodeLabel(node, index));
      sources.set(origin.source, list);
    }
  });
  if (sources.size === 0) throw new CompressionRefusal('bf16: no float32 weight to convert');
  const edit = new GraphEdit(model.graph);
  const stats = { saturated: 0, signal: 0, noise: 0 };
  for (const source of sources.keys()) {
    const tensor = constantTensor(source, view)!;
    const stored = edit.uniqueName(`${source}_bf16`);
    const cast = makeNode({
      name: edit.uniqueName(`${source}_Cast`),
      opType: 'Cast',
      inputs: [stored],
      outputs: [source],
      attributes: [makeAttribute('to', DataType.FLOAT)],
    });
    edit.setInitializer(encodeHalfTensor(tensor, ext, DataType.BFLOAT16, stored, stats));
    const constant = view.producer.get(source);
    if (constant) {
      edit.replaceNode(constant, cast);
      continue;
    }
    edit.removeInitializer(source);
    // nodeDependencies: a sub-graph's reads of the outer weight count.
    const first = model.graph.nodes.find((n) => nodeDependencies(n).includes(source));
    if (first) edit.insertBefore(first, [cast]);
  }
  const converted = raise(withGraph(model, edit.build()), 13, ext, 'Cast from bfloat16');
  const db = stats.noise > 0 ? 10 * Math.log10(stats.signal / stats.noise) : Infinity;
  const notes = [
    `${sources.size} float32 weights stored as bfloat16 (weights SQNR ${Number.isFinite(db) ? `${db.toFixed(1)} dB` : 'exact'})`,
    "compute stays float32: each weight is cast up (Cast to=FLOAT), as ONNX Runtime's CPU provider has no bfloat16 kernels for these ops",
    ...converted.notes,
  ];
  const touched = [...new Set([...sources.values()].flat())];
  return compressionResult('convert bf16', before, converted.model, ext, touched, notes);
}
