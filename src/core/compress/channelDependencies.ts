/**
 * Which tensors' channel axes must shrink together when filters are removed (conventions.md
 * "Structured pruning").
 *
 * A *channel group* is a set of tensors sharing one channel index space (axis 1): a Conv's output
 * keeps its index space through BatchNormalization, elementwise activations, pooling, Identity
 * and depthwise convs, and residual Add/Sub/Mul join their summands into one space. A Concat on
 * axis 1 makes a *composite* group whose channels are its inputs' channels at offsets. Each group
 * lists every parameter slice that removing a channel implies (the producing convs' filters and
 * bias, BatchNorm γ β μ σ², per-channel constants, axis 1 of consumer convs, H·W rows of a Gemm
 * after Flatten), or the exact reason it can't be pruned.
 */
import { intAttr } from '../onnx/attributes';
import { opsetVersions } from '../onnx/opsets';
import { buildGraphView, nodeDependencies, nodeLabel, type GraphView } from '../graph/graph';
import { ExternalData } from '../onnx/externalData';
import { DataType, type Model, type Node, type Tensor } from '../onnx/types';
import { inferShapes, type ShapeInference } from '../shapes/infer';
import type { Dim } from '../shapes/types';

/** A parameter to slice when channels go: input `slot` of `node`, along `axis`. */
export interface ParamSlice {
  readonly node: Node;
  readonly slot: number;
  readonly axis: number;
  /** Channel c covers indices c·repeat … c·repeat + repeat − 1 (H·W rows after Flatten). */
  readonly repeat: number;
  /** True for a producing conv's filters: their L1 norms score the channels. */
  readonly score: boolean;
}

/** One part of a Concat output: the channels of `group` (undefined: fixed channels) at `offset`. */
export interface ConcatPart {
  readonly group?: ChannelGroup;
  readonly channels: number;
  readonly offset: number;
}

export interface ChannelGroup {
  readonly id: number;
  /** 'filters': produced by convs, prunable; 'concat': follows its parts. */
  readonly kind: 'filters' | 'concat';
  readonly channels: number;
  /** Tensors whose axis 1 is this group's channel axis. */
  readonly tensors: readonly string[];
  /** Convs (group = 1) whose filters are these channels. */
  readonly sources: readonly Node[];
  /** Depthwise convs inside the group: their `group` attribute becomes the channel count. */
  readonly depthwise: readonly Node[];
  readonly slices: readonly ParamSlice[];
  /** Flatten outputs of the group's tensors: their axis 1 is channels × repeat. */
  readonly flattened: readonly { readonly tensor: string; readonly repeat: number }[];
  readonly parts: readonly ConcatPart[];
  /** Why the group can't be pruned (the first blocking dependency found). */
  readonly blocked?: string;
}

export interface ChannelAnalysis {
  readonly view: GraphView;
  readonly shapes: ShapeInference;
  readonly groups: readonly ChannelGroup[];
  /** The group of each channel tensor (prunable or concat groups only). */
  readonly groupOf: ReadonlyMap<string, ChannelGroup>;
}

/** Ops that keep their input's channels one to one (output 0 = input 0's index space). */
const CHANNELWISE = new Set([
  'Relu',
  'LeakyRelu',
  'Clip',
  'Sigmoid',
  'HardSigmoid',
  'HardSwish',
  'Tanh',
  'Elu',
  'Selu',
  'Celu',
  'Softplus',
  'Softsign',
  'Gelu',
  'Mish',
  'ThresholdedRelu',
  'Shrink',
  'Identity',
  'Dropout',
  'MaxPool',
  'AveragePool',
  'LpPool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'GlobalLpPool',
  'Neg',
  'Abs',
  'Sqrt',
  'Exp',
  'Log',
  'Erf',
  'Reciprocal',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Cast',
]);

/** Broadcasting elementwise ops: same-shaped operands share channels (residual joins). */
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Sum', 'Mean', 'PRelu']);

/** Per-channel parameter slots of normalisations (axis 0 of each). */
const NORM_SLOTS: Readonly<Record<string, readonly number[]>> = {
  BatchNormalization: [1, 2, 3, 4],
  InstanceNormalization: [1, 2],
};

type Origin =
  | { readonly kind: 'conv'; readonly node: Node }
  | { readonly kind: 'concat'; readonly node: Node; readonly inputs: readonly string[] }
  | { readonly kind: 'fixed'; readonly what: string };

