/**
 * Structured pruning (conventions.md "Compression formats"): whole filters with the smallest L1
 * norm are removed, and every tensor that depends on them shrinks with them, so the pruned model
 * is smaller and cheaper rather than merely sparse. channelDependencies.ts says which tensors
 * move together; this module chooses the channels and rewrites the weights through GraphEdit.
 */
import { analyzeLoaded, type AnalysisReport } from '../analyze';
import { mainWeight } from '../cost/weights';
import { nodeDependencies, nodeLabel } from '../graph/graph';
import { intAttr } from '../onnx/attributes';
import { makeAttribute, makeTensor } from '../onnx/build';
import { ExternalData } from '../onnx/externalData';
import { isHalfType, liftHalfWeights, restoreHalfWeights } from './halfWeights';
import { elementCount, forEachFloatChunk } from '../onnx/tensorData';
import { DataType, type Graph, type Model, type Node, type Tensor } from '../onnx/types';
import { analyzeChannels, type ChannelAnalysis, type ChannelGroup } from './channelDependencies';
import { GraphEdit, withGraph, withInput } from './graphEdit';
import { withRemovedFilters } from './removedFilters';
import { CompressionRefusal, type CompressionResult, compressionResult } from './summary';

export interface PruneOptions {
  /** Share of each group's filters to remove, 0..1 (rounded down; at least 1 filter stays). */
  fraction: number;
  /** Conv node names; default every prunable group. A group is pruned when it holds a named conv. */
  layers?: readonly string[];
  /**
   * Importance of each of a group's channels (higher stays), e.g. their measured effect on the
   * consumers' outputs (calibrated/filterPruning.ts); default the L1 norm of the filters.
   */
  channelScores?: (group: ChannelGroup) => Float64Array | undefined;
  /** Replaces the operation's name in the summary (e.g. "with reconstruction"). */
  operation?: string;
}

export interface PrunePlan {
  readonly analysis: ChannelAnalysis;
  /** Kept channel indices (ascending) of every group that shrinks, concat groups included. */
  readonly keep: ReadonlyMap<ChannelGroup, readonly number[]>;
  readonly notes: readonly string[];
}

export function pruneFilters(
  model: Model,
  options: PruneOptions,
  external?: ExternalData,
): CompressionResult {
  const ext = external ?? new ExternalData(undefined);
  // float16/bfloat16 weights behind Cast are pruned as float32, then stored back (halfWeights.ts).
  const lift = liftHalfWeights(model, ext);
  const plan = halfRefusal(lift.model, () => planPruning(lift.model, options, ext));
  const { graph, touched } = applyPlan(lift.model.graph, plan, ext);
  const pruned = restoreHalfWeights(withGraph(lift.model, graph), lift.lifted);
  return compressionResult(
    options.operation ?? `structured filter pruning ${Math.round(options.fraction * 100)}%`,
    model,
    pruned,
    ext,
    touched,
    [...plan.notes],
  );
}

/** A float16 model's Convs read float16 weights directly: say so rather than "no filters". */
function halfRefusal<T>(model: Model, plan: () => T): T {
  try {
    return plan();
  } catch (e) {
    const half = model.graph.nodes.some(
      (n) =>
        n.opType === 'Conv' &&
        isHalfType(model.graph.initializers.find((t) => t.name === n.inputs[1])?.dataType ?? 0),
    );
    if (e instanceof CompressionRefusal && half && /no Conv filters/.test(e.message)) {
      throw new CompressionRefusal(
        'structured pruning edits float32 weights (or float16/bfloat16 behind a Cast); these Convs compute in float16',
      );
    }
    throw e;
  }
}

/**
 * The MACs the pruned model will have, predicted from the plan alone: each Conv's MACs scale with
 * its kept output and input channels, a depthwise conv's with its kept channels, a Gemm/MatMul's
 * with its kept K. pruneFilters' analysed figure must equal this.
 */
