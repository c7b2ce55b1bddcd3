/**
 * Structured (filter) pruning judged and repaired on calibration data.
 *
 * Removing channel c of a group deletes, in every layer that reads the group (its consumers),
 * the weight columns that multiply channel c. With H = XᵀX of a consumer's input:
 *
 * - Ranking: the cost of removing c when the remaining columns are refitted is the Optimal
 *   Brain Surgeon saliency of the column block C = cols(c),
 *     Σ_rows w_C [(H⁻¹)_CC]⁻¹ w_Cᵀ,
 *   summed over the group's consumers. It is the output error left after the best
 *   reconstruction, where L1 of the filters ignores both the inputs and the refit.
 * - Reconstruction (He et al. 2017, "Channel Pruning for Accelerating Very Deep Neural
 *   Networks"; AIMET's channel pruning): each consumer's kept columns S are refitted by least
 *   squares to reproduce its original output on the calibration inputs,
 *     W'_S = W H_{:,S} (H_SS)⁻¹,
 *   so the columns that remain absorb what the removed channels carried.
 *
 * H is measured once, on the original model: a consumer's kept inputs are the original
 * channels, unchanged by the pruning (the non-sequential approximation; their producers' own
 * refit changes them only slightly).
 */
import { nodeLabel } from '../graph/graph';
import { mainWeight } from '../cost/weights';
import { ExternalData } from '../onnx/externalData';
import type { LoadedModel } from '../onnx/load';
import { makeTensor } from '../onnx/build';
import { elementCount, forEachFloatChunk } from '../onnx/tensorData';
import { DataType, type Model, type Tensor } from '../onnx/types';
import {
  dampen,
  inverseCholeskyUpper,
  principalSubmatrix,
  solveSpd,
  type MatMul,
} from '../numerics/linalg';
import { withOrtMatMul } from '../numerics/matmulEngine';
import { analyzeChannels, type ChannelGroup } from '../compress/channelDependencies';
import { expand, planPruning, pruneFilters, type PruneOptions } from '../compress/pruneStructured';
import type { CompressionResult } from '../compress/summary';
import { withGraph, GraphEdit } from '../compress/graphEdit';
import { collectHessians, type HessianOptions, type LayerHessian } from './hessians';
import { layerGeometry, type LayerGeometry } from './layerGeometry';

/** The least-squares refit's ridge, as a fraction of H's mean diagonal. */
const RIDGE = 0.01;

/** A layer reading a group's channels through its weight's input axis. */
interface Consumer {
  readonly layer: string;
  readonly geometry: LayerGeometry;
  readonly weight: Tensor;
}

