/**
 * Static activation quantization (conventions.md "Compression formats"): each activation that
 * feeds a multiplying layer (activationTargets.ts) gets a QuantizeLinear → DequantizeLinear pair
 * with a per-tensor scale and zero point from its calibrated range (calibrate.ts), and every node
 * that read the float tensor reads the dequantized one. This is the QDQ form ONNX Runtime and
 * the int8 toolchains read: the model still runs in float, with exactly the rounding and
 * clipping an integer kernel would see.
 *
 * Ranges come from calibration (calibrate.ts) by one of the methods of activationRanges.ts:
 * min/max, a percentile, or the clipping with the least squared error on the tensor's grid. MSE
 * is the default for real calibration data (a folder); min/max for random inputs, whose tails
 * are the noise generator's and say nothing about the data the model will see.
 *
 * A planner can keep a sensitive layer's inputs float or give them 16 bits (`precision`, by
 * tensor or by layer): each reader of an activation gets the pair of its own precision, so one
 * tensor may feed an 8-bit layer through one pair and a float layer directly.
 *
 * Types: a range that never goes below zero (after Relu, Relu6, Clip(0, …), Softmax…) is uint8
 * with zero point 0, so all 256 levels cover the values that occur; a signed range is int8,
 * symmetric (zero point 0, what integer MAC units want) unless `symmetric: false`. The range
 * always includes 0 so that zero (padding, ReLU's floor) is exact. Works alone or after
 * quantizeWeights, whose DequantizeLinear weights it leaves as they are.
 */
import { nodeDependencies, nodeLabel, type GraphView } from '../graph/graph';
import { makeTensor } from '../onnx/build';
import type { ExternalData } from '../onnx/externalData';
import { DataType, type Model, type Node } from '../onnx/types';
import { HISTOGRAM_BINS } from './activationHistogram';
import { chooseRange, DEFAULT_PERCENTILE, type RangeMethod } from './activationRanges';
import { activationTargets } from './activationTargets';
import type { ActivationCalibration, TensorRange } from './calibrate';
import { GraphEdit, makeNode, withGraph, withInput } from './graphEdit';
import { convertOpset } from './opsetConvert';
import { channelParams, type QuantScheme } from './quantizeMath';
import {
  CompressionRefusal,
  type CompressionResult,
  compressionResult,
  modelFigures,
} from './summary';

/** auto: uint8 for non-negative ranges, int8 otherwise; int8 / uint8: that type everywhere. */
export type ActivationMode = 'auto' | 'int8' | 'uint8';

export interface ActivationQuantizeOptions {
  /** Default 'auto'. */
  mode?: ActivationMode;
  /** 8 (default) or 16 (int16/uint16, opset ≥ 21). */
  bits?: 8 | 16;
  /** Signed tensors: symmetric (zero point 0) by default; false → asymmetric. uint8 is always asymmetric. */
  symmetric?: boolean;
  /** Node names: only the activations these layers read; default every multiplying layer's. */
  layers?: readonly string[];
  /**
   * How each range is chosen from the calibration (activationRanges.ts). Default: mse when the
   * calibration ran on a folder of real data and built histograms, else minmax.
   */
  rangeMethod?: RangeMethod;
  /** The percentile method's p, in (0, 100]; default 99.999. */
  percentile?: number;
  /**
   * Overrides by activation (tensor name) or by layer (node label, for the activations it
   * reads): 'float' leaves them unquantized, 16 gives int16/uint16 (opset 21), 8 the default.
   * A layer's entry wins over its input's.
   */
  precision?: ReadonlyMap<string, ActivationPrecision>;
}

export type ActivationPrecision = 'float' | 8 | 16;

type Calibration = Pick<ActivationCalibration, 'ranges'> & Partial<ActivationCalibration>;

/** The scale and zero point chosen for one activation. */
export interface ActivationParams {
  readonly dataType: DataType;
  readonly scale: number;
  readonly zeroPoint: number;
}