export function predictStructuredMacs(
  model: Model,
  options: PruneOptions,
  external?: ExternalData,
): { macsBefore: number; macsAfter: number } {
  const ext = external ?? new ExternalData(undefined);
  const plan = planPruning(model, options, ext);
  const report = analyze(model, ext);
  const ratio = keptRatio(plan);
  let macsAfter = 0;
  plan.analysis.view.order.forEach((node, i) => {
    macsAfter += Math.round(report.nodes[i].macs * macsFactor(node, ratio));
  });
  return { macsBefore: report.totals.macs, macsAfter };
}

function analyze(model: Model, external: ExternalData): AnalysisReport {
  return analyzeLoaded({ model, external, fileBytes: 0 }, { skipBitHints: true });
}

/** Kept share of a tensor's channels (1 when it does not shrink); flattened tensors included. */
function keptRatio(plan: PrunePlan): (tensor: string) => number {
  const ratios = new Map<string, number>();
  for (const [group, keep] of plan.keep) {
    const r = keep.length / group.channels;
    for (const t of group.tensors) ratios.set(t, r);
    for (const f of group.flattened) ratios.set(f.tensor, r);
  }
  return (t) => ratios.get(t) ?? 1;
}

function macsFactor(node: Node, ratio: (t: string) => number): number {
  if (node.opType === 'Conv') {
    const out = ratio(node.outputs[0]);
    // A depthwise conv's input and output are the same channels: count the ratio once.
    return intAttr(node, 'group', 1) === 1 ? out * ratio(node.inputs[0]) : out;
  }
  if (node.opType === 'Gemm' || node.opType === 'MatMul') return ratio(node.inputs[0]);
  return 1;
}

// ---- Planning --------------------------------------------------------------------------------

export function planPruning(
  model: Model,
  options: PruneOptions,
  external?: ExternalData,
): PrunePlan {
  const { fraction } = options;
  if (!Number.isFinite(fraction) || fraction < 0 || fraction > 1) {
    throw new CompressionRefusal(`fraction ${fraction} is out of range (0 to 1)`);
  }
  const analysis = analyzeChannels(model, external);
  const notes: string[] = [];
  const selected = options.layers
    ? groupsOfLayers(analysis, options.layers)
    : prunableGroups(analysis, notes);
  const keep = new Map<ChannelGroup, readonly number[]>();
  for (const group of selected) {
    const k = chooseKept(
      group,
      fraction,
      options.channelScores?.(group) ?? l1Scores(group, analysis, external),
    );
    if (k.length < group.channels) {
      keep.set(group, k);
      notes.push(`${groupName(group)}: ${group.channels} → ${k.length} channels`);
    }
  }
  if (keep.size === 0) {
    throw new CompressionRefusal(
      selected.length === 0
        ? (analysis.groups.find((g) => g.kind === 'filters' && g.blocked)?.blocked ??
            'the model has no Conv filters to prune')
        : `a fraction of ${fraction} removes no filter (groups have at most ${Math.max(...selected.map((g) => g.channels))} channels)`,
    );
  }
  addConcatKeeps(analysis, keep);
  return { analysis, keep, notes };
}

function groupName(group: ChannelGroup): string {
  const [first, ...rest] = group.sources.map((n) => nodeLabel(n));
  return rest.length ? `${first} (+${rest.length} joined)` : first;
}

function prunableGroups(analysis: ChannelAnalysis, notes: string[]): ChannelGroup[] {
  const out: ChannelGroup[] = [];
  for (const g of analysis.groups) {
    if (g.kind !== 'filters') continue;
    if (g.blocked) notes.push(`skipped ${groupName(g)}: ${g.blocked}`);
    else if (g.channels > 1) out.push(g);
  }
  return out;
}

