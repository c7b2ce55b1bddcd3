/**
 * Runs a model many times with one stored weight swapped (measuredEffect.ts): the weight becomes
 * a graph input, fed a candidate per run, while every other weight stays a constant (ONNX
 * Runtime prepacks those; with every weight an input, resnet18 ran 3.5× slower).
 *
 * Only the part of the model after the weight's first reader depends on it. So, where that part
 * can be cut out, the nodes before it (the prefix) run once per sample and the tensors they hand
 * on (the cut: a feature map, a residual branch, a shape) are kept; each candidate then runs the
 * suffix alone, fed the cut. On a chain of layers the measurement costs about half the full
 * runs. Where the cut can't be made (the first node reads the weight, a graph output is computed
 * before it, a cut tensor of a type ONNX Runtime can't feed), the whole model runs each time:
 * the figures are the same either way (the suffix computes exactly what the whole model would
 * after the cut).
 */
import { nodeDependencies } from '../graph/graph';
import { valueInfo } from '../onnx/build';
import { encodeModel } from '../onnx/encode';
import type { LoadedModel } from '../onnx/load';
import { inlineExternalData } from '../onnx/relocate';
import { DataType, type Graph, type Model, type Tensor } from '../onnx/types';
import { GraphEdit, withGraph } from '../compress/graphEdit';
import { ModelRunner, VerifyError, type InputSet, type OutputTensor } from '../verify';
import { dataTypeOfOrt, type InputTensor } from '../verify/inputs';

export interface SwappedWeight {
  /** The stored weight's name (an initializer, or a Constant node's output). */
  readonly source: string;
  readonly tensor: Tensor;
}

export class LayerRunner {
  private constructor(
    private readonly runner: ModelRunner,
    private readonly feeds: readonly InputSet[],
    private readonly weight: SwappedWeight,
    /** Whether only the suffix runs (for tests and messages). */
    readonly suffixOnly: boolean,
  ) {}

  /**
   * Prepares the runs on `sets`: the suffix model and each sample's cut, or the whole model with
   * the weight as an input.
   */
  static async create(
    loaded: LoadedModel,
    weight: SwappedWeight,
    sets: readonly InputSet[],
    signal?: AbortSignal,
  ): Promise<LayerRunner> {
    const split = cutBefore(loaded.model.graph, weight.source);
    if (split) {
      const prepared = await prepareSuffix(loaded, weight, sets, split, signal).catch(
        (e: unknown) => {
          // A prefix or suffix ONNX Runtime refuses (an op's types we could not declare): run
          // the whole model instead; a cancellation stays one.
          if (e instanceof VerifyError) return undefined;
          throw e;
        },
      );
      if (prepared) return new LayerRunner(prepared.runner, prepared.feeds, weight, true);
    }
    const nodes = loaded.model.graph.nodes;
    const runner = await ModelRunner.create(
      runnableBytes(withWeightInput(loaded.model, weight, nodes), loaded),
      `model with '${weight.source}' as an input`,
    );
    // Graph inputs no node reads are not declared by the runnable copy: don't feed them.
    const reads = new Set(nodes.flatMap(nodeDependencies));
    const feeds = sets.map((set) =>
      Object.fromEntries(Object.entries(set).filter(([name]) => reads.has(name))),
    );
    return new LayerRunner(runner, feeds, weight, false);
  }

  /** The model's outputs on sample `i` with the weight's values `weights`. */
  run(i: number, weights: Float32Array): Promise<Record<string, OutputTensor>> {
    return this.runner.run({
      ...this.feeds[i],
      [this.weight.source]: { data: weights, dims: [...this.weight.tensor.dims], dtype: 'float32' },
    });
  }

  release(): Promise<void> {
    return this.runner.release();
  }
}

function abortError(): Error {
  return new DOMException('effect measurement cancelled', 'AbortError');
}

interface Cut {
  /** Index of the first node that depends on the weight. */
  readonly first: number;
  /** Tensors computed before it that it or a later node reads. */
  readonly tensors: string[];
}

/**
 * Where the model can be cut before the weight's first dependent node, or undefined when the
 * whole model must run (see the header).
 */
function cutBefore(graph: Graph, source: string): Cut | undefined {
  const tainted = new Set([source]);
  const first = graph.nodes.findIndex((n) => nodeDependencies(n).some((d) => tainted.has(d)));
  if (first <= 0) return undefined;
  const produced = new Set(graph.nodes.slice(0, first).flatMap((n) => n.outputs));
  if (graph.outputs.some((o) => produced.has(o.name))) return undefined;
  const tensors = new Set<string>();
  for (const n of graph.nodes.slice(first)) {
    for (const d of nodeDependencies(n)) if (produced.has(d)) tensors.add(d);
  }
  // A weight a Constant node makes is fed as the weight, not handed on as part of the cut.
  tensors.delete(source);
  return { first, tensors: [...tensors] };
}