/** Disjoint sets of tensor names. */
class UnionFind {
  private readonly parent = new Map<string, string>();
  find(x: string): string {
    let root = x;
    for (let p = this.parent.get(root); p !== undefined && p !== root; p = this.parent.get(root))
      root = p;
    // Path compression keeps deep activation chains cheap.
    for (let cur = x; cur !== root;) {
      const next = this.parent.get(cur)!;
      this.parent.set(cur, root);
      cur = next;
    }
    return root;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(rb, ra);
  }
  add(x: string): void {
    if (!this.parent.has(x)) this.parent.set(x, x);
  }
  members(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const x of this.parent.keys()) {
      const r = this.find(x);
      const list = out.get(r);
      if (list) list.push(x);
      else out.set(r, [x]);
    }
    return out;
  }
}

/** Collects the per-tensor facts while walking the graph; groups are formed at the end. */
class Walker {
  readonly uf = new UnionFind();
  readonly origins = new Map<string, Origin>();
  readonly slices: { tensor: string; slice: ParamSlice }[] = [];
  readonly blocks: { tensor: string; reason: string }[] = [];
  readonly depthwise: { tensor: string; node: Node }[] = [];
  readonly flattened: { tensor: string; flat: string; repeat: number }[] = [];
  /** Flatten outputs whose Gemm/MatMul consumers are already handled. */
  readonly handledFlat = new Set<string>();

  private readonly dense: ReadonlySet<string>;

  constructor(
    readonly view: GraphView,
    readonly shapes: ShapeInference,
  ) {
    this.dense = new Set(view.graph.initializers.map((t) => t.name));
  }

  isConstant(name: string): boolean {
    return name === '' || this.shapes.constants.has(name);
  }

  shape(name: string): readonly Dim[] | undefined {
    return this.shapes.types.get(name)?.shape;
  }

  /** The stored float32 initializer behind `name` (through Identity), or undefined. */
  stored(name: string): Tensor | undefined {
    let current = name;
    for (let hops = 0; hops < 16; hops++) {
      const t = this.view.initializers.get(current);
      // A sparse_initializer's values are not the dense weight: leave those layers alone.
      if (t) return t.dataType === DataType.FLOAT && this.dense.has(current) ? t : undefined;
      const p = this.view.producer.get(current);
      if (p?.opType !== 'Identity') return undefined;
      current = p.inputs[0];
    }
    return undefined;
  }

  block(tensor: string, reason: string): void {
    if (this.isConstant(tensor)) return;
    this.uf.add(tensor);
    this.blocks.push({ tensor, reason });
  }

  slice(tensor: string, slice: Omit<ParamSlice, 'repeat' | 'score'> & Partial<ParamSlice>): void {
    this.uf.add(tensor);
    this.slices.push({ tensor, slice: { repeat: 1, score: false, ...slice } });
  }

  origin(tensor: string, origin: Origin): void {
    this.uf.add(tensor);
    this.origins.set(tensor, origin);
  }

  join(a: string, b: string): void {
    this.uf.add(a);
    this.uf.add(b);
    this.uf.union(a, b);
  }

  /** Blocks every non-constant input of a node we can't see through. */
  unknown(node: Node, why = 'unknown layout'): void {
    for (const dep of nodeDependencies(node)) {
      if (this.handledFlat.has(dep)) continue;
      this.block(
        dep,
        `channel axis of '${dep}' consumed by ${node.opType} '${label(node)}' (${why})`,
      );
    }
    this.fixedOutputs(node);
  }

  fixedOutputs(node: Node, from = 0): void {
    for (const out of node.outputs.slice(from)) {
      if (out)
        this.origin(out, { kind: 'fixed', what: `the output of ${node.opType} '${label(node)}'` });
    }
  }
}

function label(node: Node): string {
  return nodeLabel(node);
}

export function analyzeChannels(model: Model, external?: ExternalData): ChannelAnalysis {
  const view = buildGraphView(model.graph);
  const shapes = inferShapes(view, {
    opsets: opsetVersions(model),
    external: external ?? new ExternalData(undefined),
  });
  const w = new Walker(view, shapes);
  for (const name of view.inputNames)
    w.origin(name, { kind: 'fixed', what: `graph input '${name}'` });
  for (const node of view.order) visit(w, node);
  for (const out of view.outputNames) {
    const p = view.producer.get(out);
    w.block(out, `${p ? label(p) : `'${out}'`} output reaches graph output '${out}' directly`);
  }
  return formGroups(w);
}