/** The groups holding the named convs; a name that can't be pruned refuses with its reason. */
function groupsOfLayers(analysis: ChannelAnalysis, layers: readonly string[]): ChannelGroup[] {
  const out = new Set<ChannelGroup>();
  for (const name of layers) {
    const node = analysis.view.order.find((n) => n.name === name);
    if (!node) throw new CompressionRefusal(`no layer named '${name}'`);
    if (node.opType !== 'Conv') {
      throw new CompressionRefusal(`'${name}' is a ${node.opType}; only Conv filters are pruned`);
    }
    const group = analysis.groupOf.get(node.outputs[0]);
    if (group?.blocked) throw new CompressionRefusal(group.blocked);
    if (!group || !group.sources.includes(node)) {
      throw new CompressionRefusal(
        intAttr(node, 'group', 1) === 1
          ? `'${name}': its weights are not a stored float32 tensor`
          : `'${name}' is a grouped Conv: its filters follow the channels that feed it`,
      );
    }
    out.add(group);
  }
  return [...out];
}

/** Kept channels: all but the `fraction` with the smallest scores. */
function chooseKept(group: ChannelGroup, fraction: number, scores: Float64Array): number[] {
  const c = group.channels;
  const remove = Math.min(c - 1, Math.floor(fraction * c + 1e-9));
  // Ties go to the lower index, so equal filters are removed in order.
  const order = Array.from({ length: c }, (_, i) => i).sort(
    (a, b) => scores[a] - scores[b] || a - b,
  );
  const removed = new Set(order.slice(0, remove));
  return Array.from({ length: c }, (_, i) => i).filter((i) => !removed.has(i));
}

/** Each channel's L1 norm summed over the group's convs' filters. */
function l1Scores(
  group: ChannelGroup,
  analysis: ChannelAnalysis,
  external: ExternalData | undefined,
): Float64Array {
  const c = group.channels;
  const scores = new Float64Array(c);
  for (const s of group.slices) {
    if (!s.score) continue;
    const t = storedTensor(analysis, s.node.inputs[s.slot]);
    const perFilter = elementCount(t.dims) / c;
    forEachFloatChunk(t, external, (chunk, start) => {
      for (let i = 0; i < chunk.length; i++)
        scores[Math.floor((start + i) / perFilter)] += Math.abs(chunk[i]);
    });
  }
  return scores;
}

/** Concat outputs keep each part's kept channels, shifted by the part's offset. */
function addConcatKeeps(
  analysis: ChannelAnalysis,
  keep: Map<ChannelGroup, readonly number[]>,
): void {
  const memo = new Map<ChannelGroup, readonly number[] | undefined>();
  const keptOf = (g: ChannelGroup): readonly number[] | undefined => {
    if (g.kind === 'filters') return keep.get(g);
    if (memo.has(g)) return memo.get(g);
    memo.set(g, undefined);
    let changed = false;
    const all: number[] = [];
    for (const part of g.parts) {
      const k = part.group ? keptOf(part.group) : undefined;
      if (k) changed = true;
      const local = k ?? Array.from({ length: part.channels }, (_, i) => i);
      for (const i of local) all.push(part.offset + i);
    }
    memo.set(g, changed ? all : undefined);
    return memo.get(g);
  };
  for (const g of analysis.groups) {
    const k = g.kind === 'concat' && !g.blocked ? keptOf(g) : undefined;
    if (k) keep.set(g, k);
  }
}

function storedTensor(analysis: ChannelAnalysis, name: string): Tensor {
  let current = name;
  for (;;) {
    const t = analysis.view.initializers.get(current);
    if (t) return t;
    // channelDependencies only records slices whose tensor is an initializer behind Identity.
    current = analysis.view.producer.get(current)!.inputs[0];
  }
}

// ---- Applying --------------------------------------------------------------------------------

interface AxisSlice {
  readonly axis: number;
  readonly indices: readonly number[];
}

