/**
 * N:M semi-structured pruning (`--prune 2:4`): in every group of M consecutive weights along a
 * layer's reduction axis, keep the N that score highest (|w| by default) and zero the rest
 * (numerics/nmSparsity.ts for the selection, cost/reductionLayout.ts for which weights form a
 * group: a Conv's Cin/groups·kH·kW per output channel, as NVIDIA's ASP groups them; Gemm's and
 * MatMul's K).
 *
 * A layer whose reduction size is not a multiple of M can't be pruned N:M. Named layers
 * (`--layers`) are then refused, nothing written; when the whole model is the target such layers
 * (an RGB first conv of 27 inputs, a 3×3 depthwise conv of 9) are skipped and the notes list them,
 * since users asking for "the model at 2:4" mean the layers that can be.
 *
 * The result is checked by reading the written weights back (nmPatternCheck.ts), and the check
 * is in the notes. 2:4 is 50% sparse, so the weights stay dense (a sparse initializer pays off
 * above 2/3: prunedWeights.ts); 1:4 and sparser patterns are stored sparse.
 */
import {
  readsInStoredOrder,
  reductionLayout,
  fromReductionMatrix,
  toReductionMatrix,
  type ReductionLayout,
} from '../cost/reductionLayout';
import { buildGraphView, type GraphView } from '../graph/graph';
import { ExternalData } from '../onnx/externalData';
import { opsetVersions } from '../onnx/opsets';
import type { Model, Node } from '../onnx/types';
import {
  applyMask,
  formatNm,
  MAX_NM_GROUP,
  nmMask,
  type NmPattern,
  type NmScore,
} from '../numerics/nmSparsity';
import { concreteShape, inferShapes, type ShapeInference } from '../shapes/infer';
import { mainWeight } from '../cost/weights';
import { withGraph } from './graphEdit';
import { checkStoredNm, storedNmNote } from './nmPatternCheck';
import {
  planTargets,
  readFloats,
  sparsityNote,
  storageNotes,
  storeTargets,
  type PruneTarget,
  type WeightStorage,
} from './prunedWeights';
import { CompressionRefusal, compressionResult, type CompressionResult } from './summary';
import { DATA_FREE_NOTE } from './pruneUnstructured';

/** One weight about to be pruned, as a score function sees it. */
export interface NmTarget {
  readonly source: string;
  readonly layers: readonly string[];
  /** The weight as a row-major [rows, cols] matrix, reduction along the columns. */
  readonly matrix: Float32Array;
  readonly layout: ReductionLayout;
}

export interface NmPruneOptions {
  readonly pattern: NmPattern;
  /** Node names; refused when one can't be pruned N:M. Default: every layer that can. */
  readonly layers?: readonly string[];
  /** How the pruned weights are stored (prunedWeights.ts); default 'auto'. */
  readonly storage?: WeightStorage;
  /**
   * The selection criterion per weight, scoring (row, col) of its matrix; |w| when absent or
   * when it returns undefined. A calibrated criterion plugs in here.
   */
  readonly score?: (target: NmTarget) => NmScore | undefined;
  /**
   * Weights already pruned to the pattern, by stored weight name, in the stored layout
   * (calibrated/calibratedPrune.ts: SparseGPT, whose survivors are also updated); written as
   * given, and checked like the others.
   */
  readonly pruned?: ReadonlyMap<string, Float32Array>;
  /** Says how weights were chosen, first among the notes. */
  readonly selectionNote?: string;
}

export interface NmPruneResult extends CompressionResult {
  /** The first output of every pruned layer: names later steps keep, for checking again. */
  readonly prunedOutputs: string[];
}

/** Why `node` can't be pruned N:M, or its reduction layout. */
function layerLayout(
  node: Node,
  label: string,
  source: string,
  pattern: NmPattern,
  view: GraphView,
  shapes: ShapeInference,
): ReductionLayout | { reason: string; size?: string } {
  const rank = (i: number): number | undefined => shapes.types.get(node.inputs[i])?.shape?.length;
  const input = node.inputs[mainWeight(node, rank)?.input ?? -1] ?? '';
  const shape = concreteShape(shapes.types.get(input)?.shape ?? []);
  if (!shape) return { reason: `layer ${label}: the shape of its weight is not known` };
  if (!readsInStoredOrder(view, input, source)) {
    return {
      reason: `layer ${label} reads weight '${source}' through a Transpose: its N:M groups are not runs of the stored tensor`,
    };
  }
  const layout = reductionLayout(node, shape);
  if ('reason' in layout) return { reason: `layer ${label}: ${layout.reason}` };
  if (layout.cols % pattern.m !== 0) {
    return {
      reason: `layer ${label}: ${formatNm(pattern)} needs the input size (${layout.colsText}) to be a multiple of ${pattern.m}`,
      size: `${label} (${layout.colsText})`,
    };
  }
  return layout;
}

