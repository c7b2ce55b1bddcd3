/**
 * BatchNorm folding (conventions.md "Compression formats"). At inference a BatchNormalization
 * after a Conv is an affine map per output channel c:
 *   y = γ_c·(x − μ_c)/√(σ²_c + ε) + β_c
 * and x = W_c ∗ in + b_c is linear in W_c and b_c, so with s_c = γ_c/√(σ²_c + ε) the pair is one
 * Conv with
 *   W'_c = W_c·s_c,   b'_c = (b_c − μ_c)·s_c + β_c   (b_c = 0 when the Conv has no bias).
 * The BN disappears and the Conv takes over the BN's output name, so its consumers, the graph
 * outputs and value_info stay valid without rewiring. Arithmetic is in float64, stored float32.
 *
 * ConvTranspose folds too: its weight is [Cin, Cout/group, k…], output channel
 * g·(Cout/group) + j being slice j of axis 1 within group g's rows of axis 0.
 */
import { buildGraphView, nodeDependencies, nodeLabel, type GraphView } from '../graph/graph';
import { makeTensor } from '../onnx/build';
import { ExternalData } from '../onnx/externalData';
import { elementCount, forEachFloatChunk } from '../onnx/tensorData';
import { DataType, type Graph, type Model, type Node, type Tensor } from '../onnx/types';
import { GraphEdit, withGraph } from './graphEdit';
import { CompressionRefusal, type CompressionResult, compressionResult } from './summary';

export interface FoldBatchNormOptions {
  /** BatchNormalization or Conv node names; default every foldable pair. */
  layers?: readonly string[];
}

/** A Conv → BatchNormalization pair that folds. */
interface FoldPair {
  readonly conv: Node;
  readonly bn: Node;
  readonly convLabel: string;
  readonly bnLabel: string;
  readonly weight: Tensor;
  readonly bias?: Tensor;
  /** γ, β, μ, σ² of the BN. */
  readonly params: readonly Tensor[];
  readonly epsilon: number;
}

/** Reads the float values of a float32 tensor as float64. */
type Reader = (t: Tensor) => Float64Array;

export function foldBatchNorm(
  model: Model,
  options: FoldBatchNormOptions = {},
  external?: ExternalData,
): CompressionResult {
  const ext = external ?? new ExternalData(undefined);
  const view = buildGraphView(model.graph);
  const { pairs, skipped } = findPairs(view, options);
  const read: Reader = (t) => readFloats(t, ext);
  const edit = new GraphEdit(model.graph);
  const notes: string[] = [];
  for (const pair of pairs) {
    applyFold(edit, view, pair, read);
    notes.push(`folded '${pair.bnLabel}' into ${pair.conv.opType} '${pair.convLabel}'`);
  }
  notes.push(...skipped.map((reason) => `not folded: ${reason}`));
  const folded = removeDeadConstants(edit.build(), pairs);
  const result = withGraph(model, folded);
  return compressionResult(
    'fold BatchNormalization',
    model,
    result,
    ext,
    pairs.map((p) => p.convLabel),
    notes,
  );
}

/**
 * The Conv → BatchNormalization pairs foldBatchNorm() folds, by node label: what the editor
 * offers to fold, decided by the same checks as the fold itself.
 */
export function foldablePairs(model: Model): { conv: string; bn: string }[] {
  try {
    const { pairs } = findPairs(buildGraphView(model.graph), {});
    return pairs.map((p) => ({ conv: p.convLabel, bn: p.bnLabel }));
  } catch (e) {
    if (e instanceof CompressionRefusal) return [];
    throw e;
  }
}

/** The foldable pairs, and why each other BatchNormalization does not fold. */
function findPairs(
  view: GraphView,
  options: FoldBatchNormOptions,
): { pairs: FoldPair[]; skipped: string[] } {
  const labels = new Map(view.order.map((n, i) => [n, nodeLabel(n, i)]));
  const known = new Set(labels.values());
  for (const name of options.layers ?? []) {
    if (!known.has(name)) throw new CompressionRefusal(`no layer named '${name}'`);
  }
  const requested = options.layers ? new Set(options.layers) : undefined;
  const pairs: FoldPair[] = [];
  const skipped: string[] = [];
  for (const bn of view.order) {
    if (bn.opType !== 'BatchNormalization' || !isDefaultDomain(bn)) continue;
    const bnLabel = labels.get(bn)!;
    const conv = view.producer.get(bn.inputs[0]);
    const convLabel = conv ? labels.get(conv)! : '';
    if (requested && !requested.has(bnLabel) && !requested.has(convLabel)) continue;
    const pair = inspectPair(bn, bnLabel, view, labels);
    if (typeof pair !== 'string') pairs.push(pair);
    else if (requested) throw new CompressionRefusal(`cannot fold: ${pair}`);
    else skipped.push(pair);
  }
  if (pairs.length === 0) {
    throw new CompressionRefusal(
      skipped.length === 0
        ? requested
          ? 'no BatchNormalization among the named layers or after them'
          : 'no BatchNormalization in the model'
        : `no Conv → BatchNormalization pair: ${skipped.join('; ')}`,
    );
  }
  return { pairs, skipped };
}

