/**
 * Unstructured magnitude pruning (conventions.md "Compression formats"): the smallest-magnitude
 * elements of each layer's main weight become exactly zero, to a target sparsity, either per
 * layer (each stored weight loses the same fraction) or globally (one magnitude threshold over all
 * the selected weights, as in Han et al. 2015, so layers with many small weights lose more).
 *
 * Zeros alone do not shrink a dense file; above 2/3 sparsity a pruned initializer is stored as a
 * `sparse_initializer` instead (prunedWeights.ts says why that threshold and how ONNX Runtime
 * loads it).
 */
import { opsetVersions } from '../onnx/opsets';
import { buildGraphView } from '../graph/graph';
import { ExternalData } from '../onnx/externalData';
import type { Model } from '../onnx/types';
import { inferShapes } from '../shapes/infer';
import { withGraph } from './graphEdit';
import {
  planTargets,
  readFloats,
  sparsityNote,
  storageNotes,
  storeTargets,
  type WeightStorage,
} from './prunedWeights';
import { CompressionRefusal, type CompressionResult, compressionResult } from './summary';

export interface PruneOptions {
  /** Fraction of each weight (or of all weights, globally) set to zero, 0..1. */
  sparsity: number;
  /** 'layer': each weight reaches the sparsity; 'global': one threshold over all weights. */
  scope: 'layer' | 'global';
  /** Node names; default every Conv, ConvTranspose, Gemm and MatMul with a float weight. */
  layers?: readonly string[];
  /** How pruned initializers are stored (prunedWeights.ts); default 'auto'. */
  storage?: WeightStorage;
  /**
   * Weights already pruned, by stored weight name, in the stored layout (calibrated/
   * calibratedPrune.ts: SparseGPT on calibration data); written as given. Per-layer scope only.
   */
  pruned?: ReadonlyMap<string, Float32Array>;
  /** Says how weights were chosen, first among the notes. */
  selectionNote?: string;
}

/** Said whenever weights were chosen without data, so the user knows there is a better way. */
export const DATA_FREE_NOTE =
  "chosen by magnitude, without data: calibration samples (--calibration DIR, or a data folder in the editor) choose by the effect on each layer's output and update the weights that stay";

export function pruneUnstructured(
  model: Model,
  options: PruneOptions,
  external?: ExternalData,
): CompressionResult {
  const ext = external ?? new ExternalData(undefined);
  const sparsity = options.sparsity;
  if (!(sparsity >= 0 && sparsity <= 1)) {
    throw new CompressionRefusal(`sparsity ${sparsity} is out of range (0 to 1)`);
  }
  const view = buildGraphView(model.graph);
  const shapes = inferShapes(view, { opsets: opsetVersions(model), external: ext });
  const targets = planTargets(view, shapes, options.layers);
  if (targets.length === 0) throw new CompressionRefusal('no layer with a float32 weight to prune');
  const given = options.pruned ?? new Map<string, Float32Array>();
  if (given.size > 0 && options.scope === 'global') {
    throw new CompressionRefusal('pre-pruned weights take the per-layer scope');
  }
  const values = targets.map((t) => given.get(t.source) ?? readFloats(t.tensor, ext));
  const notes: string[] = [options.selectionNote ?? DATA_FREE_NOTE];
  if (options.scope === 'global') {
    const t = zeroSmallest(values, Math.round(sparsity * total(values)));
    notes.push(`global magnitude threshold ${t.toPrecision(4)}`);
  } else {
    targets.forEach((target, i) => {
      if (!given.has(target.source)) {
        zeroSmallest([values[i]], Math.round(sparsity * values[i].length));
      }
    });
  }
  targets.forEach((target, i) => notes.push(sparsityNote(target, values[i])));
  const storage = options.storage ?? 'auto';
  const { graph, count } = storeTargets(view, targets, values, storage);
  notes.push(...storageNotes(count, storage));
  const pruned = withGraph(model, graph);
  return compressionResult(
    `prune unstructured ${(options.sparsity * 100).toFixed(0)}% ${options.scope === 'global' ? 'global' : 'per layer'}`,
    model,
    pruned,
    ext,
    targets.flatMap((t) => t.layers),
    notes,
  );
}

function total(values: readonly Float32Array[]): number {
  return values.reduce((n, v) => n + v.length, 0);
}

/**
 * Zeroes exactly `k` elements over `arrays`, those of smallest magnitude, and returns the
 * magnitude threshold. Ties at the threshold are broken in order (first array, first index), so
 * the count is exact even when many weights share a value (already-zero weights count first).
 */
export function zeroSmallest(arrays: readonly Float32Array[], k: number): number {
  if (k <= 0) return 0;
  const magnitudes = new Float32Array(total(arrays));
  let offset = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) magnitudes[offset + i] = Math.abs(a[i]);
    offset += a.length;
  }
  magnitudes.sort();
  const threshold = magnitudes[Math.min(k, magnitudes.length) - 1];
  let below = 0;
  for (let i = 0; i < magnitudes.length && magnitudes[i] < threshold; i++) below++;
  let ties = Math.min(k, magnitudes.length) - below;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const m = Math.abs(a[i]);
      if (m < threshold) a[i] = 0;
      else if (m === threshold && ties > 0) {
        a[i] = 0;
        ties--;
      }
    }
  }
  return threshold;
}

export { sparseToDense } from '../onnx/sparse';
export { toSparse } from './prunedWeights';
