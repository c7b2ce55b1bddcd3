/**
 * Bias correction for quantized weights (Nagel et al. 2019, "Data-Free Quantization Through
 * Weight Equalization and Bias Correction", §4.2, the empirical variant): rounding a layer's
 * weights W to Ŵ shifts its output by (Ŵ − W)·x, whose mean (Ŵ − W)·E[x] is the same on every
 * input and so is pure bias. Adding (W − Ŵ)·E[x] to the layer's bias takes it away; the output
 * mean is then the float layer's (for inputs with the calibration's means). Rounding error is
 * zero-mean per weight, but a channel's sum of it weighted by its inputs' means is not, and at
 * 3–4 bits it adds up to a visible shift that the next layers' ReLUs turn into a real error.
 *
 * E[x] comes from a calibration run of the unquantized model, per input channel: for a Conv the
 * im2col column (c, kernel offset) gets channel c's mean. That is the standard approximation
 * (the paper's own, from BatchNorm statistics): border positions see padding zeros instead, so
 * their true column means are a little smaller. Means are taken on the float model so that
 * every layer is corrected against the same inputs in one run: once each layer gives its float
 * mean, the next one's inputs have their float means too.
 *
 * It is a post-pass on a model whose weights are already written as QDQ (quantize.ts,
 * calibratedQuantize.ts): Ŵ is read back from each DequantizeLinear, W from the original model.
 * Conv and ConvTranspose get a bias when they have none; Gemm's C is corrected (or created) in
 * its own broadcast shape; a MatMul is corrected through the Add of a constant that follows it,
 * as exporters write a Linear layer.
 */
import { nodeLabel } from '../graph/graph';
import { intAttr } from '../onnx/attributes';
import { makeTensor } from '../onnx/build';
import type { ExternalData } from '../onnx/externalData';
import type { LoadedModel } from '../onnx/load';
import { inlineExternalData } from '../onnx/relocate';
import { elementCount, tensorNumbers } from '../onnx/tensorData';
import { DataType, type Model, type Node, type Tensor } from '../onnx/types';
import { observeCalibration, type CalibrationOptions } from './calibrate';
import { GraphEdit, withGraph, withInput } from './graphEdit';
import { channelIndexer } from './quantizeMath';
import { compressionResult, modelFigures, type CompressionResult } from './summary';

/** A layer whose weight reaches it from a DequantizeLinear and was float in the original. */
export interface BiasCorrectionTarget {
  readonly node: Node;
  readonly label: string;
  readonly geometry: WeightChannels;
  readonly dequantize: Node;
  /** The original float weight (the DequantizeLinear's output has its name). */
  readonly weight: Tensor;
}

/** Which input and output channel each element of a layer's weight connects. */
export interface WeightChannels {
  /** The layer's data input. */
  readonly input: string;
  /** Axis of `input` holding the input channels (−1: the last). */
  readonly channelAxis: number;
  readonly inputChannels: number;
  readonly outputChannels: number;
  /** Input and output channel of the weight's flat element i. */
  channelsOf(i: number): { input: number; output: number };
}

export type ChannelMeans = ReadonlyMap<string, Float64Array>;

const LAYER_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/** The layers of `quantized` whose weight was quantized from a float one of `original`. */
export function biasCorrectionTargets(quantized: Model, original: Model): BiasCorrectionTarget[] {
  const producers = new Map<string, Node>();
  for (const n of quantized.graph.nodes) for (const o of n.outputs) producers.set(o, n);
  const originals = storedFloats(original);
  const targets: BiasCorrectionTarget[] = [];
  quantized.graph.nodes.forEach((node, i) => {
    if (!LAYER_OPS.has(node.opType) || (node.domain !== '' && node.domain !== 'ai.onnx')) return;
    let producer = producers.get(node.inputs[1] ?? '');
    while (producer?.opType === 'Identity') producer = producers.get(producer.inputs[0]);
    if (producer?.opType !== 'DequantizeLinear') return;
    const weight = originals.get(producer.outputs[0]);
    if (!weight) return;
    const geometry = weightChannels(node, weight.dims);
    if (!geometry) return;
    targets.push({ node, label: nodeLabel(node, i), geometry, dequantize: producer, weight });
  });
  return targets;
}