function visit(w: Walker, node: Node): void {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return w.unknown(node);
  if (node.opType === 'Conv') return visitConv(w, node);
  if (NORM_SLOTS[node.opType]) return visitNorm(w, node);
  if (CHANNELWISE.has(node.opType)) return visitChannelwise(w, node);
  if (ELEMENTWISE.has(node.opType)) return visitElementwise(w, node);
  if (node.opType === 'Concat') return visitConcat(w, node);
  if (node.opType === 'Flatten') return visitFlatten(w, node);
  if (node.opType === 'Gemm' || node.opType === 'MatMul') return visitMatrix(w, node);
  if (node.opType === 'Constant') return;
  w.unknown(node);
}

function visitConv(w: Walker, node: Node): void {
  const [x, wName, bName] = node.inputs;
  const weight = w.stored(wName);
  const biasOk = !bName || w.stored(bName) !== undefined;
  if (!weight || weight.dims.length < 3 || !biasOk) {
    return w.unknown(node, 'its weights are not a stored float32 tensor');
  }
  const group = intAttr(node, 'group', 1);
  const out = node.outputs[0];
  if (group === 1) {
    w.slice(x, { node, slot: 1, axis: 1 });
    w.origin(out, { kind: 'conv', node });
    w.slice(out, { node, slot: 1, axis: 0, score: true });
    if (bName) w.slice(out, { node, slot: 2, axis: 0 });
    return;
  }
  if (weight.dims[1] === 1 && weight.dims[0] === group) {
    // Depthwise with multiplier 1: filter c reads channel c only, so its output is the same space.
    w.join(x, out);
    w.slice(x, { node, slot: 1, axis: 0, score: true });
    if (bName) w.slice(x, { node, slot: 2, axis: 0 });
    w.depthwise.push({ tensor: x, node });
    return;
  }
  w.unknown(node, `grouped Conv with group=${group} couples channels in blocks`);
}

function visitNorm(w: Walker, node: Node): void {
  const x = node.inputs[0];
  for (const slot of NORM_SLOTS[node.opType]) {
    const name = node.inputs[slot];
    if (name && !w.stored(name)) {
      return w.unknown(node, `its parameter '${name}' is not a stored float32 tensor`);
    }
    if (name) w.slice(x, { node, slot, axis: 0 });
  }
  w.join(x, node.outputs[0]);
  w.fixedOutputs(node, 1);
}

function visitChannelwise(w: Walker, node: Node): void {
  const x = node.inputs[0];
  if (node.opType === 'MaxPool' && node.outputs[1]) {
    return w.unknown(node, 'its Indices output encodes the channel count');
  }
  w.join(x, node.outputs[0]);
  if (node.opType === 'Dropout' && node.outputs[1]) w.join(x, node.outputs[1]);
}

function visitElementwise(w: Walker, node: Node): void {
  const out = node.outputs[0];
  const outShape = w.shape(out);
  if (!outShape || outShape.length < 2) return w.unknown(node, 'its output rank is unknown');
  const rank = outShape.length;
  node.inputs.forEach((name, slot) => {
    if (!name) return;
    const shape = w.shape(name);
    if (!shape)
      return w.block(out, `'${name}' of ${node.opType} '${label(node)}' has no known shape`);
    const axis = 1 - (rank - shape.length);
    const dim = axis >= 0 ? shape[axis] : 1;
    if (w.isConstant(name)) {
      if (dim === 1) return;
      if (!w.stored(name)) {
        return w.block(
          out,
          `per-channel constant '${name}' of ${node.opType} '${label(node)}' is not a stored float32 tensor`,
        );
      }
      return w.slice(out, { node, slot, axis });
    }
    if (axis === 1 && dim === outShape[1]) return w.join(name, out);
    if (dim === 1 && axis >= 0) return; // broadcast over channels: that operand has no channel axis
    const reason = `${node.opType} '${label(node)}' broadcasts the channel axis of '${name}'`;
    w.block(name, reason);
    w.block(out, reason);
  });
}