function applyPlan(
  graph: Graph,
  plan: PrunePlan,
  external: ExternalData,
): { graph: Graph; touched: string[] } {
  const { slots, groupAttr, dims } = collectEdits(plan);
  const edit = new GraphEdit(graph);
  const made = new Map<string, string>();
  const touchedStored = new Set<string>();
  const nodes = new Set<Node>([...slots.keys(), ...groupAttr.keys()]);
  for (const node of nodes) {
    let next = node;
    for (const [slot, cuts] of slots.get(node) ?? []) {
      const source = storedTensor(plan.analysis, node.inputs[slot]);
      checkNotInput(graph, source.name);
      touchedStored.add(source.name);
      const name = writeSliced(edit, plan, source, node.inputs[slot], cuts, made, external);
      if (name !== node.inputs[slot]) next = withInput(next, slot, name);
      next = recordRemovedFilters(next, slot, source, cuts);
    }
    const g = groupAttr.get(node);
    if (g !== undefined) next = withAttribute(next, 'group', g);
    if (next !== node) edit.replaceNode(node, next);
  }
  collectGarbage(edit, graph, touchedStored);
  const built = edit.build();
  return {
    graph: withValueInfo(built, dims),
    touched: [...nodes].map((n) => nodeLabel(n)),
  };
}

/**
 * When the cut is along the node's output channels (its main weight's channel axis: a Conv's
 * filters, a depthwise Conv's channels), the node records which ones went (removedFilters.ts),
 * so the retraining plan lists them from the model alone.
 */
function recordRemovedFilters(
  node: Node,
  slot: number,
  weight: Tensor,
  cuts: readonly AxisSlice[],
): Node {
  const main = mainWeight(node, () => weight.dims.length);
  const cut = main?.input === slot ? cuts.find((c) => c.axis === main.channelAxis) : undefined;
  if (!main || !cut) return node;
  return withRemovedFilters(node, cut.axis, Number(weight.dims[cut.axis]), cut.indices);
}

/** A weight listed as a graph input (IR < 4 style) can be fed by the user: its shape is interface. */
function checkNotInput(graph: Graph, name: string): void {
  if (graph.inputs.some((i) => i.name === name)) {
    throw new CompressionRefusal(
      `weight '${name}' is also a graph input, so its shape is part of the model's interface`,
    );
  }
}

/** Per node and input slot, the axis slices to apply; new `group` values; new axis-1 sizes. */
function collectEdits(plan: PrunePlan): {
  slots: Map<Node, Map<number, AxisSlice[]>>;
  groupAttr: Map<Node, number>;
  dims: Map<string, number>;
} {
  const slots = new Map<Node, Map<number, AxisSlice[]>>();
  const groupAttr = new Map<Node, number>();
  const dims = new Map<string, number>();
  for (const [group, keep] of plan.keep) {
    for (const s of group.slices) {
      const bySlot = slots.get(s.node) ?? new Map<number, AxisSlice[]>();
      slots.set(s.node, bySlot);
      const cuts = bySlot.get(s.slot) ?? [];
      bySlot.set(s.slot, cuts);
      cuts.push({ axis: s.axis, indices: expand(keep, s.repeat) });
    }
    for (const n of group.depthwise) groupAttr.set(n, keep.length);
    for (const t of group.tensors) dims.set(t, keep.length);
    for (const f of group.flattened) dims.set(f.tensor, keep.length * f.repeat);
  }
  return { slots, groupAttr, dims };
}

export function expand(keep: readonly number[], repeat: number): number[] {
  if (repeat === 1) return [...keep];
  const out: number[] = [];
  for (const k of keep) for (let r = 0; r < repeat; r++) out.push(k * repeat + r);
  return out;
}

/**
 * Writes the sliced tensor and returns the name the node should read. A tensor read by this slot
 * alone is replaced under its own name; a shared one (several readers, or Identity copies) gets
 * a new tensor, since other readers may keep different channels. Identical results are shared.
 */
function writeSliced(
  edit: GraphEdit,
  plan: PrunePlan,
  source: Tensor,
  readAs: string,
  cuts: readonly AxisSlice[],
  made: Map<string, string>,
  external: ExternalData,
): string {
  const key = `${source.name}|${cuts.map((c) => `${c.axis}:${c.indices.join(',')}`).join('|')}`;
  const existing = made.get(key);
  if (existing) return existing;
  const { data, dims } = sliceTensor(source, cuts, external);
  const inPlace = readAs === source.name && readerCount(plan, source.name) === 1;
  const name = inPlace ? source.name : edit.uniqueName(`${source.name}_pruned`);
  const fresh = makeTensor(name, DataType.FLOAT, dims, new Uint8Array(data.buffer));
  edit.setInitializer({ ...fresh, extra: source.extra, docString: source.docString });
  made.set(key, name);
  return name;
}