/**
 * The channels of a Conv [M, C/g, k…], ConvTranspose [C, M/g, k…], Gemm B ([K, N], or [N, K]
 * with transB) or 2-D MatMul B [K, N] weight; undefined for other layouts.
 */
export function weightChannels(node: Node, dims: readonly number[]): WeightChannels | undefined {
  const input = node.inputs[0];
  const groups = intAttr(node, 'group', 1);
  if (node.opType === 'Conv' || node.opType === 'ConvTranspose') {
    if (dims.length < 3 || groups < 1 || dims[0] % groups !== 0) return undefined;
    const kernel = elementCount(dims.slice(2));
    const perElement = dims[1] * kernel;
    if (node.opType === 'Conv') {
      const outPerGroup = dims[0] / groups;
      return {
        input,
        channelAxis: 1,
        inputChannels: dims[1] * groups,
        outputChannels: dims[0],
        channelsOf: (i) => {
          const output = Math.floor(i / perElement);
          const group = Math.floor(output / outPerGroup);
          return { output, input: group * dims[1] + Math.floor((i % perElement) / kernel) };
        },
      };
    }
    const inPerGroup = dims[0] / groups;
    return {
      input,
      channelAxis: 1,
      inputChannels: dims[0],
      outputChannels: dims[1] * groups,
      channelsOf: (i) => {
        const inputChannel = Math.floor(i / perElement);
        const group = Math.floor(inputChannel / inPerGroup);
        return {
          input: inputChannel,
          output: group * dims[1] + Math.floor((i % perElement) / kernel),
        };
      },
    };
  }
  if ((node.opType !== 'Gemm' && node.opType !== 'MatMul') || dims.length !== 2) return undefined;
  const transB = node.opType === 'Gemm' && intAttr(node, 'transB', 0) !== 0;
  const transA = node.opType === 'Gemm' && intAttr(node, 'transA', 0) !== 0;
  const [k, n] = transB ? [dims[1], dims[0]] : dims;
  return {
    input,
    // Gemm's A is 2-D: [M, K], or [K, M] with transA; MatMul's input has K last.
    channelAxis: node.opType === 'Gemm' ? (transA ? 0 : 1) : -1,
    inputChannels: k,
    outputChannels: n,
    channelsOf: transB
      ? (i) => ({ output: Math.floor(i / k), input: i % k })
      : (i) => ({ input: Math.floor(i / n), output: i % n }),
  };
}

/** float32 initializers and Constant values, by name. */
function storedFloats(model: Model): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const t of model.graph.initializers) if (t.dataType === DataType.FLOAT) out.set(t.name, t);
  for (const n of model.graph.nodes) {
    if (n.opType !== 'Constant') continue;
    const t = n.attributes.find((a) => a.name === 'value')?.t;
    if (t?.dataType === DataType.FLOAT) out.set(n.outputs[0], t);
  }
  return out;
}

/**
 * E[x] per input channel of each target's input, over the calibration samples run through
 * `loaded` (the unquantized model). Keyed by tensor name.
 */