export function quantizeActivations(
  model: Model,
  calibration: Calibration,
  options: ActivationQuantizeOptions = {},
  external?: ExternalData,
): CompressionResult {
  const bits = options.bits ?? 8;
  if (bits !== 8 && bits !== 16) {
    throw new CompressionRefusal(`activations: ${String(bits)} bits (8 or 16 are supported)`);
  }
  const { percentile } = options;
  if (percentile !== undefined && !(percentile > 0 && percentile <= 100)) {
    throw new CompressionRefusal(`activations: percentile ${percentile} (above 0, at most 100)`);
  }
  const method = options.rangeMethod ?? defaultRangeMethod(calibration);
  const before = modelFigures(model, external);
  const { targets, alreadyQuantized, view } = activationTargets(model, options.layers, external);
  const labels = new Map(view.order.map((n, i) => [n, nodeLabel(n, i)]));
  checkPrecisionNames(options.precision, targets, view, labels);
  const notes: string[] = [];
  const plans = targets.map((t) => ({
    name: t.name,
    layers: t.layers,
    groups: readerGroups(t.name, view, labels, options.precision, bits),
  }));
  const quantizing = plans.filter((p) => [...p.groups.keys()].some((k) => k !== 'float'));
  const keptFloat = plans.filter((p) => p.groups.has('float')).map((p) => p.name);
  const missing = quantizing.filter((p) => !calibration.ranges.has(p.name));
  const planned = quantizing.filter((p) => calibration.ranges.has(p.name));
  if (planned.length === 0) {
    throw new CompressionRefusal(
      nothingToQuantize(quantizing.length, missing.length, alreadyQuantized, keptFloat.length),
    );
  }
  const edit = new GraphEdit(model.graph);
  const rewired = new Map<Node, Node>();
  const counts = new Map<DataType, number>();
  const touched = new Set<string>();
  const clipped: number[] = [];
  let subGraphReaders = 0;
  let sixteen = 0;
  for (const plan of planned) {
    const observed = calibration.ranges.get(plan.name)!;
    for (const [precision, readers] of plan.groups) {
      if (precision === 'float') continue;
      const perWidth = { ...options, bits: precision };
      const range = chosenRange(plan.name, observed, calibration, method, perWidth);
      if (precision === bits) clipped.push(clippedShare(observed, range));
      const params = activationParams(range, perWidth);
      counts.set(params.dataType, (counts.get(params.dataType) ?? 0) + 1);
      if (precision === 16) sixteen++;
      insertQdq(edit, view, plan.name, params, readers, rewired);
      // The multiplying layers it was quantized for (not an Add that also reads it).
      for (const r of readers)
        if (plan.layers.includes(labels.get(r)!)) touched.add(labels.get(r)!);
    }
    subGraphReaders += subGraphOnlyReaders(plan.name, view);
  }
  for (const [node, copy] of rewired) edit.replaceNode(node, copy);
  // QuantizeLinear/DequantizeLinear exist from opset 10, int16/uint16 from 21.
  const raised = convertOpset(withGraph(model, edit.build()), sixteen > 0 ? 21 : 10, {
    external,
    reason: sixteen > 0 ? '16-bit activations' : 'QuantizeLinear/DequantizeLinear',
  });
  notes.push(...raised.notes);
  const quantized = raised.model;

  notes.push(typeSummary(counts));
  notes.push(rangeNote(method, calibration, options, clipped));
  if (keptFloat.length > 0) {
    notes.push(`kept float as asked: ${keptFloat.length} activation(s): ${listed(keptFloat)}`);
  }
  if (missing.length > 0) {
    notes.push(
      `skipped ${missing.length} activation(s) without a calibrated range: ${listed(missing.map((t) => t.name))}`,
    );
  }
  if (alreadyQuantized > 0) notes.push(`${alreadyQuantized} activation input(s) already quantized`);
  if (subGraphReaders > 0) {
    notes.push(
      `${subGraphReaders} sub-graph(s) (If/Loop/Scan bodies) keep reading the float value`,
    );
  }
  return compressionResult(
    operationName(options),
    before,
    quantized,
    external,
    [...touched],
    notes,
  );
}

/**
 * mse for real data with histograms; min/max for random inputs, whose tails are the noise
 * generator's (a clipped range fitted to them would clip real values for no reason).
 */
export function defaultRangeMethod(
  calibration: Pick<Partial<ActivationCalibration>, 'source' | 'histograms'>,
): RangeMethod {
  return calibration.source === 'folder' && calibration.histograms ? 'mse' : 'minmax';
}

/** The range one activation is quantized with, for the width in `options`. */
function chosenRange(
  name: string,
  observed: TensorRange,
  calibration: Calibration,
  method: RangeMethod,
  options: ActivationQuantizeOptions,
): TensorRange {
  if (method === 'minmax') return observed;
  const histogram = calibration.histograms?.get(name);
  if (!histogram) {
    throw new CompressionRefusal(
      `the ${method} range method needs a histogram of '${name}': calibrate with histograms`,
    );
  }
  const { scheme } = activationScheme(observed, options);
  return chooseRange(histogram, method, scheme, options.percentile ?? DEFAULT_PERCENTILE);
}

/** The chosen range's width as a share of the observed one (1: not clipped). */
function clippedShare(observed: TensorRange, chosen: TensorRange): number {
  const width = (r: TensorRange) => Math.max(r.max, 0) - Math.min(r.min, 0);
  return width(observed) > 0 ? width(chosen) / width(observed) : 1;
}