/** How many node slots read a stored tensor, directly or through Identity (graph outputs too). */
function readerCount(plan: PrunePlan, name: string): number {
  const { view } = plan.analysis;
  let count = view.outputNames.includes(name) ? 1 : 0;
  for (const c of view.consumers.get(name) ?? []) {
    if (c.opType === 'Identity') count += readerCount(plan, c.outputs[0]);
    else count += Math.max(1, c.inputs.filter((i) => i === name).length);
  }
  return count;
}

function sliceTensor(
  t: Tensor,
  cuts: readonly AxisSlice[],
  external: ExternalData,
): { data: Float32Array; dims: number[] } {
  let data = new Float32Array(elementCount(t.dims));
  forEachFloatChunk(t, external, (chunk, start) => data.set(chunk, start));
  let dims = [...t.dims];
  for (const cut of cuts) {
    const outer = dims.slice(0, cut.axis).reduce((a, b) => a * b, 1);
    const inner = dims.slice(cut.axis + 1).reduce((a, b) => a * b, 1);
    const next = new Float32Array(outer * cut.indices.length * inner);
    for (let o = 0; o < outer; o++) {
      cut.indices.forEach((idx, k) => {
        const from = (o * dims[cut.axis] + idx) * inner;
        next.set(data.subarray(from, from + inner), (o * cut.indices.length + k) * inner);
      });
    }
    data = next;
    dims = dims.map((d, i) => (i === cut.axis ? cut.indices.length : d));
  }
  return { data, dims };
}

function withAttribute(node: Node, name: string, value: number): Node {
  const { raw: _raw, ...rest } = node;
  const attributes = node.attributes.map((a) => (a.name === name ? makeAttribute(name, value) : a));
  return { ...rest, attributes };
}

/**
 * Drops the stored tensors that no node reads any more (their readers now read pruned copies),
 * with the Identity nodes that only forwarded them. Nothing else is removed, so dead parts of the
 * original model stay as they were.
 */
function collectGarbage(edit: GraphEdit, graph: Graph, stored: ReadonlySet<string>): void {
  const removed = new Set<Node>();
  const forwarded = new Set(stored);
  for (let changed = true; changed;) {
    changed = false;
    const read = namesRead(edit, graph, removed);
    for (const node of graph.nodes) {
      if (removed.has(node) || node.opType !== 'Identity' || !forwarded.has(node.inputs[0]))
        continue;
      if (read.has(node.outputs[0])) continue;
      removed.add(node);
      forwarded.add(node.outputs[0]);
      edit.replaceNode(node, []);
      changed = true;
    }
  }
  const read = namesRead(edit, graph, removed);
  for (const name of stored) if (!read.has(name)) edit.removeInitializer(name);
}

function namesRead(edit: GraphEdit, graph: Graph, removed: ReadonlySet<Node>): Set<string> {
  const read = new Set(graph.outputs.map((o) => o.name));
  for (const node of graph.nodes) {
    if (removed.has(node)) continue;
    for (const n of edit.current(node)) for (const d of nodeDependencies(n)) read.add(d);
  }
  return read;
}

/** value_info entries of shrunk tensors get their new channel count (ORT checks them). */
function withValueInfo(graph: Graph, dims: ReadonlyMap<string, number>): Graph {
  if (!graph.valueInfo.some((v) => dims.has(v.name))) return graph;
  const valueInfo = graph.valueInfo.map((v) => {
    const c = dims.get(v.name);
    const shape = v.type?.shape;
    if (c === undefined || !v.type || !shape || shape.length < 2) return v;
    const { raw: _raw, ...rest } = v;
    const { raw: _typeRaw, ...type } = v.type;
    return { ...rest, type: { ...type, shape: shape.map((d, i) => (i === 1 ? c : d)) } };
  });
  const { raw: _raw, ...rest } = graph;
  return { ...rest, valueInfo };
}