/** The layout every layer sharing the weight agrees on, or why there is none. */
function targetLayout(
  target: PruneTarget,
  pattern: NmPattern,
  view: GraphView,
  shapes: ShapeInference,
): ReductionLayout | { reason: string; size?: string } {
  let first: ReductionLayout | undefined;
  for (let i = 0; i < target.nodes.length; i++) {
    const l = layerLayout(target.nodes[i], target.layers[i], target.source, pattern, view, shapes);
    if ('reason' in l) return l;
    if (first && (first.outer !== l.outer || first.cols !== l.cols || first.inner !== l.inner)) {
      return {
        reason: `weight '${target.source}' is read by ${target.layers.join(' and ')} along different axes`,
      };
    }
    first ??= l;
  }
  return first!;
}

export function pruneSemiStructured(
  model: Model,
  options: NmPruneOptions,
  external?: ExternalData,
): NmPruneResult {
  const ext = external ?? new ExternalData(undefined);
  const { pattern } = options;
  const { n, m } = pattern;
  if (!(Number.isInteger(n) && Number.isInteger(m) && n >= 1 && n < m && m <= MAX_NM_GROUP)) {
    throw new CompressionRefusal(
      `${n}:${m} is no N:M pattern (0 < N < M ≤ ${MAX_NM_GROUP}, such as 2:4)`,
    );
  }
  const view = buildGraphView(model.graph);
  const shapes = inferShapes(view, { opsets: opsetVersions(model), external: ext });
  const planned = planTargets(view, shapes, options.layers);
  const targets: { target: PruneTarget; layout: ReductionLayout }[] = [];
  const skipped: { reason: string; size?: string }[] = [];
  for (const target of planned) {
    const layout = targetLayout(target, pattern, view, shapes);
    if (!('reason' in layout)) targets.push({ target, layout });
    else if (options.layers) throw new CompressionRefusal(layout.reason);
    else skipped.push(layout);
  }
  if (targets.length === 0) {
    const why = skipped.length > 0 ? `: ${skipped.map((s) => s.reason).join('; ')}` : '';
    throw new CompressionRefusal(
      `no layer with a float weight can be pruned ${formatNm(pattern)}${why}`,
    );
  }

  const values = targets.map(({ target, layout }) => {
    const given = options.pruned?.get(target.source);
    if (given) return given;
    const matrix = toReductionMatrix(readFloats(target.tensor, ext), layout);
    const score = options.score?.({ source: target.source, layers: target.layers, matrix, layout });
    applyMask(matrix, nmMask(matrix, layout.rows, layout.cols, n, m, score));
    return fromReductionMatrix(matrix, layout);
  });
  const notes = [
    options.selectionNote ?? DATA_FREE_NOTE,
    ...skippedNotes(skipped, pattern),
    ...targets.map(({ target }, i) => sparsityNote(target, values[i])),
  ];
  const storage = options.storage ?? 'auto';
  const { graph, count } = storeTargets(
    view,
    targets.map((t) => t.target),
    values,
    storage,
  );
  notes.push(...storageNotes(count, storage));
  const pruned = withGraph(model, graph);

  const prunedOutputs = targets.flatMap((t) => t.target.nodes.map((node) => node.outputs[0]));
  const check = checkStoredNm(pruned, ext, new Set(prunedOutputs), pattern);
  if (check.failures.length > 0) {
    // The selection guarantees the pattern; a failure here is a bug, and nothing is written.
    throw new CompressionRefusal(storedNmNote(check, pattern));
  }
  notes.push(storedNmNote(check, pattern));
  const result = compressionResult(
    `prune ${formatNm(pattern)} semi-structured`,
    model,
    pruned,
    ext,
    targets.flatMap((t) => t.target.layers),
    notes,
  );
  return { ...result, prunedOutputs };
}

/**
 * What was left out of a whole-model N:M pruning, grouped: "skipped 2 layers whose input size is
 * not a multiple of 4: conv1 (27 = 3·3·3), dw (9 = 1·3·3)", then the other reasons one by one.
 */
function skippedNotes(
  skipped: readonly { reason: string; size?: string }[],
  p: NmPattern,
): string[] {
  const bySize = skipped.flatMap((s) => (s.size ? [s.size] : []));
  const notes: string[] = [];
  if (bySize.length > 0) {
    const shown = bySize.slice(0, 5).join(', ');
    const more = bySize.length > 5 ? ` and ${bySize.length - 5} more` : '';
    notes.push(
      `skipped ${bySize.length} layer${bySize.length > 1 ? 's' : ''} whose input size is not a multiple of ${p.m} (${formatNm(p)} groups run along it): ${shown}${more}`,
    );
  }
  for (const s of skipped) if (!s.size) notes.push(`skipped ${s.reason}`);
  return notes;
}
