/**
 * Editing a model without losing anything: every compression operation describes its changes
 * here (replace a tensor, add nodes before a consumer, rewire an input, raise the opset) and
 * gets back a new Model. Messages it does not touch keep their original bytes (`raw`), and the
 * graph and model it rebuilds keep their unknown fields (`extra`), so a save stays lossless
 * everywhere the edit did not reach.
 */
import type { Graph, Model, Node, Tensor, ValueInfo } from '../onnx/types';

export class GraphEdit {
  private readonly initializers: Map<string, Tensor>;
  private readonly removedInitializers = new Set<string>();
  private readonly replacedNodes = new Map<Node, readonly Node[]>();
  private readonly inserted = new Map<Node, Node[]>();
  private readonly addedOutputs: ValueInfo[] = [];
  private readonly names: Set<string>;

  constructor(readonly graph: Graph) {
    this.initializers = new Map(graph.initializers.map((t) => [t.name, t]));
    this.names = new Set<string>([
      ...graph.initializers.map((t) => t.name),
      ...graph.inputs.map((i) => i.name),
      ...graph.nodes.flatMap((n) => [n.name, ...n.outputs]),
    ]);
  }

  /** A name not yet used in the graph, derived from `base` (`w_quantized`, `w_quantized_1`, …). */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  initializer(name: string): Tensor | undefined {
    return this.removedInitializers.has(name) ? undefined : this.initializers.get(name);
  }

  /** Adds or replaces an initializer (a replacement keeps the original's position). */
  setInitializer(tensor: Tensor): void {
    this.initializers.set(tensor.name, tensor);
    this.removedInitializers.delete(tensor.name);
    this.names.add(tensor.name);
  }

  removeInitializer(name: string): void {
    this.removedInitializers.add(name);
  }

  /** Replaces a node by zero or more nodes, in place in the node order. */
  replaceNode(node: Node, replacement: Node | readonly Node[]): void {
    this.replacedNodes.set(node, Array.isArray(replacement) ? replacement : [replacement as Node]);
  }

  /** Inserts nodes just before `consumer` (so they run before it, keeping the order topological). */
  insertBefore(consumer: Node, nodes: readonly Node[]): void {
    const list = this.inserted.get(consumer) ?? [];
    list.push(...nodes);
    this.inserted.set(consumer, list);
    for (const n of nodes) for (const o of n.outputs) this.names.add(o);
  }

  /**
   * Declares an existing tensor a graph output too (after the original outputs), e.g. so that
   * calibration can read an intermediate activation out of ONNX Runtime.
   */
  addOutput(info: ValueInfo): void {
    this.addedOutputs.push(info);
  }

  /** The current version of a node (after replaceNode), for further edits. */
  current(node: Node): readonly Node[] {
    return this.replacedNodes.get(node) ?? [node];
  }

  /** The edited graph; unchanged when nothing was edited. */
  build(): Graph {
    const initializersChanged =
      this.removedInitializers.size > 0 ||
      this.initializers.size !== this.graph.initializers.length ||
      this.graph.initializers.some((t) => this.initializers.get(t.name) !== t);
    if (
      !initializersChanged &&
      this.replacedNodes.size === 0 &&
      this.inserted.size === 0 &&
      this.addedOutputs.length === 0
    ) {
      return this.graph;
    }
    const nodes: Node[] = [];
    for (const node of this.graph.nodes) {
      nodes.push(...(this.inserted.get(node) ?? []));
      nodes.push(...(this.replacedNodes.get(node) ?? [node]));
    }
    const initializers = [...this.initializers.values()].filter(
      (t) => !this.removedInitializers.has(t.name),
    );
    // Graph inputs that named a removed initializer (IR < 4 lists initializers as inputs) go too.
    const inputs = this.graph.inputs.filter((i) => !this.removedInitializers.has(i.name));
    const outputs = [...this.graph.outputs, ...this.addedOutputs];
    const { raw: _raw, ...rest } = this.graph;
    return { ...rest, nodes, initializers, inputs, outputs };
  }
}

/** The model with a new graph (and its own bytes dropped, so it is re-encoded). */
export function withGraph(model: Model, graph: Graph): Model {
  if (graph === model.graph) return model;
  const { raw: _raw, ...rest } = model;
  return { ...rest, graph };
}

/** The default-domain opset of a model. */
export function defaultOpset(model: Model): number {
  return model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
}

/** A new node (no `raw`): the edit's way to add DequantizeLinear, MatMul, … */
export function makeNode(fields: {
  name: string;
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Node['attributes'];
  domain?: string;
}): Node {
  return {
    extra: [],
    name: fields.name,
    opType: fields.opType,
    domain: fields.domain ?? '',
    inputs: [...fields.inputs],
    outputs: [...fields.outputs],
    attributes: fields.attributes ?? [],
    docString: '',
  };
}

/** A copy of `node` with input `index` renamed (its other fields, unknown ones too, kept). */
export function withInput(node: Node, index: number, name: string): Node {
  const { raw: _raw, ...rest } = node;
  const inputs = [...node.inputs];
  inputs[index] = name;
  return { ...rest, inputs };
}
