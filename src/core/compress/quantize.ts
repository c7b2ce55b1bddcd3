/**
 * Weight quantization (conventions.md "Compression formats"): each selected layer's float main
 * weight becomes a quantized initializer (int8/uint8, or int4/uint4 at opset ≥ 21) feeding a
 * DequantizeLinear with float32 scales. The DequantizeLinear outputs the weight's original name,
 * so every consumer (Identity chains of shared weights, several layers, sub-graphs) reads the
 * dequantized weight without being rewritten, and the nodes themselves keep their bytes. The
 * float initializer (or Constant node) it replaces is gone, so the file shrinks.
 */
import { opsetVersions } from '../onnx/opsets';
import { mainWeight, WEIGHT_LAYER_OPS } from '../cost/weights';
import { weightOrigin } from '../cost/weightOrigin';
import {
  castReplacements,
  dequantizeTarget,
  isHalfType,
  scaleTensor,
  WEIGHT_FLOAT_TYPES,
} from './halfWeights';
import { buildGraphView, nodeDependencies, nodeLabel, type GraphView } from '../graph/graph';
import { makeAttribute, makeTensor } from '../onnx/build';
import { dtypeBits, dtypeName } from '../onnx/dtype';
import { ExternalData } from '../onnx/externalData';
import { DataType, type Model, type Node, type Tensor } from '../onnx/types';
import { inferShapes, type ShapeInference } from '../shapes/infer';
import { GraphEdit, makeNode, withGraph } from './graphEdit';
import { weightChain } from './weightChain';
import { conversionRefusal, convertOpset } from './opsetConvert';
import { gridContainer, quantizeToGrid } from './lowBitGrids';
import { weightBitsDoc, weightGridDoc } from '../cost/nodeFigures';
import type { WeightGrid } from '../numerics/gridLevels';
import {
  checkFormat,
  formatBits,
  formatCounts,
  formatName,
  type GridFormat,
  type WeightFormat,
} from './weightFormat';
import {
  containerType,
  quantRange,
  quantizeTensor,
  storeValue,
  type QuantizedWeight,
  type QuantScheme,
} from './quantizeMath';
import {
  CompressionRefusal,
  type CompressionResult,
  compressionResult,
  modelFigures,
} from './summary';

export interface QuantizeOptions {
  /** 2..8; 8 → int8/uint8, 4 → int4/uint4 (opset ≥ 21), other k → int8/uint8 clipped to k bits. */
  bits: number;
  /** Default true (int8/int4); false → uint8/uint4. */
  signed?: boolean;
  /** Default true; asymmetric → zero point. */
  symmetric?: boolean;
  /** Default true; the axis comes from mainWeight(). */
  perChannel?: boolean;
  /** Node names; default every layer with a float main weight. */
  layers?: readonly string[];
  /** Bits per node, overriding `bits`. Not with `grid` (use `formatPerLayer` to mix them). */
  bitsPerLayer?: ReadonlyMap<string, number>;
  /**
   * A multiplier-free grid (lowBitGrids.ts): pow2 (`bits` 3..8, levels 0, ±1 … ±2^(bits−2)),
   * ternary or binary (`bits` ignored), per output channel, symmetric.
   */
  grid?: WeightGrid;
  /**
   * Format per node, overriding `bits` and `grid`: an integer width (2..8) or a grid
   * (`{grid: 'ternary'}`, `{grid: 'binary'}`, `{grid: 'pow2', bits: N}`), so one model mixes
   * them (fit to device). Each stored weight gets its own; a grid weight carries its doc_string
   * marker as with `grid`. Not with `bitsPerLayer` (one per-layer map).
   */
  formatPerLayer?: ReadonlyMap<string, WeightFormat>;
  /**
   * Weights already rounded, by stored weight name (calibrated/calibratedQuantize.ts: error-
   * compensating rounding on calibration data), written as given instead of rounded to nearest.
   * Each must have the plan's container type and axis.
   */
  rounded?: ReadonlyMap<string, QuantizedWeight>;
  /** Says how weights were rounded, first among the notes. */
  roundingNote?: string;
}