function visitConcat(w: Walker, node: Node): void {
  const out = node.outputs[0];
  const rank = w.shape(out)?.length;
  if (rank === undefined) return w.unknown(node, 'its rank is unknown');
  const axisAttr = intAttr(node, 'axis', 0);
  const axis = axisAttr < 0 ? axisAttr + rank : axisAttr;
  if (axis === 1) return w.origin(out, { kind: 'concat', node, inputs: node.inputs });
  // Concatenating along another axis keeps the channels: every input shares them.
  for (const name of node.inputs) {
    if (w.isConstant(name)) return w.unknown(node, `constant input '${name}' has channels too`);
  }
  for (const name of node.inputs) w.join(name, out);
}

function visitFlatten(w: Walker, node: Node): void {
  const [x] = node.inputs;
  const flat = node.outputs[0];
  const shape = w.shape(x);
  if (intAttr(node, 'axis', 1) !== 1 || !shape) return w.unknown(node, 'not a Flatten at axis 1');
  const spatial = shape.slice(2);
  if (!spatial.every((d): d is number => typeof d === 'number')) {
    return w.unknown(node, 'its H·W is not known');
  }
  const repeat = spatial.reduce((a, b) => a * b, 1);
  const consumers = w.view.consumers.get(flat) ?? [];
  for (const c of consumers) {
    const reason = flattenedConsumerProblem(w, c, flat);
    if (reason) return w.unknown(node, reason);
  }
  if (w.view.outputNames.includes(flat)) {
    return w.block(x, `Flatten '${label(node)}' output reaches graph output '${flat}'`);
  }
  for (const c of consumers) {
    const transB = c.opType === 'Gemm' ? intAttr(c, 'transB', 0) : 0;
    w.slice(x, { node: c, slot: 1, axis: transB ? 1 : 0, repeat });
  }
  w.flattened.push({ tensor: x, flat, repeat });
  w.handledFlat.add(flat);
}

/** Why a consumer of a flattened feature map can't drop rows, or undefined when it can. */
function flattenedConsumerProblem(w: Walker, c: Node, flat: string): string | undefined {
  const isMatrix = c.opType === 'Gemm' || c.opType === 'MatMul';
  if (!isMatrix || c.inputs[0] !== flat || c.inputs[1] === flat) {
    return `its output is consumed by ${c.opType} '${label(c)}'`;
  }
  if (c.opType === 'Gemm' && intAttr(c, 'transA', 0) !== 0) return `Gemm '${label(c)}' has transA`;
  const b = w.stored(c.inputs[1]);
  if (!b || b.dims.length !== 2) {
    return `the weight of ${c.opType} '${label(c)}' is not a stored float32 matrix`;
  }
  return undefined;
}

function visitMatrix(w: Walker, node: Node): void {
  const [a] = node.inputs;
  if (w.handledFlat.has(a)) return w.fixedOutputs(node);
  const rank = w.shape(a)?.length;
  if (w.isConstant(a) || rank !== 2 || flattenedConsumerProblem(w, node, a)) return w.unknown(node);
  // A rank-2 activation is [N, C]: the weight's rows (columns with transB) are its channels.
  const transB = node.opType === 'Gemm' ? intAttr(node, 'transB', 0) : 0;
  w.slice(a, { node, slot: 1, axis: transB ? 1 : 0 });
  w.fixedOutputs(node);
}

// ---- Forming groups --------------------------------------------------------------------------

interface Draft {
  root: string;
  tensors: string[];
  sources: Node[];
  concat?: { node: Node; inputs: readonly string[] };
  fixed: string[];
  depthwise: Node[];
  slices: ParamSlice[];
  flattened: { tensor: string; repeat: number }[];
  blocked?: string;
  channels?: number;
}

function formGroups(w: Walker): ChannelAnalysis {
  const drafts = new Map<string, Draft>();
  for (const [root, tensors] of w.uf.members()) drafts.set(root, draftOf(w, root, tensors));
  const draftOf2 = (t: string): Draft => drafts.get(w.uf.find(t))!;
  for (const { tensor, slice } of w.slices) draftOf2(tensor).slices.push(slice);
  for (const { tensor, node } of w.depthwise) draftOf2(tensor).depthwise.push(node);
  for (const { tensor, flat, repeat } of w.flattened)
    draftOf2(tensor).flattened.push({ tensor: flat, repeat });
  for (const { tensor, reason } of w.blocks) {
    const d = draftOf2(tensor);
    d.blocked ??= reason;
  }
  for (const d of drafts.values()) checkDraft(w, d);
  propagateConcatBlocks(w, drafts);
  return buildGroups(w, drafts);
}