/** Runs the prefix on every sample and builds the suffix model fed by its cut. */
async function prepareSuffix(
  loaded: LoadedModel,
  weight: SwappedWeight,
  sets: readonly InputSet[],
  cut: Cut,
  signal?: AbortSignal,
): Promise<{ runner: ModelRunner; feeds: InputSet[] }> {
  const { graph } = loaded.model;
  const prefixNodes = graph.nodes.slice(0, cut.first);
  const suffixNodes = graph.nodes.slice(cut.first);
  const read = (nodes: Graph['nodes']): Set<string> => new Set(nodes.flatMap(nodeDependencies));
  const prefixReads = read(prefixNodes);
  const suffixReads = read(suffixNodes);
  // The prefix: its nodes, what they read, the cut as outputs (types left to ORT).
  const prefixGraph: Graph = {
    ...part(graph, prefixNodes, prefixReads),
    outputs: cut.tensors.map((name) => valueInfo(name)),
  };
  const prefix = await ModelRunner.create(
    runnableBytes(withGraph(loaded.model, prefixGraph), loaded),
    'the layers before the measured one',
  );
  const cuts: Record<string, InputTensor>[] = [];
  try {
    for (const set of sets) {
      if (signal?.aborted) throw abortError();
      const fed: InputSet = {};
      for (const [name, t] of Object.entries(set)) if (prefixReads.has(name)) fed[name] = t;
      cuts.push(await prefix.runRaw(fed, cut.tensors));
    }
  } finally {
    await prefix.release();
  }
  // The suffix: the graph inputs it reads, the cut (typed as the prefix gave it), the weight.
  const types = cuts[0] ?? {};
  const cutInputs = cut.tensors.map((name) => {
    const dtype = dataTypeOfOrt(types[name]?.dtype ?? '');
    if (dtype === undefined) throw new VerifyError(`cut tensor '${name}' has no feedable type`);
    return valueInfo(name, dtype);
  });
  const suffixModel = withWeightInput(loaded.model, weight, suffixNodes, (g) => ({
    ...g,
    inputs: [...g.inputs, ...cutInputs],
  }));
  const runner = await ModelRunner.create(
    runnableBytes(suffixModel, loaded),
    `the layers from '${weight.source}' on`,
  );
  const feeds = sets.map((set, i) => {
    const fed: InputSet = { ...cuts[i] };
    for (const [name, t] of Object.entries(set)) if (suffixReads.has(name)) fed[name] = t;
    return fed;
  });
  return { runner, feeds };
}

/**
 * The model (with `nodes` only) with the weight's stored tensor removed and declared a graph
 * input of that name; `edit` adjusts the graph further.
 */
function withWeightInput(
  model: Model,
  weight: SwappedWeight,
  nodes: Graph['nodes'],
  edit: (g: Graph) => Graph = (g) => g,
): Model {
  const reads = new Set(nodes.flatMap(nodeDependencies));
  const e = new GraphEdit(part(model.graph, nodes, reads));
  const constant = nodes.find((n) => n.opType === 'Constant' && n.outputs[0] === weight.source);
  if (constant) e.replaceNode(constant, []);
  else e.removeInitializer(weight.source);
  const built = e.build();
  const graph = edit({ ...built, nodes: built.nodes });
  const { raw: _raw, ...rest } = graph;
  return withGraph(model, {
    ...rest,
    inputs: [...graph.inputs, valueInfo(weight.source, DataType.FLOAT, weight.tensor.dims)],
  });
}

/**
 * The graph with only `nodes`, the initializers and graph inputs they read (`reads`), and the
 * original outputs (the caller replaces them where it must): a part of the model ORT loads
 * without carrying every weight of the rest.
 */
function part(graph: Graph, nodes: Graph['nodes'], reads: ReadonlySet<string>): Graph {
  const { raw: _raw, ...rest } = graph;
  return {
    ...rest,
    nodes,
    initializers: graph.initializers.filter((t) => reads.has(t.name)),
    sparseInitializers: graph.sparseInitializers.filter((t) => reads.has(t.values?.name ?? '')),
    inputs: graph.inputs.filter((i) => reads.has(i.name)),
  };
}

/** Bytes ONNX Runtime can load: side-file payloads put back inside. */
function runnableBytes(model: Model, loaded: LoadedModel): Uint8Array {
  return encodeModel(
    model.graph.initializers.some((t) => t.external) && loaded.external
      ? inlineExternalData(model, loaded.external)
      : model,
  );
}