export async function inputChannelMeans(
  loaded: LoadedModel,
  targets: readonly Pick<BiasCorrectionTarget, 'geometry'>[],
  options: Omit<CalibrationOptions, 'tensors' | 'layers' | 'histograms'>,
): Promise<{ means: Map<string, Float64Array>; samples: number }> {
  const axes = new Map<string, number>();
  for (const { geometry } of targets) {
    if (!axes.has(geometry.input)) axes.set(geometry.input, geometry.channelAxis);
  }
  const sums = new Map<string, { sum: Float64Array; count: number }>();
  const samples = await observeCalibration(loaded, [...axes.keys()], options, (name, x) => {
    const rank = x.dims.length;
    const axis = axes.get(name)! < 0 ? rank - 1 : axes.get(name)!;
    const channels = x.dims[axis] ?? 1;
    const inner = elementCount(x.dims.slice(axis + 1));
    let entry = sums.get(name);
    if (!entry) sums.set(name, (entry = { sum: new Float64Array(channels), count: 0 }));
    // A dimension that changes between samples leaves the layer without means (skipped).
    if (entry.sum.length !== channels) return;
    const { data } = x;
    for (let i = 0; i < data.length; i++) {
      entry.sum[Math.floor(i / inner) % channels] += Number(data[i]);
    }
    entry.count += channels > 0 ? data.length / channels : 0;
  });
  const means = new Map<string, Float64Array>();
  for (const [name, { sum, count }] of sums) {
    if (count > 0)
      means.set(
        name,
        sum.map((s) => s / count),
      );
  }
  return { means, samples };
}

/**
 * Corrects the bias of every layer of `quantized` whose weight was quantized from a float
 * weight of `original`, for its mean output shift on inputs with `means` (inputChannelMeans).
 */
export function correctBias(
  quantized: Model,
  original: Model,
  means: ChannelMeans,
  external?: ExternalData,
  describeMeans = '',
): CompressionResult {
  const before = modelFigures(quantized, external);
  const edit = new GraphEdit(quantized.graph);
  const readers = readerCounts(quantized);
  const touched: string[] = [];
  const skipped: string[] = [];
  let created = 0;
  let largest = { shift: 0, layer: '' };
  for (const target of biasCorrectionTargets(quantized, original)) {
    const mean = means.get(target.geometry.input);
    if (!mean || mean.length !== target.geometry.inputChannels) {
      skipped.push(`${target.label} (no input means)`);
      continue;
    }
    const shift = outputShift(target, mean, quantized, external);
    if (typeof shift === 'string') {
      skipped.push(`${target.label} (${shift})`);
      continue;
    }
    if (shift.every((s) => s === 0)) continue;
    const applied = applyShift(edit, target, shift, quantized, readers, external);
    if (typeof applied === 'string') {
      skipped.push(`${target.label} (${applied})`);
      continue;
    }
    if (applied.created) created++;
    touched.push(target.label);
    const top = Math.max(...shift.map(Math.abs));
    if (top > largest.shift) largest = { shift: top, layer: target.label };
  }
  const model = withGraph(quantized, edit.build());
  const notes = [
    `bias correction (Nagel et al. 2019, empirical): ${touched.length} layer(s) given back their float output mean, E[x] per input channel${describeMeans} (a Conv's kernel window takes its channel's mean; padding is not counted apart)`,
  ];
  if (created > 0) notes.push(`${created} layer(s) without a bias got one`);
  if (largest.layer) {
    notes.push(`largest mean shift removed: ${largest.shift.toPrecision(3)} in '${largest.layer}'`);
  }
  if (skipped.length > 0) {
    const shown = skipped.slice(0, 5).join(', ');
    notes.push(
      `not corrected: ${shown}${skipped.length > 5 ? `, … (${skipped.length - 5} more)` : ''}`,
    );
  }
  return compressionResult('bias correction', before, model, external, touched, notes);
}

/**
 * Measures the input means on `original` and corrects `quantized` (same external data): the
 * whole pass, for a compression pipeline.
 */