export async function pruneFiltersCalibrated(
  loaded: LoadedModel,
  options: Pick<PruneOptions, 'fraction' | 'layers'>,
  calibration: HessianOptions,
): Promise<CompressionResult> {
  const ext = loaded.external ?? new ExternalData(undefined);
  const analysis = analyzeChannels(loaded.model, ext);
  const consumersOf = new Map<number, Consumer[]>();
  const all = new Map<string, Consumer>();
  for (const group of analysis.groups) {
    const list: Consumer[] = [];
    for (const s of group.slices) {
      const weight = analysis.view.initializers.get(s.node.inputs[s.slot]);
      const main = mainWeight(s.node, () => weight?.dims.length);
      if (!weight || !main || main.input !== s.slot || main.channelAxis === s.axis) continue;
      const geometry = layerGeometry(s.node, weight.dims);
      if (!geometry || geometry.groups !== 1 || geometry.columns % group.channels !== 0) continue;
      const consumer = { layer: nodeLabel(s.node), geometry, weight };
      list.push(consumer);
      all.set(consumer.layer, consumer);
    }
    consumersOf.set(group.id, list);
  }
  const hessians = await collectHessians(loaded, [...all.values()], calibration);
  const weights = new Map(
    [...all.values()].map((c) => [c.layer, readFloats(c.weight, ext)] as const),
  );
  return withOrtMatMul(async (engine) => {
    // Saliencies are computed up front (they need the async factorisation), per group id.
    const scores = new Map<number, Float64Array>();
    for (const group of analysis.groups) {
      const consumers = consumersOf.get(group.id) ?? [];
      if (group.kind !== 'filters' || consumers.length === 0) continue;
      const s = new Float64Array(group.channels);
      for (const c of consumers) {
        calibration.signal?.throwIfAborted();
        const hessian = hessians.get(c.layer)!;
        await addSaliencies(s, c.geometry, weights.get(c.layer)!, hessian, engine);
      }
      scores.set(group.id, s);
    }
    const pruneOptions: PruneOptions = {
      ...options,
      channelScores: (group) => scores.get(group.id),
      operation: `structured filter pruning ${Math.round(options.fraction * 100)}%, calibrated`,
    };
    const plan = planPruning(loaded.model, pruneOptions, ext);
    const pruned = pruneFilters(loaded.model, pruneOptions, ext);
    const kept = keptByLayer(plan.keep, all);
    const refitted: string[] = [];
    const model = await reconstructConsumers(
      pruned.model,
      { consumers: all, kept, weights, hessians, engine },
      refitted,
    );
    const samples = hessians.values().next().value?.samples ?? 0;
    pruned.summary.notes.push(
      "filters ranked by their effect on the consumers' outputs after refitting (OBS saliency on calibration data)",
      `${refitted.length} consumer layer(s) refitted by least squares on ${samples} calibration sample(s): ${shortList(refitted)}`,
    );
    return { ...pruned, model };
  });
}

function shortList(names: readonly string[]): string {
  return names.length <= 6 ? names.join(', ') : `${names.slice(0, 6).join(', ')}, …`;
}

/** Per consumer layer, the original rows and columns its pruned weight keeps. */
function keptByLayer(
  keep: ReadonlyMap<ChannelGroup, readonly number[]>,
  consumers: ReadonlyMap<string, Consumer>,
): Map<string, { rows?: number[]; columns?: number[] }> {
  const out = new Map<string, { rows?: number[]; columns?: number[] }>();
  for (const [group, channels] of keep) {
    for (const s of group.slices) {
      const layer = nodeLabel(s.node);
      const consumer = consumers.get(layer);
      if (!consumer) continue;
      const entry = out.get(layer) ?? {};
      out.set(layer, entry);
      const main = mainWeight(s.node, () => consumer.weight.dims.length);
      if (!main || main.input !== s.slot) continue;
      if (main.channelAxis === s.axis) entry.rows = [...channels];
      else entry.columns = expand(channels, consumer.geometry.columns / group.channels);
    }
  }
  return out;
}

function readFloats(t: Tensor, ext: ExternalData): Float32Array {
  const out = new Float32Array(elementCount(t.dims));
  forEachFloatChunk(t, ext, (chunk, start) => out.set(chunk, start));
  return out;
}

/**
 * Adds, per channel, the OBS saliency of removing its column block from this consumer:
 * Σ_r w_r,C [(H⁻¹)_CC]⁻¹ w_r,Cᵀ, with (H⁻¹)_CC read off H⁻¹ = UᵀU.
 */
async function addSaliencies(
  scores: Float64Array,
  geometry: LayerGeometry,
  w: Float32Array,
  hessian: LayerHessian,
  engine: MatMul,
): Promise<void> {
  const n = geometry.columns;
  const per = n / scores.length;
  const { h: matrix } = dampen(hessian.matrices[0], n, 0.01);
  const u = await inverseCholeskyUpper(matrix, n, { engine });
  const { rows } = geometry;
  for (let c = 0; c < scores.length; c++) {
    const first = c * per;
    const block = new Float64Array(per * per);
    for (let a = 0; a < per; a++) {
      for (let b = a; b < per; b++) {
        // (UᵀU)_ab = Σ_k U_ka U_kb, U upper: k ≤ min(a, b).
        let s = 0;
        for (let k = 0; k <= first + a; k++) s += u[k * n + first + a] * u[k * n + first + b];
        block[a * per + b] = s;
        block[b * per + a] = s;
      }
    }
    const rhs = new Float64Array(per * rows);
    for (let r = 0; r < rows; r++) {
      for (let a = 0; a < per; a++) rhs[a * rows + r] = w[geometry.elementIndex(0, r, first + a)];
    }
    const z = await solveSpd(block, per, rhs, rows);
    let s = 0;
    for (let i = 0; i < rhs.length; i++) s += rhs[i] * z[i];
    scores[c] += s;
  }
}