/** A layer whose main weight can be quantized. */
interface Layer {
  readonly node: Node;
  readonly label: string;
  readonly source: string;
  readonly tensor: Tensor;
  /** The channel axis in the stored tensor's layout. */
  readonly axis: number;
  /**
   * When the layer reads the weight through Transpose nodes: axis i of what it reads is axis
   * perm[i] of the stored tensor (exporters such as torch's dynamo write MatMul(x, Transpose(W))).
   */
  readonly perm?: readonly number[];
}

/** One stored weight to quantize, with every layer that reads it. */
export interface WeightPlan {
  readonly source: string;
  readonly tensor: Tensor;
  /** What its layers asked for; `scheme.bits` is its logical width. */
  readonly format: WeightFormat;
  readonly scheme: QuantScheme;
  readonly axis?: number;
  readonly layers: string[];
  /** The first layer's node. */
  readonly node: Node;
  /** As Layer's: the transposition between the stored weight and what the layers read. */
  readonly perm?: readonly number[];
}

export function quantizeWeights(
  model: Model,
  options: QuantizeOptions,
  external?: ExternalData,
): CompressionResult {
  const ext = external ?? new ExternalData(undefined);
  const before = modelFigures(model, ext);
  const notes: string[] = options.roundingNote ? [options.roundingNote] : [];
  const { view, plans } = planQuantization(model, options, ext, notes);
  // Ternary/binary in int2 (opset 25) when the model is there or converts there, else int4 (21):
  // a model holding an op ONNX Runtime has no opset-25 kernel for stays at 21.
  const wantsInt2 = plans.some((p) => {
    const g = gridOf(p)?.grid;
    return g === 'ternary' || g === 'binary';
  });
  const int2Refusal = wantsInt2 ? conversionRefusal(model, 25, { external: ext }) : undefined;
  const int2 = wantsInt2 && int2Refusal === undefined;
  const edit = new GraphEdit(model.graph);
  const touched: string[] = [];
  const error = { signal: 0, noise: 0 };
  for (const plan of plans) {
    const q = applyPlan(edit, view, plan, ext, int2, options.rounded?.get(plan.source));
    error.signal += q.signal;
    error.noise += q.noise;
    touched.push(...plan.layers);
  }
  const quantized = raiseOpset(withGraph(model, edit.build()), plans, options, notes, ext, int2);
  notes.push(...gridPlanNotes(plans, options, int2, int2Refusal));
  notes.push(...formatNotes(view, plans));
  if (error.noise > 0) {
    const db = 10 * Math.log10(error.signal / error.noise);
    notes.push(`weight SQNR over the quantized weights: ${db.toFixed(1)} dB`);
  }
  return compressionResult(operationName(options, plans), before, quantized, ext, touched, notes);
}

/**
 * The stored weights quantizeWeights would quantize with these options, each with its format,
 * scheme and axis (for a rounding done elsewhere, see `rounded`). Refuses as quantizeWeights does.
 */
export function planQuantization(
  model: Model,
  options: QuantizeOptions,
  ext: ExternalData,
  notes: string[] = [],
): { view: GraphView; plans: WeightPlan[] } {
  checkOptions(options);
  const view = buildGraphView(model.graph);
  const shapes = inferShapes(view, { opsets: opsetVersions(model), external: ext });
  return { view, plans: planWeights(view, shapes, options, notes) };
}

/** The format of layers not in a per-layer map: `grid` (with `bits` for pow2), else `bits`. */
function defaultFormat(options: QuantizeOptions): WeightFormat {
  if (options.grid === undefined) return options.bits;
  return options.grid === 'pow2' ? { grid: 'pow2', bits: options.bits } : { grid: options.grid };
}

function formatFor(label: string, options: QuantizeOptions): WeightFormat {
  return (
    options.formatPerLayer?.get(label) ?? options.bitsPerLayer?.get(label) ?? defaultFormat(options)
  );
}

function checkOptions(options: QuantizeOptions): void {
  if (options.bitsPerLayer?.size && options.formatPerLayer?.size) {
    throw new CompressionRefusal(
      'give per-layer widths as bitsPerLayer or formatPerLayer, not both',
    );
  }
  if (options.grid !== undefined && options.bitsPerLayer?.size) {
    throw new CompressionRefusal(
      `${options.grid} weights take no per-layer bits (formatPerLayer mixes grids and widths)`,
    );
  }
  const perLayer = [...(options.formatPerLayer ?? options.bitsPerLayer ?? [])];
  const grid = [defaultFormat(options), ...perLayer.map(([, f]) => f)].find(
    (f): f is GridFormat => typeof f !== 'number',
  );
  if (grid && (options.symmetric === false || options.signed === false)) {
    throw new CompressionRefusal(`${grid.grid} weights are signed and symmetric`);
  }
  // A model-wide grid ignores `bits` unless it is pow2 (whose N it is).
  checkFormat(defaultFormat(options), options.grid === 'pow2' ? 'pow2' : 'quantize');
  for (const [name, f] of perLayer) {
    checkFormat(f, `layer '${name}'${typeof f === 'number' || f.grid !== 'pow2' ? '' : ' pow2'}`);
  }
}