export async function biasCorrect(
  quantized: LoadedModel,
  original: LoadedModel,
  calibration: Omit<CalibrationOptions, 'tensors' | 'layers' | 'histograms'>,
): Promise<CompressionResult> {
  const targets = biasCorrectionTargets(quantized.model, original.model);
  const inputs = new Set(original.model.graph.inputs.map((i) => i.name));
  for (const n of original.model.graph.nodes) for (const o of n.outputs) inputs.add(o);
  // An input renamed since (an activation QDQ already in place) has no float counterpart.
  const measurable = targets.filter((t) => inputs.has(t.geometry.input));
  // ONNX Runtime gets the model as bytes, so side-file payloads go back inside (as for GPTQ).
  const runnable = original.model.graph.initializers.some((t) => t.external)
    ? { ...original, model: inlineExternalData(original.model, original.external) }
    : original;
  const { means, samples } =
    measurable.length > 0
      ? await inputChannelMeans(runnable, measurable, calibration)
      : { means: new Map<string, Float64Array>(), samples: 0 };
  const from = calibration.inputsDir !== undefined ? 'the calibration folder' : 'random inputs';
  return correctBias(
    quantized.model,
    original.model,
    means,
    quantized.external,
    ` over ${samples} sample(s) from ${from}`,
  );
}

/** Each output channel's mean shift to add back, Σ (W − Ŵ)·E[x]; or why it can't be had. */
function outputShift(
  target: BiasCorrectionTarget,
  mean: Float64Array,
  quantized: Model,
  external: ExternalData | undefined,
): Float64Array | string {
  const dequantized = dequantizedWeight(target.dequantize, target.weight.dims, quantized, external);
  if (typeof dequantized === 'string') return dequantized;
  const w = tensorNumbers(target.weight, external);
  const shift = new Float64Array(target.geometry.outputChannels);
  for (let i = 0; i < w.length; i++) {
    const { input, output } = target.geometry.channelsOf(i);
    shift[output] += (w[i] - dequantized[i]) * mean[input];
  }
  return shift;
}

/** Ŵ as DequantizeLinear computes it (float32 products), or why it can't be read. */
function dequantizedWeight(
  dq: Node,
  dims: readonly number[],
  model: Model,
  external: ExternalData | undefined,
): Float32Array | string {
  const inits = new Map(model.graph.initializers.map((t) => [t.name, t]));
  const [q, scale, zeroPoint] = dq.inputs.map((n) => (n ? inits.get(n) : undefined));
  if (!q || !scale || (dq.inputs[2] && !zeroPoint)) return 'its quantized weight is not stored';
  if (dq.attributes.some((a) => a.name === 'block_size' && (a.i ?? 0) > 0)) {
    return 'blocked DequantizeLinear';
  }
  let values: number[];
  let scales: number[];
  let zeros: number[];
  try {
    values = tensorNumbers(q, external);
    scales = tensorNumbers(scale, external);
    zeros = zeroPoint ? tensorNumbers(zeroPoint, external) : [];
  } catch (e) {
    return (e as Error).message;
  }
  const perChannel = scale.dims.length > 0 && scales.length > 1;
  const rawAxis = dq.attributes.find((a) => a.name === 'axis')?.i ?? 1;
  const axis = perChannel ? (rawAxis < 0 ? rawAxis + dims.length : rawAxis) : undefined;
  const channelOf = channelIndexer(dims, axis);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    out[i] = Math.fround((values[i] - (zeros[c] ?? 0)) * scales[c]);
  }
  return out;
}

/** How many nodes read each tensor as an input. */
function readerCounts(model: Model): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of model.graph.nodes) {
    for (const i of new Set(n.inputs)) counts.set(i, (counts.get(i) ?? 0) + 1);
  }
  return counts;
}