/**
 * Refits each consumer's kept columns S in the pruned model, for its kept rows R:
 * W'_{R,S} = W_{R,:} H_{:,S} (H_SS)⁻¹, i.e. H_SS Z = H_{S,:} W_{R,:}ᵀ with W' = Zᵀ. The pruned
 * weight tensor is rewritten under its own name.
 */
async function reconstructConsumers(
  pruned: Model,
  context: {
    consumers: ReadonlyMap<string, Consumer>;
    kept: ReadonlyMap<string, { rows?: number[]; columns?: number[] }>;
    weights: ReadonlyMap<string, Float32Array>;
    hessians: ReadonlyMap<string, LayerHessian>;
    engine: MatMul;
  },
  refitted: string[],
): Promise<Model> {
  const { consumers, kept, weights, hessians, engine } = context;
  const edit = new GraphEdit(pruned.graph);
  const byName = new Map(pruned.graph.nodes.map((n) => [nodeLabel(n), n]));
  for (const [layer, consumer] of consumers) {
    const columns = kept.get(layer)?.columns;
    const node = byName.get(layer);
    if (!columns || !node) continue;
    const { geometry } = consumer;
    const rows = kept.get(layer)?.rows ?? Array.from({ length: geometry.rows }, (_, r) => r);
    const main = mainWeight(node, () => consumer.weight.dims.length);
    const stored = main ? edit.initializer(node.inputs[main.input]) : undefined;
    const after = stored && layerGeometry(node, stored.dims);
    if (
      !after ||
      stored.dataType !== DataType.FLOAT ||
      after.rows !== rows.length ||
      after.columns !== columns.length
    )
      continue;
    const n = geometry.columns;
    const h = hessians.get(layer)!.matrices[0];
    const w = weights.get(layer)!;
    // The ridge pulls towards the original weights rather than towards zero: with fewer input
    // rows than columns (a Gemm sees one row per image) H is singular, and where the data says
    // nothing the original weight is the best guess. So solve (H_SS + λI) Z = H_{S,:} W_Rᵀ + λ W_{R,S}ᵀ.
    const hs = principalSubmatrix(h, n, columns);
    let mean = 0;
    for (let i = 0; i < columns.length; i++) mean += hs[i * columns.length + i];
    const lambda = Math.max((RIDGE * mean) / columns.length, 1e-12);
    const b = new Float64Array(columns.length * rows.length);
    for (let i = 0; i < columns.length; i++) {
      const hrow = columns[i] * n;
      for (let r = 0; r < rows.length; r++) {
        let s = lambda * w[geometry.elementIndex(0, rows[r], columns[i])];
        for (let j = 0; j < n; j++) s += h[hrow + j] * w[geometry.elementIndex(0, rows[r], j)];
        b[i * rows.length + r] = s;
      }
    }
    for (let i = 0; i < columns.length; i++) hs[i * columns.length + i] += lambda;
    const z = await solveSpd(hs, columns.length, b, rows.length, { engine });
    const out = new Float32Array(elementCount(stored.dims));
    for (let r = 0; r < rows.length; r++) {
      for (let i = 0; i < columns.length; i++) {
        out[after.elementIndex(0, r, i)] = z[i * rows.length + r];
      }
    }
    const fresh = makeTensor(stored.name, DataType.FLOAT, stored.dims, new Uint8Array(out.buffer));
    edit.setInitializer({ ...fresh, extra: stored.extra, docString: stored.docString });
    refitted.push(layer);
  }
  return withGraph(pruned, edit.build());
}