function draftOf(w: Walker, root: string, tensors: string[]): Draft {
  const d: Draft = {
    root,
    tensors,
    sources: [],
    fixed: [],
    depthwise: [],
    slices: [],
    flattened: [],
  };
  for (const t of tensors) {
    const o = w.origins.get(t);
    if (o?.kind === 'conv') d.sources.push(o.node);
    else if (o?.kind === 'concat') {
      if (d.concat) d.fixed.push(`the output of Concat '${label(o.node)}'`);
      else d.concat = o;
    } else if (o?.kind === 'fixed') d.fixed.push(o.what);
  }
  return d;
}

/** Sets the channel count and the reasons that come from the group's own make-up. */
function checkDraft(w: Walker, d: Draft): void {
  if (d.concat && (d.sources.length > 0 || d.fixed.length > 0)) {
    d.blocked ??= `Concat '${label(d.concat.node)}' output shares channels with ${d.fixed[0] ?? `Conv '${label(d.sources[0])}'`}`;
  } else if (d.sources.length > 0 && d.fixed.length > 0) {
    d.blocked ??= `channels shared with ${d.fixed[0]}`;
  }
  const dims = new Set<Dim | undefined>(d.tensors.map((t) => w.shape(t)?.[1]));
  dims.delete(undefined);
  const [c] = dims;
  if (dims.size !== 1 || typeof c !== 'number') {
    if (d.sources.length > 0 || d.concat) d.blocked ??= `channel count of '${d.root}' is not known`;
    return;
  }
  d.channels = c;
  for (const s of d.slices) {
    const t = w.stored(s.node.inputs[s.slot]);
    if (t && t.dims[s.axis] !== c * s.repeat) {
      d.blocked ??= `'${s.node.inputs[s.slot]}' of ${s.node.opType} '${label(s.node)}' has ${t.dims[s.axis]} entries on axis ${s.axis}, expected ${c * s.repeat}`;
    }
  }
}

/** A Concat output that can't shrink pins every part feeding it. */
function propagateConcatBlocks(w: Walker, drafts: Map<string, Draft>): void {
  for (let changed = true; changed;) {
    changed = false;
    for (const d of drafts.values()) {
      if (!d.concat || d.blocked === undefined) continue;
      for (const input of d.concat.inputs) {
        const part = drafts.get(w.uf.find(input));
        if (part && part.blocked === undefined && (part.sources.length > 0 || part.concat)) {
          part.blocked = `${d.blocked} (after Concat '${label(d.concat.node)}')`;
          changed = true;
        }
      }
    }
  }
}

function buildGroups(w: Walker, drafts: Map<string, Draft>): ChannelAnalysis {
  const groups: ChannelGroup[] = [];
  const groupOf = new Map<string, ChannelGroup>();
  const byRoot = new Map<string, ChannelGroup>();
  const make = (d: Draft): ChannelGroup | undefined => {
    const existing = byRoot.get(d.root);
    if (existing || (d.sources.length === 0 && !d.concat)) return existing;
    const parts: ConcatPart[] = [];
    const group: ChannelGroup = {
      id: groups.length,
      kind: d.concat && d.sources.length === 0 ? 'concat' : 'filters',
      channels: d.channels ?? 0,
      tensors: d.tensors,
      sources: d.sources,
      depthwise: d.depthwise,
      slices: d.slices,
      flattened: d.flattened,
      parts,
      blocked: d.blocked,
    };
    byRoot.set(d.root, group);
    groups.push(group);
    for (const t of d.tensors) groupOf.set(t, group);
    if (group.kind === 'concat') parts.push(...concatParts(w, d, drafts, make));
    return group;
  };
  for (const d of drafts.values()) make(d);
  return { view: w.view, shapes: w.shapes, groups, groupOf };
}

function concatParts(
  w: Walker,
  d: Draft,
  drafts: Map<string, Draft>,
  make: (d: Draft) => ChannelGroup | undefined,
): ConcatPart[] {
  const parts: ConcatPart[] = [];
  let offset = 0;
  for (const input of d.concat!.inputs) {
    const c = w.shape(input)?.[1];
    const channels = typeof c === 'number' ? c : 0;
    const draft = w.isConstant(input) ? undefined : drafts.get(w.uf.find(input));
    parts.push({ group: draft ? make(draft) : undefined, channels, offset });
    offset += channels;
  }
  return parts;
}