function schemeFor(format: WeightFormat, options: QuantizeOptions): QuantScheme {
  return {
    bits: formatBits(format),
    signed: options.signed ?? true,
    symmetric: options.symmetric ?? true,
  };
}

/** Why a node's main weight can't be quantized, or the layer when it can. */
function inspectLayer(
  node: Node,
  label: string,
  view: GraphView,
  shapes: ShapeInference,
): Layer | string {
  const rank = (i: number): number | undefined => shapes.types.get(node.inputs[i])?.shape?.length;
  const main = mainWeight(node, rank);
  if (!main) return `layer '${label}' (${node.opType}) has no known weight axis`;
  const input = node.inputs[main.input];
  const origin = input ? weightOrigin(input, view, shapes) : undefined;
  if (!origin)
    return `layer '${label}' has no constant weight (its input '${input}' is not a constant)`;
  const chain = weightChain(input, origin.source, view, rank(main.input));
  if ('reason' in chain) {
    return chain.quantized
      ? `layer '${label}' is already quantized (${chain.reason})`
      : `layer '${label}': ${chain.reason}`;
  }
  const { perm } = chain;
  const tensor = storedTensor(origin.source, view);
  if (!tensor) return `layer '${label}': weight '${origin.source}' is not stored as a tensor`;
  if (!WEIGHT_FLOAT_TYPES.has(tensor.dataType)) {
    return `layer '${label}': weight '${origin.source}' is ${dtypeName(tensor.dataType)}; only float32/float16/bfloat16 weights are quantized`;
  }
  const axis = perm ? perm[main.channelAxis] : main.channelAxis;
  return { node, label, source: origin.source, tensor, axis, ...(perm ? { perm } : {}) };
}

/** The initializer, or the `value` tensor of the Constant node, named `source`. */
function storedTensor(source: string, view: GraphView): Tensor | undefined {
  if (view.graph.initializers.some((t) => t.name === source)) return view.initializers.get(source);
  const producer = view.producer.get(source);
  if (producer?.opType !== 'Constant') return undefined;
  return producer.attributes.find((a) => a.name === 'value')?.t;
}

/** Every layer to quantize, grouped by stored weight. Refuses what was asked for but can't be. */
function planWeights(
  view: GraphView,
  shapes: ShapeInference,
  options: QuantizeOptions,
  notes: string[],
): WeightPlan[] {
  const labels = view.order.map((n, i) => nodeLabel(n, i));
  const byName = new Map(labels.map((l, i) => [l, view.order[i]]));
  const perLayer = options.formatPerLayer ?? options.bitsPerLayer;
  for (const name of [...(options.layers ?? []), ...(perLayer?.keys() ?? [])]) {
    if (!byName.has(name)) throw new CompressionRefusal(`no layer named '${name}'`);
  }
  const requested = options.layers ? new Set(options.layers) : undefined;
  const layers: Layer[] = [];
  let skipped = 0;
  view.order.forEach((node, i) => {
    const label = labels[i];
    if (requested ? !requested.has(label) : !WEIGHT_LAYER_OPS.has(node.opType)) return;
    const layer = inspectLayer(node, label, view, shapes);
    if (typeof layer !== 'string') layers.push(layer);
    else if (requested) throw new CompressionRefusal(layer);
    else if (/already quantized|not a constant/.test(layer)) skipped++;
    else notes.push(`skipped: ${layer}`);
  });
  if (skipped > 0) {
    notes.push(
      `skipped ${skipped} layer(s) without a constant float weight (run-time input or already quantized)`,
    );
  }
  if (layers.length === 0) throw new CompressionRefusal('no layer with a float weight to quantize');
  return groupBySource(layers, options);
}

