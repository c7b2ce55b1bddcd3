/**
 * A retraining plan (docs/retraining-plan.schema.json): what a compressed model IS relative to
 * float, per layer, so that the same decisions can be re-applied to the PyTorch module the model
 * came from and fine-tuned (quantization-aware training, pruning masks); planScript.ts writes the
 * Python that does it.
 *
 * Everything is read from the model itself, not from a log of the operations that made it, so a
 * model compressed by the CLI, by quick fixes, or by another tool gives the same plan:
 * - bits: a weight fed through DequantizeLinear; the width is the smallest whose integer range
 *   holds every stored value (a 6-bit weight in int8 storage spans ±31), the container is the
 *   stored type; per-channel when the scale is a vector;
 * - sparsity: the fraction of weight elements that are exactly zero (q = zero point when
 *   quantized), dense or sparse_initializer alike; a quantized weight counts as pruned only when
 *   it has more zeros than values one step from zero (rounding alone gives about as many);
 * - structured removals: the record Model Lens's structured pruning leaves on the layer's node
 *   (removedFilters.ts: which filters, of how many), when it matches the weight as it is; else a
 *   layer with fewer output channels than the same node in `original`, when one is given (the
 *   model alone can't say what another tool removed);
 * - kept float: a layer whose weight is stored as float;
 * - activation ranges: each QuantizeLinear of a run-time tensor (calibrated QDQ), as the real
 *   interval its scale, zero point and type cover.
 *
 * Module paths come from the PyTorch exporter's naming: a weight initializer named
 * `layer1.0.conv1.weight` is that module's; a folded or renamed one (`onnx::Conv_193`) is found
 * through the node's scope name `/layer1/layer1.0/conv1/Conv`.
 */
import { buildGraphView, nodeLabel, type GraphView } from '../graph/graph';
import type { ExternalData } from '../onnx/externalData';
import { dtypeName } from '../onnx/dtype';
import { elementCount, forEachFloatChunk, rawBytes, tensorNumbers } from '../onnx/tensorData';
import { DataType, type Model, type Node, type Tensor } from '../onnx/types';
import { weightGridOf } from '../cost/nodeFigures';
import { isFloatCast } from './halfWeights';
import { removedFiltersOf } from './removedFilters';

export const PLAN_FORMAT = 'model-lens-retraining-plan';
export const PLAN_VERSION = 1;

export interface RetrainingPlan {
  readonly format: typeof PLAN_FORMAT;
  readonly version: typeof PLAN_VERSION;
  readonly model: {
    readonly graph: string;
    readonly producer: string;
    readonly opset: number;
    /** Whether structured removals could be compared with an original model. */
    readonly comparedWithOriginal: boolean;
  };
  readonly layers: PlanLayer[];
  readonly activations: ActivationRange[];
}

export interface PlanLayer {
  /** ONNX node name (or op_index when unnamed). */
  readonly node: string;
  readonly op: string;
  /** PyTorch module path (`layer1.0.conv1`), or null when the names don't say. */
  readonly module: string | null;
  /** How the module path was found. */
  readonly moduleFrom: 'weight' | 'node' | null;
  /** The weight as the layer reads it (the float name, also when dequantized). */
  readonly weight: string;
  readonly weightShape: number[];
  /** Null: the weight is kept float. */
  readonly quantization: WeightQuantization | null;
  /** Fraction of the weight's elements that are exactly zero, 0..1. */
  readonly sparsity: number;
  /** Output channels removed against the original, or null when not compared / none removed. */
  readonly structured: StructuredRemoval | null;
}

export interface WeightQuantization {
  /**
   * 2..16: the smallest width whose range holds every stored value; on a grid, its logical
   * width (ternary 2, binary 1, pow2 N).
   */
  readonly bits: number;
  /** A multiplier-free grid (lowBitGrids.ts), or null for uniform levels. */
  readonly grid: 'pow2' | 'ternary' | 'binary' | null;
  readonly signed: boolean;
  /** Zero point 0 (signed) or the middle of the range (unsigned) everywhere. */
  readonly symmetric: boolean;
  /** The ONNX channel axis of per-channel scales, or null for one scale. */
  readonly axis: number | null;
  /** int8, uint8, int4, uint4, int16, uint16. */
  readonly storage: string;
  /** The integer range the planned width gives (what FakeQuantize's quant_min/quant_max are). */
  readonly quantMin: number;
  readonly quantMax: number;
}