function rangeNote(
  method: RangeMethod,
  calibration: Calibration,
  options: ActivationQuantizeOptions,
  clipped: readonly number[],
): string {
  const how =
    method === 'minmax'
      ? 'min/max'
      : method === 'percentile'
        ? `percentile ${options.percentile ?? DEFAULT_PERCENTILE} of ${HISTOGRAM_BINS}-bin histograms`
        : `mse (the clipping with the least squared rounding and clipping error on each tensor's grid, from ${HISTOGRAM_BINS}-bin histograms)`;
  let note = `ranges: ${how}`;
  if (calibration.samples !== undefined) {
    const from =
      calibration.source === 'folder'
        ? 'the calibration folder'
        : `random inputs${calibration.seed !== undefined ? ` (seed ${calibration.seed})` : ''}`;
    note += ` over ${calibration.samples} sample(s) from ${from}`;
  }
  if (method !== 'minmax') {
    const shares = clipped.filter((c) => c < 1 - 1e-9);
    // One decimal: a range clipped to 99.6% must not read as 100%.
    const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
    note +=
      shares.length === 0
        ? '; none clipped below min/max'
        : `; ${shares.length} of ${clipped.length} clipped below min/max (to ${pct(Math.min(...shares))}–${pct(Math.max(...shares))} of its width)`;
  }
  return note;
}

/**
 * Refuses names that are neither an activation to quantize nor a layer reading one: a planner's
 * typo would otherwise quantize what it meant to keep.
 */
function checkPrecisionNames(
  precision: ReadonlyMap<string, ActivationPrecision> | undefined,
  targets: readonly { name: string }[],
  view: GraphView,
  labels: ReadonlyMap<Node, string>,
): void {
  if (!precision) return;
  const tensors = new Set(targets.map((t) => t.name));
  const readingLayers = new Set<string>();
  for (const t of tensors) {
    for (const n of directReaders(t, view)) readingLayers.add(labels.get(n)!);
  }
  for (const [name, value] of precision) {
    if (value !== 'float' && value !== 8 && value !== 16) {
      throw new CompressionRefusal(
        `activation precision of '${name}': ${String(value)} (float, 8 or 16)`,
      );
    }
    if (tensors.has(name) || readingLayers.has(name)) continue;
    const layer = [...labels.values()].includes(name);
    throw new CompressionRefusal(
      layer
        ? `layer '${name}' reads no activation to quantize`
        : `no activation or layer named '${name}'`,
    );
  }
}

/** The nodes that read `t` as a direct input (not only inside a sub-graph). */
function directReaders(t: string, view: GraphView): Node[] {
  return (view.consumers.get(t) ?? []).filter((n) => n.inputs.includes(t));
}

function subGraphOnlyReaders(t: string, view: GraphView): number {
  return (view.consumers.get(t) ?? []).filter(
    (n) => !n.inputs.includes(t) && nodeDependencies(n).includes(t),
  ).length;
}

/** The readers of `t`, grouped by the precision each reads it at. */
function readerGroups(
  t: string,
  view: GraphView,
  labels: ReadonlyMap<Node, string>,
  precision: ReadonlyMap<string, ActivationPrecision> | undefined,
  bits: 8 | 16,
): Map<ActivationPrecision, Node[]> {
  const groups = new Map<ActivationPrecision, Node[]>();
  for (const reader of directReaders(t, view)) {
    const p = precision?.get(labels.get(reader)!) ?? precision?.get(t) ?? bits;
    const list = groups.get(p) ?? [];
    list.push(reader);
    groups.set(p, list);
  }
  return groups;
}

/** Scale and zero point of one activation from its calibrated range (0 always included). */
export function activationParams(
  range: TensorRange,
  options: Pick<ActivationQuantizeOptions, 'mode' | 'bits' | 'symmetric'> = {},
): ActivationParams {
  const { scheme, unsigned } = activationScheme(range, options);
  // channelParams gives an all-zero (constant) tensor scale 1: never a zero scale.
  const { scale, zeroPoint } = channelParams(
    Math.min(range.min, 0),
    Math.max(range.max, 0),
    scheme,
  );
  const dataType =
    scheme.bits === 16
      ? unsigned
        ? DataType.UINT16
        : DataType.INT16
      : unsigned
        ? DataType.UINT8
        : DataType.INT8;
  return { dataType, scale, zeroPoint };
}

/**
 * The grid an activation with this range gets: unsigned for a non-negative range under auto
 * (or always under uint8), else signed, symmetric unless asked otherwise.
 */