/** One plan per stored weight; layers sharing it must agree on format and axis. */
function groupBySource(layers: readonly Layer[], options: QuantizeOptions): WeightPlan[] {
  const perChannel = options.perChannel ?? true;
  const plans = new Map<string, WeightPlan>();
  for (const layer of layers) {
    const format = formatFor(layer.label, options);
    const scheme = schemeFor(format, options);
    const axis = perChannel ? layer.axis : undefined;
    const plan = plans.get(layer.source);
    if (!plan) {
      plans.set(layer.source, { ...layer, format, scheme, axis, layers: [layer.label] });
      continue;
    }
    if (formatName(plan.format) !== formatName(format) || plan.axis !== axis) {
      throw new CompressionRefusal(
        `layers '${plan.layers[0]}' and '${layer.label}' share weight '${layer.source}' but need different formats or channel axes`,
      );
    }
    plan.layers.push(layer.label);
  }
  return [...plans.values()];
}

/**
 * DequantizeLinear exists from opset 10, takes `axis` (per channel) from 13 and int4/uint4 from
 * 21: the quantized model is converted to the opset its DequantizeLinear nodes need
 * (opsetConvert.ts, which rewrites the nodes whose meaning changed on the way).
 */
function raiseOpset(
  model: Model,
  plans: readonly WeightPlan[],
  options: QuantizeOptions,
  notes: string[],
  external: ExternalData,
  int2: boolean,
): Model {
  const needs = (p: WeightPlan): number => {
    const dt = containerOf(p, int2);
    if (dt === DataType.INT2) return 25;
    if (dt === DataType.INT4 || dt === DataType.UINT4) return 21;
    if (isHalfType(p.tensor.dataType) && model.graph.nodes.some((n) => n.inputs.includes(p.source)))
      return 19; // its DequantizeLinear outputs float16/bfloat16 (halfWeights.ts)
    return p.axis !== undefined ? 13 : 10;
  };
  const required = Math.max(...plans.map(needs));
  const reason =
    required === 21
      ? 'int4/uint4'
      : required === 19
        ? 'float16 DequantizeLinear'
        : required === 13
          ? 'per-channel scales'
          : 'DequantizeLinear';
  const perTensorHint =
    required === 13 && options.perChannel !== false ? ' (per-tensor needs only opset 10)' : '';
  // Name the grids when they alone need int4 or int2 ("ternary weights in int4").
  const int2Grids = [...new Set(plans.filter((p) => needs(p) === 25).map((p) => gridOf(p)?.grid))];
  const int4 = plans.filter((p) => needs(p) === 21);
  const int4Grids = [...new Set(int4.map((p) => gridOf(p)?.grid))];
  const gridReason = int4Grids.every((g) => g !== undefined)
    ? `${int4Grids.join('/')} weights in int4`
    : undefined;
  const raised = convertOpset(model, required, {
    external,
    reason:
      required === 25
        ? `${int2Grids.join('/')} weights in int2`
        : required === 21
          ? (gridReason ?? reason)
          : reason,
    refusalHint: perTensorHint,
  });
  notes.push(...raised.notes);
  return raised.model;
}

/** The plan's grid, or undefined for an integer width. */
function gridOf(plan: WeightPlan): GridFormat | undefined {
  return typeof plan.format === 'number' ? undefined : plan.format;
}

/** The stored integer type of a plan's values. */
function containerOf(plan: WeightPlan, int2: boolean): DataType {
  const grid = gridOf(plan);
  return grid ? gridContainer(grid.grid, plan.scheme.bits, int2) : containerType(plan.scheme);
}