export interface StructuredRemoval {
  readonly axis: number;
  readonly channelsBefore: number;
  readonly channelsAfter: number;
  /** removed / before. */
  readonly fraction: number;
  /**
   * The removed channels (ascending, numbered among `channelsBefore`), when the model records
   * them (removedFilters.ts); absent when only the counts are known, from a comparison.
   */
  readonly removed?: number[];
}

export interface ActivationRange {
  /** The float tensor that is quantized. */
  readonly tensor: string;
  readonly min: number;
  readonly max: number;
  readonly scale: number;
  readonly zeroPoint: number;
  /** uint8 | int8 | uint16 | int16. */
  readonly dtype: string;
  readonly quantMin: number;
  readonly quantMax: number;
  /** Module paths of the planned layers that read it (as their input). */
  readonly inputOf: string[];
}

const LAYER_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/** The integer range of a stored type. */
const TYPE_RANGE: Partial<Record<DataType, { bits: number; signed: boolean }>> = {
  [DataType.INT8]: { bits: 8, signed: true },
  [DataType.UINT8]: { bits: 8, signed: false },
  [DataType.INT4]: { bits: 4, signed: true },
  [DataType.UINT4]: { bits: 4, signed: false },
  [DataType.INT2]: { bits: 2, signed: true },
  [DataType.UINT2]: { bits: 2, signed: false },
  [DataType.INT16]: { bits: 16, signed: true },
  [DataType.UINT16]: { bits: 16, signed: false },
};

export function retrainingPlan(
  model: Model,
  external?: ExternalData,
  original?: Model,
): RetrainingPlan {
  const view = buildGraphView(model.graph);
  const originalShapes = original ? weightShapesByNode(original) : undefined;
  const layers: PlanLayer[] = [];
  view.order.forEach((node, index) => {
    if (!LAYER_OPS.has(node.opType)) return;
    const layer = planLayer(node, nodeLabel(node, index), view, external, originalShapes);
    if (layer) layers.push(layer);
  });
  const opset =
    model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
  return {
    format: PLAN_FORMAT,
    version: PLAN_VERSION,
    model: {
      graph: model.graph.name,
      producer: `${model.producerName} ${model.producerVersion}`.trim(),
      opset,
      comparedWithOriginal: original !== undefined,
    },
    layers,
    activations: activationRanges(view, external, layers),
  };
}

/** The stored weight a layer reads, and the DequantizeLinear on the way if any. */
interface WeightChain {
  readonly tensor: Tensor;
  readonly dequantize?: Node;
}

function weightChain(name: string, view: GraphView): WeightChain | undefined {
  let dequantize: Node | undefined;
  let current = name;
  for (let hops = 0; hops < 16; hops++) {
    const stored = view.initializers.get(current);
    if (stored) return { tensor: stored, dequantize };
    const producer = view.producer.get(current);
    if (!producer) return undefined;
    if (producer.opType === 'Constant') {
      const t = producer.attributes.find((a) => a.name === 'value')?.t;
      return t ? { tensor: t, dequantize } : undefined;
    }
    if (producer.opType === 'DequantizeLinear' && !dequantize) dequantize = producer;
    else if (producer.opType !== 'Identity' && !isFloatCast(producer)) return undefined;
    current = producer.inputs[0];
  }
  return undefined;
}

/** The ONNX axis of a layer's output channels in its weight of rank `rank`. */
function channelAxis(node: Node, rank: number): number {
  switch (node.opType) {
    case 'ConvTranspose':
      return 1;
    case 'Gemm':
      return (node.attributes.find((a) => a.name === 'transB')?.i ?? 0) ? 0 : 1;
    case 'MatMul':
      return rank - 1;
    default:
      return 0;
  }
}

