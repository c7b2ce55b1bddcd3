/**
 * Unstructured and N:M pruning chosen on calibration data (SparseGPT, gptq.ts): each layer's
 * mask comes from its inputs' H, and the surviving weights are updated to keep the layer's output.
 * The pruners store the result as they store magnitude pruning (dense or sparse_initializer), and
 * the N:M pruner checks the stored pattern. A weight SparseGPT can't handle (shared by several
 * layers, or of a layer kind without a known input patch) is pruned by magnitude, and the notes
 * say how many.
 */
import { buildGraphView, type GraphView } from '../graph/graph';
import { ExternalData } from '../onnx/externalData';
import type { LoadedModel } from '../onnx/load';
import { opsetVersions } from '../onnx/opsets';
import { inferShapes } from '../shapes/infer';
import type { NmPattern } from '../numerics/nmSparsity';
import { formatNm } from '../numerics/nmSparsity';
import { withOrtMatMul } from '../numerics/matmulEngine';
import { planTargets, readFloats, type PruneTarget } from '../compress/prunedWeights';
import { pruneUnstructured, zeroSmallest } from '../compress/pruneUnstructured';
import { pruneSemiStructured, type NmPruneResult } from '../compress/pruneSemiStructured';
import { CompressionRefusal, type CompressionResult } from '../compress/summary';
import { sparseGptPrune, type FactorCache, type SparsityPattern } from './gptq';
import {
  collectHessians,
  type HessianOptions,
  type HessianTarget,
  type LayerHessian,
} from './hessians';
import { storedGeometry, type LayerGeometry } from './layerGeometry';
import { mainWeight } from '../cost/weights';
import { weightChain } from '../compress/weightChain';
import type { ShapeInference } from '../shapes/infer';
import type { MatMul } from '../numerics/linalg';

export interface CalibratedPruneOptions {
  /** A sparsity in (0, 1), or an N:M pattern. */
  readonly pattern: number | NmPattern;
  readonly layers?: readonly string[];
  /**
   * A sparsity per layer (advisor/sparsityPlan.ts), overriding `pattern` for the layers it names
   * and limiting the pruning to them; a layer at 0 is left as it is. `pattern` must then be a
   * sparsity: it names the operation (the plan's overall target).
   */
  readonly sparsityPerLayer?: ReadonlyMap<string, number>;
}

/** The layer's geometry in the stored layout, through the chain to its weight (weightChain.ts). */
function geometryOf(
  target: PruneTarget,
  view: GraphView,
  shapes: ShapeInference,
): LayerGeometry | undefined {
  const node = target.nodes[0];
  const rank = (i: number): number | undefined => shapes.types.get(node.inputs[i])?.shape?.length;
  const main = mainWeight(node, rank);
  if (!main) return undefined;
  const chain = weightChain(node.inputs[main.input], target.source, view, rank(main.input));
  return 'reason' in chain ? undefined : storedGeometry(node, target.tensor.dims, chain.perm);
}