export function activationScheme(
  range: TensorRange,
  options: Pick<ActivationQuantizeOptions, 'mode' | 'bits' | 'symmetric'> = {},
): { scheme: QuantScheme; unsigned: boolean } {
  const bits = options.bits ?? 8;
  const mode = options.mode ?? 'auto';
  const unsigned = mode === 'uint8' || (mode === 'auto' && Math.min(range.min, 0) >= 0);
  // uint8 is asymmetric: symmetric uint8 would put zero at 128 and waste half the levels on
  // values a non-negative tensor never takes.
  const scheme: QuantScheme = {
    bits,
    signed: !unsigned,
    symmetric: !unsigned && (options.symmetric ?? true),
  };
  return { scheme, unsigned };
}

/**
 * Adds `t → QuantizeLinear → DequantizeLinear` and points `readers` at the dequantized tensor
 * (graph outputs keep the float value under their name).
 */
function insertQdq(
  edit: GraphEdit,
  view: GraphView,
  t: string,
  params: ActivationParams,
  readers: readonly Node[],
  rewired: Map<Node, Node>,
): void {
  const scaleName = edit.uniqueName(`${t}_scale`);
  const zpName = edit.uniqueName(`${t}_zero_point`);
  const qName = edit.uniqueName(`${t}_quantized`);
  const dqName = edit.uniqueName(`${t}_dequantized`);
  edit.setInitializer(makeTensor(scaleName, DataType.FLOAT, [], [params.scale]));
  // Always stored: its type is what makes QuantizeLinear produce int8 rather than uint8.
  edit.setInitializer(makeTensor(zpName, params.dataType, [], [params.zeroPoint]));
  const q = makeNode({
    name: edit.uniqueName(`${t}_QuantizeLinear`),
    opType: 'QuantizeLinear',
    inputs: [t, scaleName, zpName],
    outputs: [qName],
  });
  const dq = makeNode({
    name: edit.uniqueName(`${t}_DequantizeLinear`),
    opType: 'DequantizeLinear',
    inputs: [qName, scaleName, zpName],
    outputs: [dqName],
  });
  for (const node of readers) {
    let copy = rewired.get(node) ?? node;
    node.inputs.forEach((name, i) => {
      if (name === t) copy = withInput(copy, i, dqName);
    });
    rewired.set(node, copy);
  }
  // Before the first reader in file order, so the node list stays topologically sorted.
  const reading = new Set(readers);
  const first = view.graph.nodes.find((n) => reading.has(n));
  if (first) edit.insertBefore(first, [q, dq]);
}

function nothingToQuantize(
  targets: number,
  missing: number,
  alreadyQuantized: number,
  keptFloat: number,
): string {
  if (targets === 0 && keptFloat > 0) {
    return `every activation to quantize (${keptFloat}) is kept float`;
  }
  if (targets > 0 && missing === targets) {
    return `no calibrated range for any of the ${targets} activation(s) to quantize (calibrate this model first)`;
  }
  const already =
    alreadyQuantized > 0 ? ` (${alreadyQuantized} activation input(s) are already quantized)` : '';
  return `no float activation feeds a Conv, ConvTranspose, Gemm or MatMul to quantize${already}`;
}

/** The first few names, and how many more. */
function listed(names: readonly string[], shown = 5): string {
  const more = names.length > shown ? `, … (${names.length - shown} more)` : '';
  return names.slice(0, shown).join(', ') + more;
}

function typeSummary(counts: ReadonlyMap<DataType, number>): string {
  const parts: string[] = [];
  const unsigned = (counts.get(DataType.UINT8) ?? 0) + (counts.get(DataType.UINT16) ?? 0);
  const signed = (counts.get(DataType.INT8) ?? 0) + (counts.get(DataType.INT16) ?? 0);
  const sixteen = (counts.get(DataType.UINT16) ?? 0) + (counts.get(DataType.INT16) ?? 0);
  if (unsigned > 0) parts.push(`${unsigned} unsigned (non-negative range, zero point 0)`);
  if (signed > 0) parts.push(`${signed} signed`);
  const wide = sixteen > 0 && sixteen < unsigned + signed ? `; ${sixteen} of them 16-bit` : '';
  return `activations quantized per tensor: ${parts.join(', ')}${wide}`;
}

function operationName(options: ActivationQuantizeOptions): string {
  const mode = options.mode ?? 'auto';
  const bits = options.bits ?? 8;
  const type =
    mode === 'auto' ? `int${bits}/uint${bits}` : bits === 16 ? mode.replace('8', '16') : mode;
  const parts = [`quantize activations ${type} per-tensor`];
  if (options.symmetric === false && mode !== 'uint8') parts.push('asymmetric');
  return parts.join(' ');
}