function weightShapesByNode(model: Model): Map<string, number[]> {
  const view = buildGraphView(model.graph);
  const shapes = new Map<string, number[]>();
  view.order.forEach((node, index) => {
    if (!LAYER_OPS.has(node.opType) || !node.inputs[1]) return;
    const chain = weightChain(node.inputs[1], view);
    if (chain) shapes.set(nodeLabel(node, index), [...chain.tensor.dims]);
  });
  return shapes;
}

function planLayer(
  node: Node,
  label: string,
  view: GraphView,
  external: ExternalData | undefined,
  originalShapes: Map<string, number[]> | undefined,
): PlanLayer | undefined {
  const weight = node.inputs[1];
  if (!weight) return undefined;
  const chain = weightChain(weight, view);
  if (!chain) return undefined;
  const dims = chain.tensor.dims.map(Number);
  const axis = channelAxis(node, dims.length);
  let quantization: WeightQuantization | null = null;
  let sparsity: number;
  if (chain.dequantize) {
    const q = quantizedWeight(chain.tensor, chain.dequantize, view, external, dims);
    if (!q) return undefined;
    quantization = q.quantization;
    sparsity = q.sparsity;
  } else if (
    chain.tensor.dataType === DataType.FLOAT ||
    chain.tensor.dataType === DataType.FLOAT16 ||
    chain.tensor.dataType === DataType.BFLOAT16
  ) {
    sparsity = floatSparsity(chain.tensor, external);
  } else {
    return undefined;
  }
  const { module, moduleFrom } = modulePath(node, weight);
  return {
    node: label,
    op: node.opType,
    module,
    moduleFrom,
    weight,
    weightShape: dims,
    quantization,
    sparsity: round6(sparsity),
    structured:
      recordedRemoval(node, dims, axis) ?? comparedRemoval(originalShapes?.get(label), dims, axis),
  };
}

/**
 * The removal structured pruning recorded on the node, counted from before any pruning; only
 * when it describes the weight as it is (the same axis, `before − removed` channels left), so a
 * record another tool made stale is not believed.
 */
function recordedRemoval(node: Node, dims: number[], axis: number): StructuredRemoval | null {
  const record = removedFiltersOf(node);
  if (!record || record.axis !== axis || record.removed.length === 0) return null;
  const channelsAfter = dims[axis];
  if (record.before - record.removed.length !== channelsAfter) return null;
  return {
    ...removal(axis, record.before, channelsAfter),
    removed: [...record.removed],
  };
}

/** Fewer output channels than the same layer in the original model. */
function comparedRemoval(
  before: number[] | undefined,
  after: number[],
  axis: number,
): StructuredRemoval | null {
  if (!before || before.length !== after.length) return null;
  const channelsBefore = Number(before[axis]);
  const channelsAfter = after[axis];
  if (!(channelsAfter < channelsBefore)) return null;
  return removal(axis, channelsBefore, channelsAfter);
}

function removal(axis: number, channelsBefore: number, channelsAfter: number): StructuredRemoval {
  return {
    axis,
    channelsBefore,
    channelsAfter,
    fraction: round6((channelsBefore - channelsAfter) / channelsBefore),
  };
}

function floatSparsity(t: Tensor, external: ExternalData | undefined): number {
  const n = elementCount(t.dims);
  if (n === 0) return 0;
  let zeros = 0;
  forEachFloatChunk(t, external, (chunk) => {
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === 0) zeros++;
  });
  return zeros / n;
}