/** Adds the quantized tensor, its scale and zero point, and the DequantizeLinear. */
function applyPlan(
  edit: GraphEdit,
  view: GraphView,
  plan: WeightPlan,
  ext: ExternalData,
  int2: boolean,
  rounded: QuantizedWeight | undefined,
): QuantizedWeight {
  const grid = gridOf(plan)?.grid;
  const q =
    rounded ??
    (grid
      ? quantizeToGrid(plan.tensor, ext, grid, plan.scheme.bits, plan.axis, int2)
      : quantizeTensor(plan.tensor, ext, plan.scheme, plan.axis));
  const base = plan.source;
  const qName = edit.uniqueName(`${base}_quantized`);
  const scaleName = edit.uniqueName(`${base}_scale`);
  const paramDims = plan.axis === undefined ? [] : [q.scales.length];
  const stored = makeTensor(qName, q.dataType, plan.tensor.dims, q.data);
  // The logical width travels with the values, for the analysis (recordedWeightBits).
  const docString = grid
    ? weightGridDoc(grid, plan.scheme.bits)
    : plan.scheme.bits < dtypeBits(q.dataType)
      ? weightBitsDoc(plan.scheme.bits)
      : '';
  edit.setInitializer(docString ? { ...stored, docString } : stored);
  // float16/bfloat16 weights (halfWeights.ts): the DequantizeLinear replaces their Cast, or
  // produces their own type for a float16 reader.
  const target = dequantizeTarget(view, base, plan.tensor.dataType);
  edit.setInitializer(scaleTensor(scaleName, target.scaleType, paramDims, q.scales));
  const inputs = [qName, scaleName];
  // A zero point of 0 is the default (of x's type); store one only when it isn't all zeros.
  if (q.zeroPoints.some((z) => z !== 0)) {
    const zpName = edit.uniqueName(`${base}_zero_point`);
    edit.setInitializer(makeTensor(zpName, q.dataType, paramDims, zeroPointBytes(q)));
    inputs.push(zpName);
  }
  const dq = makeNode({
    name: edit.uniqueName(`${base}_DequantizeLinear`),
    opType: 'DequantizeLinear',
    inputs,
    outputs: [target.output],
    attributes: plan.axis === undefined ? [] : [makeAttribute('axis', plan.axis)],
  });
  if (target.cast) {
    const stored = view.producer.get(base);
    if (stored) edit.replaceNode(stored, []);
    else edit.removeInitializer(base);
    edit.replaceNode(target.cast, dq);
    for (const { cast, identity } of castReplacements(target)) edit.replaceNode(cast, identity);
    return q;
  }
  const constant = view.producer.get(base);
  if (constant) {
    edit.replaceNode(constant, dq);
    return q;
  }
  edit.removeInitializer(base);
  // Before its first reader in file order, so the node list stays topologically sorted.
  const first = view.graph.nodes.find((n) => nodeDependencies(n).includes(base));
  if (first) edit.insertBefore(first, [dq]);
  return q;
}

/** Zero points in the weight's own storage (packed for int4/uint4). */
function zeroPointBytes(q: { dataType: DataType; zeroPoints: Int32Array }): Uint8Array {
  const packed = q.dataType === DataType.INT4 || q.dataType === DataType.UINT4;
  const out = new Uint8Array(packed ? Math.ceil(q.zeroPoints.length / 2) : q.zeroPoints.length);
  q.zeroPoints.forEach((z, i) => storeValue(out, packed, i, z));
  return out;
}

/**
 * The grid notes of every grid format used, once each. With a per-layer map the first note of
 * each format names its layers (the model-wide `grid` path says it for every layer).
 */
function gridPlanNotes(
  plans: readonly WeightPlan[],
  options: QuantizeOptions,
  int2: boolean,
  int2Refusal: string | undefined,
): string[] {
  const byFormat = new Map<string, { format: GridFormat; bits: number; layers: string[] }>();
  for (const p of plans) {
    const format = gridOf(p);
    if (!format) continue;
    const key = formatName(format);
    const entry = byFormat.get(key) ?? { format, bits: p.scheme.bits, layers: [] };
    entry.layers.push(...p.layers);
    byFormat.set(key, entry);
  }
  const mixed = options.formatPerLayer !== undefined;
  const notes = new Set<string>();
  for (const { format, bits, layers } of byFormat.values()) {
    const [first, ...rest] = gridNotes(
      format.grid,
      bits,
      options.perChannel ?? true,
      int2,
      int2Refusal,
    );
    notes.add(mixed ? `${shortList(layers)}: ${first}` : first);
    for (const n of rest) notes.add(n);
  }
  return [...notes];
}

/** "a, b, c and 4 more". */
function shortList(names: readonly string[]): string {
  const shown = names.slice(0, 3).join(', ');
  return names.length > 3 ? `${shown} and ${names.length - 3} more` : shown;
}

