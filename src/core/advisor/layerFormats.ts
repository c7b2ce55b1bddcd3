/**
 * One layer's weight SQNR in the other formats the compressor writes (fp16, pow2, ternary,
 * binary), measured on demand.
 *
 * The analysis leaves these out unless asked (AnalyzeOptions.weightFormats, the CLI's --json):
 * measured for every layer they cost more than all the integer widths together. The editor's hover
 * asks for the one layer under the cursor instead. This runs the analysis's own per-node figures
 * (cost/nodeFigures.ts) for that node with the formats on, so the weight is traced, sampled
 * (numerics/weightSqnr.ts) and rounded exactly as for `analyze --json`: the hover shows the same numbers.
 *
 * Tracing a weight to its stored tensor (through Identity, Cast, DequantizeLinear, folded
 * constants) needs shape inference, which takes 100 ms on a 5,000-node graph. A tensor's inferred
 * type and value depend only on the nodes it is computed from, so inference runs on those alone:
 * the weight input's ancestors, usually none or a few nodes.
 */
import { nodeFigures } from '../cost/nodeFigures';
import { mainWeight } from '../cost/weights';
import { buildGraphView, nodeDependencies } from '../graph/graph';
import type { LoadedModel } from '../onnx/load';
import { opsetVersions } from '../onnx/opsets';
import type { Graph, Node } from '../onnx/types';
import { DEFAULT_ERROR_TARGET_DB } from '../numerics/weightSqnr';
import type { NodeReport } from '../report';
import { inferShapes } from '../shapes/infer';

export type LayerFormatSqnr = NonNullable<NodeReport['weightFormatSqnrDb']>;

/**
 * The format SQNR of the node at `fileIndex` (its position in the file's node list, as
 * NodeReport.fileIndex), or null when it has no float weight to measure.
 */
export type LayerFormatMeter = (fileIndex: number) => LayerFormatSqnr | null;

/** A meter for one model, analysed with `inputShapes` as its report was. */
export function layerFormatMeter(
  loaded: LoadedModel,
  inputShapes?: ReadonlyMap<string, readonly number[]>,
): LayerFormatMeter {
  const graph = loaded.model.graph;
  let producers: Map<string, Node> | undefined;
  const opsets = opsetVersions(loaded.model);
  return (fileIndex) => {
    const node = graph.nodes[fileIndex];
    // Which input holds the main weight does not depend on its rank (only MatMul's axis does).
    const slot = node && mainWeight(node, () => 2)?.input;
    if (slot === undefined || !node.inputs[slot]) return null;
    producers ??= producerMap(graph);
    const sub = ancestorGraph(graph, producers, node.inputs[slot]);
    const view = buildGraphView(sub);
    const shapes = inferShapes(view, { opsets, inputShapes, external: loaded.external });
    const { report } = nodeFigures(node, fileIndex, {
      view,
      shapes,
      external: loaded.external,
      // Neither changes the formats' SQNR; they only feed figures this discards.
      errorTargetDb: DEFAULT_ERROR_TARGET_DB,
      countBiasFlops: true,
      skipBitHints: false,
      weightFormats: true,
      // An unreadable weight is already reported by the analysis; here it just gives null.
      diagnostics: [],
      fileIndex: new Map([[node, fileIndex]]),
    });
    return report.weightFormatSqnrDb;
  };
}

function producerMap(graph: Graph): Map<string, Node> {
  const producers = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) producers.set(o, n);
  return producers;
}

/**
 * The graph cut down to what `tensor` is computed from: its ancestor nodes (in file order) and
 * the initializers they read. Graph inputs stay (a shape folded from an input's shape needs
 * them), declared types stay (inference merges them); outputs go, as they may be cut away.
 */
function ancestorGraph(graph: Graph, producers: Map<string, Node>, tensor: string): Graph {
  const nodes = new Set<Node>();
  const names = new Set<string>([tensor]);
  const pending = [tensor];
  while (pending.length > 0) {
    const producer = producers.get(pending.pop()!);
    if (!producer || nodes.has(producer)) continue;
    nodes.add(producer);
    for (const dep of nodeDependencies(producer)) {
      if (names.has(dep)) continue;
      names.add(dep);
      pending.push(dep);
    }
  }
  return {
    ...graph,
    nodes: graph.nodes.filter((n) => nodes.has(n)),
    initializers: graph.initializers.filter((t) => names.has(t.name)),
    sparseInitializers: graph.sparseInitializers.filter((s) => names.has(s.values?.name ?? '')),
    outputs: [],
  };
}