function quantizedWeight(
  stored: Tensor,
  dq: Node,
  view: GraphView,
  external: ExternalData | undefined,
  dims: number[],
): { quantization: WeightQuantization; sparsity: number } | undefined {
  const type = TYPE_RANGE[stored.dataType];
  if (!type) return undefined;
  const values = storedIntegers(stored, external);
  const param = (i: number): Tensor | undefined => {
    const name = dq.inputs[i];
    return name ? (weightChain(name, view)?.tensor ?? view.initializers.get(name)) : undefined;
  };
  const scale = param(1);
  const zpTensor = param(2);
  const zeroPoints = zpTensor ? tensorNumbers(zpTensor, external) : [0];
  const perChannel = scale !== undefined && scale.dims.length === 1 && Number(scale.dims[0]) > 1;
  let axis: number | null = null;
  if (perChannel) {
    const a = dq.attributes.find((x) => x.name === 'axis')?.i ?? 1;
    axis = a < 0 ? a + dims.length : a;
  }
  // Index → channel: (i / stride) mod channels, stride = product of the dims after the axis.
  const stride = axis === null ? 1 : dims.slice(axis + 1).reduce((p, d) => p * d, 1);
  const channels = axis === null ? 1 : dims[axis];
  let lo = Infinity;
  let hi = -Infinity;
  let zeros = 0;
  let nextToZero = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    const zp =
      zeroPoints.length === 1 ? zeroPoints[0] : zeroPoints[Math.floor(i / stride) % channels];
    if (v === zp) zeros++;
    else if (Math.abs(v - zp) === 1) nextToZero++;
  }
  // The smallest width whose integer range holds [lo, hi].
  let bits = type.bits;
  for (let b = 2; b <= type.bits; b++) {
    const min = type.signed ? -(2 ** (b - 1)) : 0;
    const max = type.signed ? 2 ** (b - 1) - 1 : 2 ** b - 1;
    if (values.length === 0 || (lo >= min && hi <= max)) {
      bits = b;
      break;
    }
  }
  const half = 2 ** (bits - 1);
  const symmetric = type.signed
    ? zeroPoints.every((z) => z === 0)
    : zeroPoints.every((z) => z === half);
  const grid = weightGridOf(stored.docString);
  // A grid's levels: ternary and binary in ±1 (binary has no 0), pow2 N bits in ±2^(N−2).
  const { quantMin, quantMax } = !grid
    ? intRange(bits, type.signed, symmetric)
    : grid.grid === 'pow2'
      ? { quantMin: -(2 ** (grid.bits - 2)), quantMax: 2 ** (grid.bits - 2) }
      : { quantMin: -1, quantMax: 1 };
  // Rounding alone zeroes the weights within half a step of 0, about as many as land on ±1
  // step; magnitude pruning zeroes those too, so it leaves far more zeros than ±1s.
  const pruned = zeros > nextToZero + 3;
  return {
    quantization: {
      bits: grid?.bits ?? bits,
      grid: grid?.grid ?? null,
      signed: type.signed,
      symmetric,
      axis,
      storage: dtypeName(stored.dataType),
      quantMin,
      quantMax,
    },
    sparsity: values.length === 0 || !pruned ? 0 : zeros / values.length,
  };
}

/** A quantized weight's stored integers; int2/uint2 unpacked here (4 per byte, low bits first). */
function storedIntegers(t: Tensor, external: ExternalData | undefined): number[] {
  if (t.dataType !== DataType.INT2 && t.dataType !== DataType.UINT2) {
    return tensorNumbers(t, external);
  }
  const raw = rawBytes(t, external);
  if (!raw) throw new Error(`tensor '${t.name}' (${dtypeName(t.dataType)}) has no raw data`);
  return Array.from({ length: elementCount(t.dims) }, (_, i) => {
    const v = (raw[i >> 2] >> ((i & 3) * 2)) & 3;
    return t.dataType === DataType.INT2 && v >= 2 ? v - 4 : v;
  });
}

/**
 * The integer range of a width: symmetric signed drops −2^(b−1) (±(2^(b−1) − 1), as
 * quantizeMath.ts's scale formula), everything else is the type's full range.
 */
function intRange(
  bits: number,
  signed: boolean,
  symmetric: boolean,
): { quantMin: number; quantMax: number } {
  const half = 2 ** (bits - 1);
  if (!signed) return { quantMin: 0, quantMax: 2 * half - 1 };
  return { quantMin: symmetric ? -(half - 1) : -half, quantMax: half - 1 };
}

/**
 * The module path of a layer from the PyTorch exporter's names: the weight initializer
 * `<module>.weight` when it has that form, else the node's scope name (moduleFromNodeName).
 */