export async function pruneCalibrated(
  loaded: LoadedModel,
  options: CalibratedPruneOptions,
  calibration: HessianOptions,
): Promise<CompressionResult | NmPruneResult> {
  const ext = loaded.external ?? new ExternalData(undefined);
  const { pattern } = options;
  if (typeof pattern === 'number' && !(pattern > 0 && pattern < 1)) {
    throw new CompressionRefusal(`sparsity ${pattern} is out of range (0 to 1, exclusive)`);
  }
  const perLayer = options.sparsityPerLayer;
  if (perLayer && typeof pattern !== 'number') {
    throw new CompressionRefusal('per-layer sparsities are unstructured; an N:M pattern is not');
  }
  for (const [layer, s] of perLayer ?? []) {
    if (!(s >= 0 && s < 1)) {
      throw new CompressionRefusal(`sparsity ${s} of '${layer}' is out of range (0 to 1)`);
    }
  }
  const layers = perLayer ? [...perLayer].filter(([, s]) => s > 0).map(([l]) => l) : options.layers;
  if (layers?.length === 0) throw new CompressionRefusal('the plan prunes no layer');
  const view = buildGraphView(loaded.model.graph);
  const shapes = inferShapes(view, { opsets: opsetVersions(loaded.model), external: ext });
  const targets: (HessianTarget & { target: PruneTarget })[] = [];
  const magnitude: PruneTarget[] = [];
  for (const target of planTargets(view, shapes, layers)) {
    const geometry = target.nodes.length === 1 ? geometryOf(target, view, shapes) : undefined;
    // N:M groups run along a row's columns; a row shorter than M is the pruner's to refuse.
    const fits = typeof pattern === 'number' || (geometry && geometry.columns % pattern.m === 0);
    if (geometry && fits) targets.push({ layer: target.layers[0], geometry, target });
    else magnitude.push(target);
  }
  const patternOf = (target: PruneTarget): SparsityPattern =>
    typeof pattern === 'number'
      ? { kind: 'fraction', sparsity: perLayer?.get(target.layers[0]) ?? pattern }
      : { kind: 'nm', n: pattern.n, m: pattern.m };
  const pruned = new Map<string, Float32Array>();
  // H from the float model for every layer at once. (Measuring each layer on the model whose
  // earlier layers are already pruned, as the paper does for transformers, gave no better
  // accuracy on the fmnist classifier at 50% and costs one calibration pass per layer.)
  const hessians =
    targets.length > 0
      ? await collectHessians(loaded, targets, calibration)
      : new Map<string, LayerHessian>();
  const samples = targets.length > 0 ? hessians.get(targets[0].layer)!.samples : 0;
  await withOrtMatMul(async (engine) => {
    for (const { target, geometry, layer } of targets) {
      calibration.signal?.throwIfAborted();
      const hessian = hessians.get(layer)!;
      // Each H is dropped once used: together they are the bulk of the memory (K² doubles).
      hessians.delete(layer);
      const values = readFloats(target.tensor, ext);
      await sparseGptWeight(values, geometry, hessian, patternOf(target), engine);
      pruned.set(target.source, values);
    }
  });
  if (perLayer) {
    // The per-layer scope prunes what it isn't given to one sparsity: give it every layer's own.
    for (const target of magnitude) {
      const values = readFloats(target.tensor, ext);
      const s = perLayer.get(target.layers[0]) ?? pattern;
      zeroSmallest([values], Math.round((s as number) * values.length));
      pruned.set(target.source, values);
    }
  }
  const what = perLayer
    ? 'per-layer sparsities'
    : typeof pattern === 'number'
      ? `${Math.round(pattern * 100)}%`
      : formatNm(pattern);
  const selectionNote =
    `${what} chosen by SparseGPT for ${targets.length} layer(s) on ${samples} calibration sample(s), ` +
    "survivors updated to keep each layer's output" +
    (magnitude.length > 0
      ? `; ${magnitude.length} by magnitude (shared or unsupported layer)`
      : '');
  return typeof pattern === 'number'
    ? pruneUnstructured(
        loaded.model,
        { sparsity: pattern, scope: 'layer', layers, pruned, selectionNote },
        ext,
      )
    : pruneSemiStructured(loaded.model, { pattern, layers, pruned, selectionNote }, ext);
}

/**
 * SparseGPT on one stored weight (`values`, in its stored layout, pruned in place) with its
 * layer's H: every group's rows × columns matrix is pruned to `pattern`, survivors updated.
 */
export async function sparseGptWeight(
  values: Float32Array,
  geometry: LayerGeometry,
  hessian: LayerHessian,
  pattern: SparsityPattern,
  engine?: MatMul,
  factors?: FactorCache,
): Promise<void> {
  const { groups, rows, columns } = geometry;
  for (let g = 0; g < groups; g++) {
    const w = new Float64Array(rows * columns);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) w[r * columns + c] = values[geometry.elementIndex(g, r, c)];
    }
    await sparseGptPrune(w, rows, columns, hessian.matrices[g], pattern, { engine, factors });
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) values[geometry.elementIndex(g, r, c)] = w[r * columns + c];
    }
  }
}