function isDefaultDomain(n: Node): boolean {
  return n.domain === '' || n.domain === 'ai.onnx';
}

/** The pair ending at `bn`, or why it does not fold. */
function inspectPair(
  bn: Node,
  bnLabel: string,
  view: GraphView,
  labels: ReadonlyMap<Node, string>,
): FoldPair | string {
  const modeReason = inferenceModeReason(bn, bnLabel);
  if (modeReason) return modeReason;
  const conv = view.producer.get(bn.inputs[0]);
  if (!conv) return `${bnLabel} reads graph input '${bn.inputs[0]}'`;
  const convLabel = labels.get(conv)!;
  if (!['Conv', 'ConvTranspose'].includes(conv.opType) || !isDefaultDomain(conv)) {
    return `${bnLabel} reads a ${conv.opType} ('${convLabel}')`;
  }
  const convOut = bn.inputs[0];
  const others = (view.consumers.get(convOut) ?? []).filter((n) => n !== bn);
  if (others.length > 0 || view.outputNames.includes(convOut)) {
    const who = others.length > 0 ? `'${labels.get(others[0])}'` : 'a graph output';
    return `the output of '${convLabel}' also feeds ${who}, not only '${bnLabel}'`;
  }
  const weight = floatConstant(conv.inputs[1], view);
  if (!weight) return `'${convLabel}' has no float32 constant weight`;
  const bias = conv.inputs[2] ? floatConstant(conv.inputs[2], view) : undefined;
  if (conv.inputs[2] && !bias) return `'${convLabel}' has a bias that is not a float32 constant`;
  const params = bn.inputs.slice(1, 5).map((name) => floatConstant(name, view));
  if (params.length < 4 || params.some((p) => !p)) {
    return `${bnLabel} has parameters that are not float32 constants`;
  }
  const channels = outputChannels(conv, weight);
  if (params.some((p) => elementCount(p!.dims) !== channels)) {
    return `${bnLabel} has parameters that do not match the ${channels} channels of '${convLabel}'`;
  }
  const epsilon = bn.attributes.find((a) => a.name === 'epsilon')?.f ?? 1e-5;
  return {
    conv,
    bn,
    convLabel,
    bnLabel,
    weight,
    bias,
    params: params as Tensor[],
    epsilon,
  };
}

/** Why a BN is not a fixed affine map (training mode, per-activation statistics), if it isn't. */
function inferenceModeReason(bn: Node, bnLabel: string): string | undefined {
  const attr = (name: string): number | undefined => bn.attributes.find((a) => a.name === name)?.i;
  if (attr('training_mode') === 1 || bn.outputs.filter((o) => o !== '').length > 1) {
    return `${bnLabel} is in training mode (it updates its statistics)`;
  }
  // BatchNormalization before opset 9: spatial = 0 means statistics per activation, not channel.
  if (attr('spatial') === 0) return `${bnLabel} has spatial = 0 (per-activation statistics)`;
  return undefined;
}

/** The float32 initializer or Constant tensor behind `name`, through Identity chains. */
function floatConstant(name: string | undefined, view: GraphView): Tensor | undefined {
  for (let hops = 0; name && hops < 16; hops++) {
    const init = view.initializers.get(name);
    if (init && view.graph.initializers.includes(init)) {
      return init.dataType === DataType.FLOAT ? init : undefined;
    }
    const producer = view.producer.get(name);
    if (producer?.opType === 'Constant') {
      const t = producer.attributes.find((a) => a.name === 'value')?.t;
      return t?.dataType === DataType.FLOAT ? t : undefined;
    }
    if (producer?.opType !== 'Identity') return undefined;
    name = producer.inputs[0];
  }
  return undefined;
}

function outputChannels(conv: Node, weight: Tensor): number {
  if (conv.opType === 'Conv') return weight.dims[0];
  const group = conv.attributes.find((a) => a.name === 'group')?.i ?? 1;
  return weight.dims[1] * group;
}

function readFloats(t: Tensor, ext: ExternalData): Float64Array {
  const out = new Float64Array(elementCount(t.dims));
  forEachFloatChunk(t, ext, (chunk, start) => out.set(chunk, start));
  return out;
}