export function modulePath(
  node: Node,
  weight: string,
): { module: string | null; moduleFrom: 'weight' | 'node' | null } {
  const fromWeight = /^([A-Za-z_][\w.]*)\.weight$/.exec(weight);
  if (fromWeight) return { module: fromWeight[1], moduleFrom: 'weight' };
  const fromNode = moduleFromNodeName(node.name);
  return fromNode ? { module: fromNode, moduleFrom: 'node' } : { module: null, moduleFrom: null };
}

/**
 * torch.onnx names a node `/<scope>/…/<scope>/<Op>[_k]`, one scope per module from the root,
 * each the module's qualified name cut to its last non-numeric atom and the numbers after it
 * (torch.onnx.utils._unqualified_variable_name): `features.1.conv.0.0` is the scope `conv.0.0`
 * under `conv.0` under `conv` under `features.1` under `features`. So a scope without numbers
 * is an attribute appended to the path; one with numbers replaces the path from the last
 * occurrence of its atom that the numbers continue; one of numbers only (`0.1`, nested
 * Sequentials at the root) is the whole path.
 */
export function moduleFromNodeName(name: string): string | null {
  if (!name.startsWith('/')) return null;
  const segments = name.split('/').slice(1, -1);
  if (segments.length === 0) return null;
  let path: string[] = [];
  for (const s of segments) {
    if (!/^[\w.]+$/.test(s)) return null;
    const atoms = s.split('.');
    const k = atoms.findLastIndex((a) => !/^\d+$/.test(a));
    const numbers = atoms.slice(k + 1);
    if (k < 0) {
      path = atoms;
      continue;
    }
    let j = -1;
    if (numbers.length > 0 && k === 0) {
      for (let i = path.length - 1; i >= 0 && j < 0; i--) {
        const after = path.slice(i + 1);
        if (path[i] === atoms[0] && after.every((a, x) => a === numbers[x])) j = i;
      }
    }
    path = j >= 0 ? [...path.slice(0, j + 1), ...numbers] : [...path, ...atoms];
  }
  return path.join('.');
}

function activationRanges(
  view: GraphView,
  external: ExternalData | undefined,
  layers: readonly PlanLayer[],
): ActivationRange[] {
  const moduleOf = new Map(layers.map((l) => [l.node, l.module]));
  const ranges: ActivationRange[] = [];
  view.order.forEach((node) => {
    if (node.opType !== 'QuantizeLinear') return;
    const x = node.inputs[0];
    // A weight's QuantizeLinear (constant input) is not an activation.
    if (!x || view.initializers.has(x) || weightChain(x, view)) return;
    const scaleT = node.inputs[1] ? view.initializers.get(node.inputs[1]) : undefined;
    if (!scaleT || elementCount(scaleT.dims) !== 1) return;
    const zpT = node.inputs[2] ? view.initializers.get(node.inputs[2]) : undefined;
    const scale = tensorNumbers(scaleT, external)[0];
    const zeroPoint = zpT ? tensorNumbers(zpT, external)[0] : 0;
    const type = (zpT && TYPE_RANGE[zpT.dataType]) ?? { bits: 8, signed: false };
    const quantMin = type.signed ? -(2 ** (type.bits - 1)) : 0;
    const quantMax = type.signed ? 2 ** (type.bits - 1) - 1 : 2 ** type.bits - 1;
    // The layers that read the dequantized tensor.
    const inputOf = new Set<string>();
    for (const q of node.outputs) {
      for (const dq of view.consumers.get(q) ?? []) {
        if (dq.opType !== 'DequantizeLinear') continue;
        for (const out of dq.outputs) {
          for (const reader of view.consumers.get(out) ?? []) {
            const index = view.order.indexOf(reader);
            const module = moduleOf.get(nodeLabel(reader, index));
            if (module && reader.inputs[0] === out) inputOf.add(module);
          }
        }
      }
    }
    ranges.push({
      tensor: x,
      min: (quantMin - zeroPoint) * scale,
      max: (quantMax - zeroPoint) * scale,
      scale,
      zeroPoint,
      dtype: zpT ? dtypeName(zpT.dataType) : 'uint8',
      quantMin,
      quantMax,
      inputOf: [...inputOf],
    });
  });
  return ranges;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
