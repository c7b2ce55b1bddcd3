/**
 * A graph ready for analysis: nodes in execution (topological) order, with who produces and who
 * consumes each tensor. Structural faults that make analysis meaningless (a cycle, an input that
 * nothing provides, a tensor produced twice) are GraphErrors, with the node named.
 */
import { denseFromSparse } from '../onnx/sparse';
import type { Graph, Node, Tensor } from '../onnx/types';

export class GraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GraphError';
  }
}

export interface GraphView {
  readonly graph: Graph;
  /** Nodes in execution order: file order whenever that is already topological (exporters do). */
  readonly order: readonly Node[];
  readonly initializers: ReadonlyMap<string, Tensor>;
  /** Graph inputs that are not initializers: what the user feeds. */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly producer: ReadonlyMap<string, Node>;
  readonly consumers: ReadonlyMap<string, readonly Node[]>;
  /**
   * Every name a node of this graph may read: the enclosing scopes' names, then this graph's
   * inputs, initializers and node outputs. A sub-graph's view is built with its parent's, so
   * scopes nest to any depth, whether or not a name's type could be inferred.
   */
  readonly scopeNames: ReadonlySet<string>;
}

/** A display name for a node that has none: op type and position. */
export function nodeLabel(node: Node, index?: number): string {
  if (node.name) return node.name;
  return index === undefined ? node.opType : `${node.opType}_${index}`;
}

/**
 * Names a node reads: its inputs plus, for If/Loop/Scan, the outer-scope names its sub-graphs
 * use (they are dependencies too, so ordering must respect them).
 */
export function nodeDependencies(node: Node): string[] {
  const deps = node.inputs.filter((n) => n !== '');
  for (const a of node.attributes) {
    for (const g of a.g ? [a.g, ...a.graphs] : a.graphs) deps.push(...freeNames(g));
  }
  return deps;
}

/** Names a sub-graph reads from its enclosing scopes. */
export function freeNames(graph: Graph): string[] {
  const defined = new Set<string>();
  for (const i of graph.inputs) defined.add(i.name);
  for (const t of graph.initializers) defined.add(t.name);
  for (const n of graph.nodes) for (const o of n.outputs) defined.add(o);
  const free = new Set<string>();
  for (const n of graph.nodes) {
    for (const d of nodeDependencies(n)) if (!defined.has(d)) free.add(d);
  }
  return [...free];
}

/**
 * Builds the view and checks it. `outerNames` are the names visible from enclosing graphs,
 * for sub-graphs.
 */
export function buildGraphView(
  graph: Graph,
  outerNames: ReadonlySet<string> = new Set(),
): GraphView {
  const initializers = new Map<string, Tensor>();
  for (const t of graph.initializers) initializers.set(t.name, t);
  // A sparse initializer is seen dense, as ONNX Runtime loads it (sparse.ts).
  for (const s of graph.sparseInitializers) {
    const dense = denseFromSparse(s);
    if (dense) initializers.set(dense.name, dense);
  }
  const available = new Set<string>(outerNames);
  for (const i of graph.inputs) available.add(i.name);
  for (const name of initializers.keys()) available.add(name);

  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  graph.nodes.forEach((node, index) => {
    for (const out of node.outputs) {
      if (out === '') continue;
      if (producer.has(out) || initializers.has(out)) {
        throw new GraphError(
          `tensor '${out}' is produced twice (by node '${nodeLabel(node, index)}' and earlier)`,
        );
      }
      producer.set(out, node);
    }
  });
  graph.nodes.forEach((node, index) => {
    for (const dep of nodeDependencies(node)) {
      if (!available.has(dep) && !producer.has(dep)) {
        throw new GraphError(
          `node '${nodeLabel(node, index)}' (${node.opType}) reads '${dep}', which no node, graph input or initializer provides`,
        );
      }
      let list = consumers.get(dep);
      if (!list) consumers.set(dep, (list = []));
      if (list[list.length - 1] !== node) list.push(node);
    }
  });

  const order = topologicalOrder(graph.nodes, producer);
  const initializerNames = new Set(initializers.keys());
  for (const name of producer.keys()) available.add(name);
  return {
    graph,
    order,
    initializers,
    inputNames: graph.inputs.map((i) => i.name).filter((n) => !initializerNames.has(n)),
    outputNames: graph.outputs.map((o) => o.name),
    producer,
    consumers,
    scopeNames: available,
  };
}

/**
 * Kahn's algorithm, always taking the earliest ready node in file order, so that a sorted file
 * keeps its order. Leftover nodes mean a cycle; the error names one node on it.
 */
function topologicalOrder(nodes: readonly Node[], producer: ReadonlyMap<string, Node>): Node[] {
  const indexOf = new Map<Node, number>();
  nodes.forEach((n, i) => indexOf.set(n, i));
  const waiting = new Array<number>(nodes.length).fill(0);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((node, i) => {
    const seen = new Set<Node>();
    for (const dep of nodeDependencies(node)) {
      const p = producer.get(dep);
      if (!p || seen.has(p)) continue;
      seen.add(p);
      waiting[i]++;
      dependents[indexOf.get(p)!].push(i);
    }
  });
  // Fast path: the file order is already topological (true for every exporter we know).
  let sorted = true;
  const done = new Uint8Array(nodes.length);
  for (let i = 0; i < nodes.length && sorted; i++) {
    for (const dep of nodeDependencies(nodes[i])) {
      const p = producer.get(dep);
      if (p && !done[indexOf.get(p)!]) {
        sorted = false;
        break;
      }
    }
    done[i] = 1;
  }
  if (sorted) return [...nodes];

  const ready = new MinHeap();
  waiting.forEach((w, i) => w === 0 && ready.push(i));
  const order: Node[] = [];
  while (ready.size > 0) {
    const i = ready.pop();
    order.push(nodes[i]);
    for (const d of dependents[i]) if (--waiting[d] === 0) ready.push(d);
  }
  if (order.length < nodes.length) {
    const stuck = waiting.findIndex((w) => w > 0);
    throw new GraphError(
      `the graph has a cycle through node '${nodeLabel(nodes[stuck], stuck)}' (${nodes[stuck].opType})`,
    );
  }
  return order;
}

/** Binary min-heap of node indices. */
class MinHeap {
  private items: number[] = [];
  get size(): number {
    return this.items.length;
  }
  push(v: number): void {
    const a = this.items;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent] <= a[i]) break;
      [a[parent], a[i]] = [a[i], a[parent]];
      i = parent;
    }
  }
  pop(): number {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l] < a[m]) m = l;
        if (r < a.length && a[r] < a[m]) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}