/** s_c = γ_c/√(σ²_c + ε) and the folded bias b'_c = (b_c − μ_c)·s_c + β_c. */
function foldedScaleAndBias(
  pair: FoldPair,
  read: Reader,
): { scale: Float64Array; bias: Float64Array } {
  const [gamma, beta, mean, variance] = pair.params.map(read);
  const b = pair.bias ? read(pair.bias) : new Float64Array(gamma.length);
  const scale = new Float64Array(gamma.length);
  const bias = new Float64Array(gamma.length);
  for (let c = 0; c < gamma.length; c++) {
    scale[c] = gamma[c] / Math.sqrt(variance[c] + pair.epsilon);
    bias[c] = (b[c] - mean[c]) * scale[c] + beta[c];
  }
  return { scale, bias };
}

/** W'_c = W_c·s_c, with c the output channel of each weight element. */
function scaledWeight(pair: FoldPair, scale: Float64Array, read: Reader): Float32Array {
  const w = read(pair.weight);
  const dims = pair.weight.dims;
  const inner = elementCount(dims.slice(2));
  const out = new Float32Array(w.length);
  // Conv: channel = index along axis 0. ConvTranspose: axis 0 is Cin (group g owns Cin/group
  // rows), axis 1 is j, and the channel is g·(Cout/group) + j.
  const group = pair.conv.attributes.find((a) => a.name === 'group')?.i ?? 1;
  const rowsPerGroup = dims[0] / group;
  for (let i = 0; i < w.length; i++) {
    const row = Math.floor(i / (dims[1] * inner));
    const col = Math.floor(i / inner) % dims[1];
    const c = pair.conv.opType === 'Conv' ? row : Math.floor(row / rowsPerGroup) * dims[1] + col;
    out[i] = w[i] * scale[c];
  }
  return out;
}

/** Replaces the weight and bias, gives the Conv the BN's output, and drops the BN. */
function applyFold(edit: GraphEdit, view: GraphView, pair: FoldPair, read: Reader): void {
  const { scale, bias } = foldedScaleAndBias(pair, read);
  const conv = pair.conv;
  const weightName = exclusiveInitializer(conv.inputs[1], conv, view)
    ? conv.inputs[1]
    : edit.uniqueName(`${pair.weight.name}_bn_folded`);
  const biasName =
    conv.inputs[2] && exclusiveInitializer(conv.inputs[2], conv, view)
      ? conv.inputs[2]
      : edit.uniqueName(`${pair.convLabel}_bias`);
  const dims = pair.weight.dims;
  edit.setInitializer(
    makeTensor(weightName, DataType.FLOAT, dims, scaledWeight(pair, scale, read)),
  );
  edit.setInitializer(makeTensor(biasName, DataType.FLOAT, [bias.length], Float32Array.from(bias)));
  const { raw: _raw, ...rest } = conv;
  edit.replaceNode(conv, {
    ...rest,
    inputs: [conv.inputs[0], weightName, biasName],
    outputs: [pair.bn.outputs[0], ...conv.outputs.slice(1)],
  });
  edit.replaceNode(pair.bn, []);
}

/** Whether `name` is an initializer that only `node` reads (so it can be rewritten in place). */
function exclusiveInitializer(name: string, node: Node, view: GraphView): boolean {
  const readers = view.consumers.get(name) ?? [];
  return (
    view.graph.initializers.some((t) => t.name === name) &&
    readers.length === 1 &&
    readers[0] === node &&
    !view.outputNames.includes(name) &&
    !view.graph.inputs.some((i) => i.name === name)
  );
}

/**
 * After folding, the BN parameters (and the Identity nodes that fed them, as in exports that
 * share equal tensors) may be read by nothing: remove those, and the value_info of the Conv
 * outputs that no longer exist. Only names the fold released are considered, so unrelated
 * dead tensors in the model stay as they were.
 */
function removeDeadConstants(graph: Graph, pairs: readonly FoldPair[]): Graph {
  let candidates = new Set(
    pairs.flatMap((p) => [...p.bn.inputs.slice(1), ...p.conv.inputs.slice(1)]),
  );
  let current = graph;
  while (candidates.size > 0) {
    const used = usedNames(current);
    const edit = new GraphEdit(current);
    const next = new Set<string>();
    for (const name of candidates) {
      if (!name || used.has(name)) continue;
      if (current.initializers.some((t) => t.name === name)) edit.removeInitializer(name);
      const producer = current.nodes.find((n) => n.outputs.includes(name));
      if (producer && ['Identity', 'Constant'].includes(producer.opType)) {
        if (producer.outputs.every((o) => !used.has(o))) {
          edit.replaceNode(producer, []);
          for (const i of producer.inputs) next.add(i);
        }
      }
    }
    current = edit.build();
    candidates = next;
  }
  const released = new Set(pairs.map((p) => p.bn.inputs[0]));
  const { raw: _raw, ...rest } = current;
  return { ...rest, valueInfo: current.valueInfo.filter((v) => !released.has(v.name)) };
}

function usedNames(graph: Graph): Set<string> {
  const used = new Set(graph.outputs.map((o) => o.name));
  for (const n of graph.nodes) for (const d of nodeDependencies(n)) used.add(d);
  return used;
}
