/**
 * Static activation quantization (conventions.md "Compression formats"): each activation that
 * feeds a multiplying layer (activationTargets.ts) gets a QuantizeLinear → DequantizeLinear pair
 * with a per-tensor scale and zero point from its calibrated range (calibrate.ts), and every node
 * that read the float tensor reads the dequantized one. This is the QDQ form ONNX Runtime and
 * the int8 toolchains read: the model still runs in float, with exactly the rounding and
 * clipping an integer kernel would see.
 *
 * Types: a range that never goes below zero (after Relu, Relu6, Clip(0, …), Softmax…) is uint8
 * with zero point 0, so all 256 levels cover the values that occur; a signed range is int8,
 * symmetric (zero point 0, what integer MAC units want) unless `symmetric: false`. The range
 * always includes 0 so that zero (padding, ReLU's floor) is exact. Works alone or after
 * quantizeWeights, whose DequantizeLinear weights it leaves as they are.
 */
import { nodeDependencies, type GraphView } from '../graph/graph';
import { makeTensor } from '../onnx/build';
import type { ExternalData } from '../onnx/externalData';
import { DataType, type Model, type Node } from '../onnx/types';
import { activationTargets, type ActivationTarget } from './activationTargets';
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
}

/** The scale and zero point chosen for one activation. */
export interface ActivationParams {
  readonly dataType: DataType;
  readonly scale: number;
  readonly zeroPoint: number;
}

export function quantizeActivations(
  model: Model,
  calibration: Pick<ActivationCalibration, 'ranges'> & Partial<ActivationCalibration>,
  options: ActivationQuantizeOptions = {},
  external?: ExternalData,
): CompressionResult {
  const bits = options.bits ?? 8;
  if (bits !== 8 && bits !== 16) {
    throw new CompressionRefusal(`activations: ${String(bits)} bits (8 or 16 are supported)`);
  }
  const before = modelFigures(model, external);
  const { targets, alreadyQuantized, view } = activationTargets(model, options.layers, external);
  const notes: string[] = [];
  const missing = targets.filter((t) => !calibration.ranges.has(t.name));
  const planned = targets.filter((t) => calibration.ranges.has(t.name));
  if (planned.length === 0) {
    throw new CompressionRefusal(
      nothingToQuantize(targets.length, missing.length, alreadyQuantized),
    );
  }
  const edit = new GraphEdit(model.graph);
  const rewired = new Map<Node, Node>();
  const counts = new Map<DataType, number>();
  const touched = new Set<string>();
  let subGraphReaders = 0;
  for (const target of planned) {
    const params = activationParams(calibration.ranges.get(target.name)!, options);
    counts.set(params.dataType, (counts.get(params.dataType) ?? 0) + 1);
    subGraphReaders += insertQdq(edit, view, target, params, rewired);
    for (const l of target.layers) touched.add(l);
  }
  for (const [node, copy] of rewired) edit.replaceNode(node, copy);
  // QuantizeLinear/DequantizeLinear exist from opset 10, int16/uint16 from 21.
  const raised = convertOpset(withGraph(model, edit.build()), bits === 16 ? 21 : 10, {
    external,
    reason: bits === 16 ? '16-bit activations' : 'QuantizeLinear/DequantizeLinear',
  });
  notes.push(...raised.notes);
  const quantized = raised.model;

  notes.push(typeSummary(counts));
  if (calibration.samples !== undefined) {
    const from =
      calibration.source === 'folder'
        ? 'the calibration folder'
        : `random inputs${calibration.seed !== undefined ? ` (seed ${calibration.seed})` : ''}`;
    notes.push(`ranges: min/max over ${calibration.samples} sample(s) from ${from}`);
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

/** Scale and zero point of one activation from its calibrated range (0 always included). */
export function activationParams(
  range: TensorRange,
  options: Pick<ActivationQuantizeOptions, 'mode' | 'bits' | 'symmetric'> = {},
): ActivationParams {
  const bits = options.bits ?? 8;
  const mode = options.mode ?? 'auto';
  const lo = Math.min(range.min, 0);
  const hi = Math.max(range.max, 0);
  const unsigned = mode === 'uint8' || (mode === 'auto' && lo >= 0);
  // uint8 is asymmetric: symmetric uint8 would put zero at 128 and waste half the levels on
  // values a non-negative tensor never takes.
  const scheme: QuantScheme = {
    bits,
    signed: !unsigned,
    symmetric: !unsigned && (options.symmetric ?? true),
  };
  // channelParams gives an all-zero (constant) tensor scale 1: never a zero scale.
  const { scale, zeroPoint } = channelParams(lo, hi, scheme);
  const dataType =
    bits === 16
      ? unsigned
        ? DataType.UINT16
        : DataType.INT16
      : unsigned
        ? DataType.UINT8
        : DataType.INT8;
  return { dataType, scale, zeroPoint };
}

/**
 * Adds `t → QuantizeLinear → DequantizeLinear` and points the nodes that read `t` at the
 * dequantized tensor (graph outputs keep the float value under their name). Returns how many
 * readers only use `t` inside a sub-graph, which is left reading the float value.
 */
function insertQdq(
  edit: GraphEdit,
  view: GraphView,
  target: ActivationTarget,
  params: ActivationParams,
  rewired: Map<Node, Node>,
): number {
  const t = target.name;
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
  let subGraphOnly = 0;
  const readers = new Set<Node>();
  for (const node of view.consumers.get(t) ?? []) {
    if (!node.inputs.includes(t)) {
      if (nodeDependencies(node).includes(t)) subGraphOnly++;
      continue;
    }
    readers.add(node);
    let copy = rewired.get(node) ?? node;
    node.inputs.forEach((name, i) => {
      if (name === t) copy = withInput(copy, i, dqName);
    });
    rewired.set(node, copy);
  }
  // Before the first reader in file order, so the node list stays topologically sorted.
  const first = view.graph.nodes.find((n) => readers.has(n));
  if (first) edit.insertBefore(first, [q, dq]);
  return subGraphOnly;
}

function nothingToQuantize(targets: number, missing: number, alreadyQuantized: number): string {
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
  if (unsigned > 0) parts.push(`${unsigned} unsigned (non-negative range, zero point 0)`);
  if (signed > 0) parts.push(`${signed} signed`);
  return `activations quantized per tensor: ${parts.join(', ')}`;
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