/** Adds `shift` to the layer's bias (Conv/ConvTranspose/Gemm) or to the Add after a MatMul. */
function applyShift(
  edit: GraphEdit,
  target: BiasCorrectionTarget,
  shift: Float64Array,
  model: Model,
  readers: ReadonlyMap<string, number>,
  external: ExternalData | undefined,
): { created: boolean } | string {
  const { node } = target;
  if (node.opType === 'MatMul')
    return shiftFollowingAdd(edit, target, shift, model, readers, external);
  let scaled = shift;
  if (node.opType === 'Gemm') {
    // y = alpha·A·B + beta·C: the weight's shift is alpha times the product's, C's is beta times.
    const alpha = floatAttr(node, 'alpha', 1);
    const beta = floatAttr(node, 'beta', 1);
    if (beta === 0) return 'Gemm with beta 0 ignores its bias';
    scaled = shift.map((s) => (alpha / beta) * s);
  }
  const biasName = node.inputs[2];
  if (!biasName) {
    const name = edit.uniqueName(`${target.dequantize.outputs[0]}_bias`);
    edit.setInitializer(makeTensor(name, DataType.FLOAT, [scaled.length], scaled));
    edit.replaceNode(node, withInput(current(edit, node), 2, name));
    return { created: true };
  }
  const bias = edit.initializer(biasName);
  if (!bias || bias.dataType !== DataType.FLOAT) return 'its bias is not a float32 initializer';
  const corrected = addAlongLast(bias, scaled, external);
  if (typeof corrected === 'string') return corrected;
  writeTensor(edit, node, 2, bias, corrected, readers);
  return { created: false };
}

/** A MatMul's bias is the constant operand of the one Add reading its output. */
function shiftFollowingAdd(
  edit: GraphEdit,
  target: BiasCorrectionTarget,
  shift: Float64Array,
  model: Model,
  readers: ReadonlyMap<string, number>,
  external: ExternalData | undefined,
): { created: boolean } | string {
  const output = target.node.outputs[0];
  const consumers = model.graph.nodes.filter((n) => n.inputs.includes(output));
  const add = consumers.length === 1 && consumers[0].opType === 'Add' ? consumers[0] : undefined;
  const slot = add ? 1 - add.inputs.indexOf(output) : -1;
  const bias = add && slot >= 0 && slot <= 1 ? edit.initializer(add.inputs[slot]) : undefined;
  if (!add || !bias || bias.dataType !== DataType.FLOAT) {
    return 'a MatMul without an Add of a float32 constant after it';
  }
  const corrected = addAlongLast(bias, shift, external);
  if (typeof corrected === 'string') return corrected;
  writeTensor(edit, add, slot, bias, corrected, readers);
  return { created: false };
}

/**
 * bias + shift along the last axis, in the bias' own broadcast shape widened to the shift's
 * length ([] or [1] → [N], [M, 1] → [M, N]); undefined when it does not broadcast that way.
 */
function addAlongLast(
  bias: Tensor,
  shift: Float64Array,
  external: ExternalData | undefined,
): { dims: number[]; values: Float64Array } | string {
  const n = shift.length;
  const dims = bias.dims.length === 0 ? [1] : [...bias.dims];
  const last = dims[dims.length - 1];
  if (last !== n && last !== 1) return `its bias of shape [${bias.dims.join(', ')}]`;
  const values = tensorNumbers(bias, external);
  const outer = values.length / last;
  const out = new Float64Array(outer * n);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) out[o * n + j] = values[o * last + (last === 1 ? 0 : j)] + shift[j];
  }
  dims[dims.length - 1] = n;
  return { dims, values: out };
}

/**
 * Writes the corrected tensor over the old one when only this node reads it, else as a new
 * initializer that only this node reads.
 */
function writeTensor(
  edit: GraphEdit,
  node: Node,
  slot: number,
  old: Tensor,
  corrected: { dims: number[]; values: Float64Array },
  readers: ReadonlyMap<string, number>,
): void {
  if ((readers.get(old.name) ?? 0) <= 1) {
    edit.setInitializer(makeTensor(old.name, DataType.FLOAT, corrected.dims, corrected.values));
    return;
  }
  const name = edit.uniqueName(`${old.name}_corrected`);
  edit.setInitializer(makeTensor(name, DataType.FLOAT, corrected.dims, corrected.values));
  edit.replaceNode(node, withInput(current(edit, node), slot, name));
}

/** The node as already edited (a node is rewired at most once here, but stay safe). */
function current(edit: GraphEdit, node: Node): Node {
  return edit.current(node)[0] ?? node;
}

function floatAttr(node: Node, name: string, fallback: number): number {
  return node.attributes.find((a) => a.name === name)?.f ?? fallback;
}