/** What a grid stores and how the analysis counts it (`bits`: its logical width). */
function gridNotes(
  grid: WeightGrid,
  bits: number,
  perChannel: boolean,
  int2: boolean,
  int2Refusal?: string,
): string[] {
  const container = dtypeName(gridContainer(grid, bits, int2));
  const stored = container === 'int8' ? 8 : container === 'int2' ? 2 : 4;
  const per = perChannel ? 'per output channel' : 'per tensor';
  const logical = bits;
  const memory = `weight memory counts ${logical} bit${logical > 1 ? 's' : ''} per weight plus scales${logical === stored ? '' : `, the file stores ${stored}`}`;
  if (grid === 'pow2') {
    const top = 2 ** (bits - 2);
    return [
      `power-of-two weights: ±2^k·scale ${per}, levels 0, ±1 … ±${top} (${bits}-bit) stored in ${container}, rounded in the log domain, scale refitted by least squares; ${memory}`,
      'BOPs and energy count adds only: a multiply by ±2^k is a shift',
    ];
  }
  const rule =
    grid === 'ternary'
      ? `{−α, 0, +α} ${per}, Δ = 0.7·mean|w|, α = mean |w| over |w| > Δ (TWN)`
      : `{−α, +α} ${per}, α = mean|w| (XNOR-Net)`;
  return [
    `${grid} weights: ${rule}`,
    int2
      ? `stored in int2 (opset 25); ${memory}`
      : `stored in ${container}, the narrowest type here (int2 needs opset 25: ${int2Refusal ?? 'not reachable'}); ${memory}`,
  ];
}

function formatNotes(view: GraphView, plans: readonly WeightPlan[]): string[] {
  const notes: string[] = [];
  const biased = plans.some((p) =>
    p.layers.some((l) => {
      const node = view.order.find((n, i) => nodeLabel(n, i) === l);
      return (
        node !== undefined &&
        ['Conv', 'ConvTranspose', 'Gemm'].includes(node.opType) &&
        !!node.inputs[2]
      );
    }),
  );
  // A float16 model's bias stays float16 like its weights' readers (halfWeights.ts).
  const halfModel = plans.some((p) => isHalfType(p.tensor.dataType));
  if (biased && !halfModel) notes.push('bias kept as float32 (its scale is s_w·s_x)');
  if (biased && halfModel) notes.push('bias kept as stored (float16/bfloat16 biases stay so)');
  for (const p of plans) {
    if (p.layers.length > 1)
      notes.push(`weight '${p.source}' is shared by ${p.layers.join(', ')}: quantized once`);
  }
  // One note per odd width (plans of one width share their scheme's fields, not its object).
  const odd = new Map(
    plans
      .filter((p) => gridOf(p) === undefined && p.scheme.bits !== 4 && p.scheme.bits !== 8)
      .map((p) => [p.scheme.bits, p.scheme]),
  );
  for (const s of odd.values()) {
    const { qmin, qmax } = quantRange(s);
    notes.push(
      `${s.bits}-bit values clipped to [${qmin}, ${qmax}] and stored in ${dtypeName(containerType(s))}: the figures count ${s.bits} bits per weight (the width is recorded on the tensor), the file keeps 8 until packed by the deployment tool`,
    );
  }
  return notes;
}

function operationName(options: QuantizeOptions, plans: readonly WeightPlan[]): string {
  if (options.formatPerLayer?.size) {
    // Counted per stored weight's layers: "quantize mixed (3 ternary, 5 int4) per-channel".
    const formats = plans.flatMap((p) => p.layers.map(() => p.format));
    const per = options.perChannel === false ? 'per-tensor' : 'per-channel';
    return `quantize mixed (${formatCounts(formats)}) ${per}${options.symmetric === false ? ' asymmetric' : ''}`;
  }
  if (options.grid) {
    const grid = options.grid === 'pow2' ? `pow2 ${options.bits}-bit` : options.grid;
    return `quantize ${grid} ${options.perChannel === false ? 'per-tensor' : 'per-channel'}`;
  }
  const signed = options.signed ?? true;
  const bits =
    options.bits === 4 || options.bits === 8
      ? `${signed ? 'int' : 'uint'}${options.bits}`
      : `${options.bits}-bit`;
  const parts = [`quantize ${options.bitsPerLayer?.size ? 'mixed, default ' : ''}${bits}`];
  parts.push(options.perChannel === false ? 'per-tensor' : 'per-channel');
  if (options.symmetric === false) parts.push('asymmetric');
  return parts.join(' ');
}
