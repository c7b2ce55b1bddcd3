/**
 * What the graph view draws: the nodes of a model with the clutter folded away. Three kinds of
 * node are collapsed by default, because they carry no cost a user acts on and hide the layers:
 *
 *   - constants: nodes that only compute weights (Constant, a DequantizeLinear of an initializer,
 *     a Transpose of a weight …). They fold into the node that reads them, like initializers.
 *   - shape sub-graphs: Shape/Size and everything computed from their outputs and constants
 *     alone (Shape → Gather → Unsqueeze → Concat → the shape input of a Reshape). Each connected
 *     sub-graph is drawn as one group node.
 *   - Identity chains: an Identity (or a chain of them) is skipped; its edge runs straight from
 *     the producer to the consumer.
 *
 * A node that produces a graph output is never collapsed. Groups the user expanded show their
 * members again. Initializers are never nodes; each visible node lists the weights it reads.
 *
 * Pure: the input is the analysis report's node list (execution order), so the server, the
 * tests and the benchmarks all see the same view.
 */

export interface ViewNodeInput {
  readonly name: string;
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

export interface ViewInput {
  /** Nodes in execution order. */
  readonly nodes: readonly ViewNodeInput[];
  readonly graphInputs: readonly string[];
  readonly graphOutputs: readonly string[];
}

export type CollapseKind = 'constants' | 'shapeSubgraph' | 'identityChain';

export interface CollapsedGroup {
  readonly id: string;
  readonly kind: CollapseKind;
  /** Node indices (execution order). */
  readonly members: readonly number[];
}

/** A drawn item: one node, or a collapsed shape sub-graph. */
export interface ViewItem {
  readonly id: string;
  /** Node index, or undefined for a group. */
  readonly node?: number;
  readonly group?: CollapsedGroup;
  /** Weights (initializers and outputs of collapsed constant nodes) read by this item. */
  readonly weights: readonly string[];
  /** Collapsed constant groups and Identity chains folded into this item (expandable). */
  readonly folded: readonly CollapsedGroup[];
}

export interface ViewEdge {
  readonly from: string;
  readonly to: string;
  /** The tensor the consumer reads (after any skipped Identity). */
  readonly tensor: string;
}

export interface GraphViewModel {
  readonly items: readonly ViewItem[];
  readonly edges: readonly ViewEdge[];
  readonly groups: readonly CollapsedGroup[];
  /** Item id of each node index: its own id, or the id of the item that stands for it. */
  readonly itemOfNode: readonly string[];
  /** Number of model nodes not drawn as themselves. */
  readonly collapsedCount: number;
}

const SHAPE_SOURCES = new Set(['Shape', 'Size']);
/**
 * Ops whose sub-graphs may read run-time tensors of the enclosing graph that their `inputs` don't
 * list: never collapsed as constants (a Loop fed a constant trip count can still run on data).
 */
const SCOPE_READERS = new Set(['If', 'Loop', 'Scan']);

/** Stable, unique ids: the node name, with `#index` when two nodes share one. */
export function nodeIds(nodes: readonly ViewNodeInput[]): string[] {
  const seen = new Set<string>();
  return nodes.map((n, i) => {
    const id = seen.has(n.name) ? `${n.name}#${i}` : n.name;
    seen.add(id);
    return id;
  });
}

/** Groups of collapsible nodes, before the user expands any. */
export function collapsibleGroups(input: ViewInput): CollapsedGroup[] {
  const { nodes } = input;
  const producerOf = producers(nodes);
  const graphInputs = new Set(input.graphInputs);
  const graphOutputs = new Set(input.graphOutputs);
  const isWeight = (t: string): boolean => !producerOf.has(t) && !graphInputs.has(t);
  const producesOutput = (n: ViewNodeInput): boolean => n.outputs.some((o) => graphOutputs.has(o));

  // Constant-valued nodes, in one pass since execution order puts producers first.
  const constant = new Array<boolean>(nodes.length).fill(false);
  const shapeDerived = new Array<boolean>(nodes.length).fill(false);
  nodes.forEach((n, i) => {
    if (producesOutput(n) || SCOPE_READERS.has(n.op)) return;
    const inputs = n.inputs.filter(Boolean);
    if (SHAPE_SOURCES.has(n.op)) {
      constant[i] = shapeDerived[i] = true;
      return;
    }
    const fromConstants = inputs.every((t) => {
      const p = producerOf.get(t);
      return p === undefined ? isWeight(t) : constant[p];
    });
    if (n.op === 'Constant' || (inputs.length > 0 && fromConstants)) {
      constant[i] = true;
      shapeDerived[i] = inputs.some((t) => {
        const p = producerOf.get(t);
        return p !== undefined && shapeDerived[p];
      });
    }
  });

  const groups: CollapsedGroup[] = [];
  const ids = nodeIds(nodes);
  // Connected components of constant nodes (linked by the tensors between them).
  const component = unionFind(nodes.length);
  nodes.forEach((n, i) => {
    if (!constant[i]) return;
    for (const t of n.inputs) {
      const p = producerOf.get(t);
      if (p !== undefined && constant[p]) component.union(p, i);
    }
  });
  const members = new Map<number, number[]>();
  nodes.forEach((_, i) => {
    if (!constant[i]) return;
    const root = component.find(i);
    let list = members.get(root);
    if (!list) members.set(root, (list = []));
    list.push(i);
  });
  for (const list of members.values()) {
    const kind: CollapseKind = list.some((i) => shapeDerived[i]) ? 'shapeSubgraph' : 'constants';
    groups.push({ id: `${kind}:${ids[list[0]]}`, kind, members: list });
  }

  // Identity chains: consecutive Identity nodes, each group starting at the first of a chain.
  const readers = consumers(nodes);
  const soleIdentityConsumer = (i: number): number | undefined => {
    const list = readers.get(nodes[i].outputs[0] ?? '') ?? [];
    return list.length === 1 && nodes[list[0]].op === 'Identity' ? list[0] : undefined;
  };
  const inChain = new Array<boolean>(nodes.length).fill(false);
  nodes.forEach((n, i) => {
    if (n.op !== 'Identity' || constant[i] || producesOutput(n) || inChain[i]) return;
    const chain = [i];
    inChain[i] = true;
    for (let next = soleIdentityConsumer(i); next !== undefined;) {
      if (constant[next] || producesOutput(nodes[next]) || inChain[next]) break;
      chain.push(next);
      inChain[next] = true;
      next = soleIdentityConsumer(next);
    }
    groups.push({ id: `identityChain:${ids[i]}`, kind: 'identityChain', members: chain });
  });
  return groups.sort((a, b) => a.members[0] - b.members[0]);
}

/**
 * The drawn view: collapsible groups not in `expanded` are folded as the header says; the edges
 * are rerouted around what is folded.
 */
export function buildViewModel(
  input: ViewInput,
  expanded: ReadonlySet<string> = new Set(),
): GraphViewModel {
  const { nodes } = input;
  const ids = nodeIds(nodes);
  const producerOf = producers(nodes);
  const groups = collapsibleGroups(input);
  const collapsedGroupOf = new Map<number, CollapsedGroup>();
  for (const g of groups) {
    if (expanded.has(g.id)) continue;
    for (const m of g.members) collapsedGroupOf.set(m, g);
  }

  const itemOfNode = ids.slice();
  for (const [m, g] of collapsedGroupOf) if (g.kind === 'shapeSubgraph') itemOfNode[m] = g.id;

  /** Where a tensor comes from, seen from the drawn graph. */
  type Source =
    | { kind: 'item'; id: string; tensor: string }
    | { kind: 'weight'; tensor: string }
    | { kind: 'outside' };
  const graphInputs = new Set(input.graphInputs);
  const sourceOf = (tensor: string): Source => {
    let t = tensor;
    for (;;) {
      const p = producerOf.get(t);
      if (p === undefined) {
        return graphInputs.has(t) ? { kind: 'outside' } : { kind: 'weight', tensor: t };
      }
      const g = collapsedGroupOf.get(p);
      if (!g || g.kind === 'shapeSubgraph') return { kind: 'item', id: itemOfNode[p], tensor: t };
      if (g.kind === 'constants') return { kind: 'weight', tensor: t };
      // A collapsed Identity: look through it to what it copies.
      t = nodes[p].inputs[0] ?? '';
      if (!t) return { kind: 'outside' };
    }
  };

  const items = new Map<string, { id: string; node?: number; group?: CollapsedGroup }>();
  const weights = new Map<string, Set<string>>();
  const folded = new Map<string, Set<CollapsedGroup>>();
  const edges = new Map<string, ViewEdge>();
  const add = <T>(map: Map<string, Set<T>>, key: string, value: T): void => {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(value);
  };

  nodes.forEach((n, i) => {
    const g = collapsedGroupOf.get(i);
    if (g && g.kind !== 'shapeSubgraph') return;
    const id = itemOfNode[i];
    if (!items.has(id)) items.set(id, g ? { id, group: g } : { id, node: i });
    for (const tensor of n.inputs) {
      if (!tensor) continue;
      const p = producerOf.get(tensor);
      // Inside a collapsed sub-graph, its own tensors are not edges.
      if (g && p !== undefined && collapsedGroupOf.get(p) === g) continue;
      const source = sourceOf(tensor);
      // Folded groups met on the way (Identity chains, constants) become expandable from here.
      noteFolded(tensor, id);
      if (source.kind === 'weight') add(weights, id, source.tensor);
      else if (source.kind === 'item' && source.id !== id) {
        const key = `${source.id}\u0000${id}\u0000${tensor}`;
        edges.set(key, { from: source.id, to: id, tensor });
      }
    }
  });

  function noteFolded(tensor: string, itemId: string): void {
    let t = tensor;
    for (;;) {
      const p = producerOf.get(t);
      const g = p === undefined ? undefined : collapsedGroupOf.get(p);
      if (!g || g.kind === 'shapeSubgraph') return;
      add(folded, itemId, g);
      if (g.kind === 'constants') return;
      t = nodes[p!].inputs[0] ?? '';
    }
  }

  const drawn = [...items.values()].map((item): ViewItem => ({
    ...item,
    weights: [...(weights.get(item.id) ?? [])],
    folded: [...(folded.get(item.id) ?? [])],
  }));
  const drawnNodes = drawn.filter((d) => d.node !== undefined).length;
  return {
    items: drawn,
    edges: [...edges.values()],
    groups,
    itemOfNode,
    collapsedCount: nodes.length - drawnNodes,
  };
}

function producers(nodes: readonly ViewNodeInput[]): Map<string, number> {
  const map = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.outputs) if (o) map.set(o, i);
  });
  return map;
}

/** Tensor → indices of the nodes that read it (each once). */
function consumers(nodes: readonly ViewNodeInput[]): Map<string, number[]> {
  const map = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    for (const t of n.inputs) {
      if (!t) continue;
      let list = map.get(t);
      if (!list) map.set(t, (list = []));
      if (list[list.length - 1] !== i) list.push(i);
    }
  });
  return map;
}

function unionFind(size: number) {
  const parent = Array.from({ length: size }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  return {
    find,
    union(a: number, b: number): void {
      const ra = find(a);
      const rb = find(b);
      // The earlier node is the root, so a group is named after its first member.
      if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
    },
  };
}
