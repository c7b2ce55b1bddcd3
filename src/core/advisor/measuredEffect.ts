/**
 * Per-layer sensitivity measured on data (issue 11 part 5, issue 12 part 4): for each layer and
 * each candidate setting (a weight width, a sparsity), the model runs in ONNX Runtime with only
 * that layer changed, exactly as the compression would change it, on the calibration samples,
 * and the change of the model's behaviour is its effect. The planners (effectPlan.ts) choose
 * per-layer settings from these numbers; sensitivity.ts is the older, random-input SQNR table
 * that the hover showed first.
 *
 * The effect. For a classifier (labels given, or a first output of one row of class scores per
 * sample) it is the mean KL divergence from the float model's class distribution
 * (verify/divergence.ts), in nats; the top-1 agreement with the float model and, with labels, the
 * accuracy change are measured alongside and reported, but they do not drive the choice. On a
 * few dozen samples one layer's accuracy change is a multiple of 1/samples and mostly zero or
 * one sample either way: ties and noise, no ranking. The KL moves with every sample's scores, is
 * what distillation minimises, and to first order adds up over layers (below), so it is the
 * objective; the accuracy is what the verification then reports. For other models (a feature
 * map, boxes, an embedding of rank > 2) it is the output noise power relative to the signal,
 * Σ(y − ŷ)² / Σ y² over all outputs, the quantity fitPlan.ts adds up from SQNRs.
 *
 * Additivity. Both effects are, for small changes, quadratic forms in the output change (KL ≈
 * ½ δᵀFδ with F the Fisher information of the softmax; the noise power is ‖δ‖²), and the output
 * changes caused by different layers are nearly uncorrelated (different weights, independent
 * rounding or pruning errors), so the cross terms average out and the effect of several layers
 * changed together is about the sum of their effects alone. Large changes interact (errors
 * compound through the layers after), which is why every plan is verified by a real run.
 *
 * What is measured is what the compression does: with calibration samples, weights rounded by
 * GPTQ and pruned by SparseGPT from the float model's layer inputs (calibrated/), which is
 * exactly what quantizeCalibrated and pruneCalibrated apply per layer (both take every layer's
 * H from the float model, so a layer's result does not depend on the others'); without, nearest
 * rounding and magnitude pruning.
 *
 * Cost. One reference run over the samples; then per layer one ONNX Runtime session with that
 * layer's weight turned into a graph input, and per candidate one run per sample fed with the
 * candidate weight, of only the layers from that one on (layerRunner.ts). The samples are
 * bounded (DEFAULT_EFFECT_SAMPLES): the cost is layers × candidates × samples runs of a suffix.
 */
import * as fs from 'node:fs';
import { buildGraphView } from '../graph/graph';
import { encodeModel } from '../onnx/encode';
import { ExternalData } from '../onnx/externalData';
import type { LoadedModel } from '../onnx/load';
import { opsetVersions } from '../onnx/opsets';
import { inlineExternalData } from '../onnx/relocate';
import { DataType, type Tensor } from '../onnx/types';
import { inferShapes } from '../shapes/infer';
import { planQuantization, type WeightPlan } from '../compress/quantize';
import { dequantizeWeight, quantizeTensor } from '../compress/quantizeMath';
import { planTargets, readFloats, type PruneTarget } from '../compress/prunedWeights';
import { zeroSmallest } from '../compress/pruneUnstructured';
import { CompressionRefusal } from '../compress/summary';
import { roundWeight } from '../calibrated/calibratedQuantize';
import { sparseGptWeight } from '../calibrated/calibratedPrune';
import { collectHessians, type LayerHessian } from '../calibrated/hessians';
import { FactorCache } from '../calibrated/gptq';
import { layerGeometry, type LayerGeometry } from '../calibrated/layerGeometry';
import { withOrtMatMul } from '../numerics/matmulEngine';
import type { MatMul } from '../numerics/linalg';
import { splitSamples } from '../data/split';
import {
  argmaxRows,
  ErrorAccumulator,
  ModelRunner,
  type InputSet,
  type OutputTensor,
} from '../verify';
import { KlAccumulator, rowKind, type RowKind } from '../verify/divergence';
import { LayerRunner } from './layerRunner';
import { VerifyError } from '../verify/npy';

/** The widths the plans choose from (issue 11.5); keep-float is the planner's own option. */
export const EFFECT_BITS: readonly number[] = [8, 6, 5, 4, 3, 2];
/** The sparsities the plans choose from (issue 12.4), besides 0 (left dense). */
export const EFFECT_SPARSITIES: readonly number[] = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
/**
 * Samples an effect is measured on. Cost is linear in it (resnet18: ~20 ms a run, 21 layers);
 * 32 rows of class scores already rank layers by KL consistently (fmnist_vgg: the same plan
 * from 32 and 64 samples), where accuracy on them could not.
 */
export const DEFAULT_EFFECT_SAMPLES = 32;

export type EffectMetric = 'kl' | 'noise';
export type EffectRounding = 'gptq' | 'nearest';
export type EffectPruning = 'sparsegpt' | 'magnitude';

export interface EffectOptions {
  /** The calibration samples; the effect is measured on up to `samples` of them. */
  sets: readonly InputSet[];
  /** Class labels, one per row of the first output over `sets` (one per sample at batch 1). */
  labels?: readonly number[];
  /** Samples measured (default DEFAULT_EFFECT_SAMPLES): a seeded, label-stratified subset. */
  samples?: number;
  /**
   * Samples whose layer inputs give GPTQ and SparseGPT their H; default those of `sets` not
   * measured on (measuredSubset says why).
   */
  hessianSets?: readonly InputSet[];
  /** Widths to measure (default none). */
  bits?: readonly number[];
  /** Sparsities to measure (default none), each in (0, 1). */
  sparsities?: readonly number[];
  /** Default 'nearest'; 'gptq' needs real samples to mean anything. */
  rounding?: EffectRounding;
  /** Default 'magnitude'. */
  pruning?: EffectPruning;
  /** Node names; default every Conv/ConvTranspose/Gemm/MatMul with a float32 constant weight. */
  layers?: readonly string[];
  /** Default true. */
  perChannel?: boolean;
  /** Seed of the subset choice (default 0). */
  seed?: number;
  /** Whole shapes for inputs with symbolic dims, for the Hessian pass. */
  inputShapes?: ReadonlyMap<string, readonly number[]>;
  /** After each layer × candidate. */
  onProgress?: (done: number, total: number, what: string) => void;
  signal?: AbortSignal;
}

/** What one candidate did to the model, on the measured samples. */
export interface Effect {
  /** The planners' objective: mean KL in nats ('kl'), or output noise power / signal ('noise'). */
  readonly value: number;
  /** Fraction of rows whose top-1 class is the float model's. */
  readonly agreement: number;
  /** With labels: accuracy with the change minus the float model's (negative: worse). */
  readonly accuracyDelta?: number;
}

/** One stored weight (the layers that share it change together). */
export interface LayerEffects {
  /** The first layer reading the weight (the key the plans use). */
  readonly layer: string;
  /** Every layer reading it. */
  readonly layers: readonly string[];
  /** The stored weight's name. */
  readonly source: string;
  /** Its elements (the n of a sparsity plan). */
  readonly elements: number;
  /** Width → effect. */
  bits: Record<number, Effect>;
  /** Sparsity → effect. */
  sparsity: Record<number, Effect>;
  /** Why it was not measured; then both records are empty. */
  skipped?: string;
  /** How its candidates were made, where that differs from the table's (a shared weight: nearest). */
  note?: string;
}

export interface EffectTable {
  readonly metric: EffectMetric;
  /** What the rows of the first output were taken as ('kl' only). */
  readonly rows?: RowKind;
  readonly samples: number;
  /**
   * Samples H came from (GPTQ, SparseGPT; 0 when neither ran), and whether they are apart from
   * the measured ones.
   */
  readonly hessianSamples: number;
  readonly hessianApart: boolean;
  /** The float model's accuracy on the measured samples, with labels. */
  readonly referenceAccuracy?: number;
  readonly rounding: EffectRounding;
  readonly pruning: EffectPruning;
  readonly layers: LayerEffects[];
  /** Wall time of the measurement, Hessians included. */
  readonly seconds: number;
}

/** What identifies the measurement's inputs, for a cache (the server keeps tables per file). */
export interface EffectStamp {
  /** The model file's path, size and mtime. */
  readonly model: string;
  /** The data folder's path and the newest mtime in it, or 'random'. */
  readonly data: string;
}

/** A cache key for measureEffects' result: the stamp plus the options that change the numbers. */
export function effectCacheKey(stamp: EffectStamp, options: Partial<EffectOptions>): string {
  return JSON.stringify({
    ...stamp,
    samples: options.samples ?? DEFAULT_EFFECT_SAMPLES,
    bits: [...(options.bits ?? [])],
    sparsities: [...(options.sparsities ?? [])],
    rounding: options.rounding ?? 'nearest',
    pruning: options.pruning ?? 'magnitude',
    layers: options.layers ? [...options.layers] : null,
    perChannel: options.perChannel ?? true,
    seed: options.seed ?? 0,
    inputShapes: options.inputShapes ? [...options.inputShapes] : null,
  });
}

/** A folder's stamp for effectCacheKey: its path and the newest mtime among it and its entries. */
export function folderStamp(dir: string): string {
  let newest = 0;
  const visit = (d: string, depth: number): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = `${d}/${e.name}`;
      newest = Math.max(newest, fs.statSync(full).mtimeMs);
      if (e.isDirectory() && depth < 2) visit(full, depth + 1);
    }
  };
  try {
    newest = fs.statSync(dir).mtimeMs;
    visit(dir, 0);
  } catch {
    return `${dir}\0missing`;
  }
  return `${dir}\0${newest}`;
}

function abortError(): Error {
  return new DOMException('effect measurement cancelled', 'AbortError');
}

/** One stored weight to measure. */
interface Unit {
  readonly source: string;
  readonly tensor: Tensor;
  readonly layers: string[];
  /** For widths: its quantization plan, or why it has none. */
  readonly plan?: WeightPlan;
  /** For sparsities. */
  readonly target?: PruneTarget;
  /** Single-layer weights of a known kind: what GPTQ and SparseGPT need. */
  readonly geometry?: LayerGeometry;
  skipped?: string;
}

export async function measureEffects(
  loaded: LoadedModel,
  options: EffectOptions,
): Promise<EffectTable> {
  const started = performance.now();
  const { signal } = options;
  if (signal?.aborted) throw abortError();
  const bits = [...(options.bits ?? [])];
  const sparsities = [...(options.sparsities ?? [])];
  for (const b of bits) {
    if (!Number.isInteger(b) || b < 2 || b > 8) throw new RangeError(`width ${b}: give 2 … 8`);
  }
  for (const s of sparsities) {
    if (!(s > 0 && s < 1)) throw new RangeError(`sparsity ${s}: give a fraction in (0, 1)`);
  }
  const rounding = options.rounding ?? 'nearest';
  const pruning = options.pruning ?? 'magnitude';
  const usesHessians =
    (rounding === 'gptq' && bits.length > 0) || (pruning === 'sparsegpt' && sparsities.length > 0);
  const { sets, labels, hessianSets } = measuredSubset(options, usesHessians);
  if (sets.length === 0) throw new RangeError('no samples to measure on');
  const ext = loaded.external ?? new ExternalData(undefined);
  const units = weightUnits(loaded, options, bits.length > 0, sparsities.length > 0, ext);

  const reference = await runReference(loaded, sets, signal);
  const first = Object.keys(reference[0])[0];
  const firstDims = reference[0][first].dims;
  const classes = firstDims.length === 0 ? 1 : firstDims[firstDims.length - 1];
  const metric: EffectMetric =
    classes >= 2 && (labels !== undefined || firstDims.length <= 2) ? 'kl' : 'noise';
  const rows = metric === 'kl' ? rowKind(reference[0][first].data, firstDims) : undefined;
  const refTop1 = reference.flatMap((r) => [...argmaxRows(r[first].data, r[first].dims)]);
  if (labels && labels.length !== refTop1.length) {
    throw new VerifyError(
      `${labels.length} labels for ${refTop1.length} rows of output '${first}' (one label per row)`,
    );
  }
  const accuracy = (top1: readonly number[]): number =>
    labels ? top1.filter((p, i) => p === labels[i]).length / top1.length : NaN;
  const referenceAccuracy = labels ? accuracy(refTop1) : undefined;

  // H for the units GPTQ or SparseGPT will treat, from the float model, in one pass.
  const wantsH = (u: Unit): boolean =>
    !u.skipped &&
    u.geometry !== undefined &&
    ((rounding === 'gptq' && u.plan !== undefined && bits.length > 0) ||
      (pruning === 'sparsegpt' && u.target !== undefined && sparsities.length > 0));
  const hTargets = units.filter(wantsH).map((u) => ({ layer: u.layers[0], geometry: u.geometry! }));
  const hessians =
    hTargets.length > 0
      ? await collectHessians(loaded, hTargets, {
          inputs: options.hessianSets ?? hessianSets,
          inputShapes: options.inputShapes,
          signal,
        })
      : new Map<string, LayerHessian>();

  const candidates = (u: Unit): ({ bits: number } | { sparsity: number })[] => [
    ...(u.plan ? bits.map((b) => ({ bits: b })) : []),
    ...(u.target ? sparsities.map((s) => ({ sparsity: s })) : []),
  ];
  const total = units.reduce((n, u) => n + Math.max(1, candidates(u).length), 0);
  let done = 0;
  const results: LayerEffects[] = [];
  await withOrtMatMul(async (engine) => {
    for (const unit of units) {
      const entry: LayerEffects = {
        layer: unit.layers[0],
        layers: unit.layers,
        source: unit.source,
        elements: unit.tensor.dims.reduce((a, b) => a * b, 1),
        bits: {},
        sparsity: {},
      };
      results.push(entry);
      const list = candidates(unit);
      if (unit.skipped || list.length === 0) {
        entry.skipped = unit.skipped ?? 'no candidate applies to it';
        options.onProgress?.((done += Math.max(1, list.length)), total, entry.layer);
        continue;
      }
      const hessian = hessians.get(unit.layers[0]);
      // One factorisation of H per layer for all its candidates (gptq.ts FactorCache).
      const factors = new FactorCache();
      const notes = new Set<string>();
      const runner = await LayerRunner.create(loaded, unit, sets, signal);
      try {
        for (const c of list) {
          if (signal?.aborted) throw abortError();
          const weights =
            'bits' in c
              ? await quantizedValues(
                  unit,
                  c.bits,
                  rounding,
                  hessian,
                  ext,
                  { engine, factors },
                  notes,
                )
              : await prunedValues(
                  unit,
                  c.sparsity,
                  pruning,
                  hessian,
                  ext,
                  { engine, factors },
                  notes,
                );
          const kl = rows ? new KlAccumulator(rows) : undefined;
          const noise = new ErrorAccumulator();
          const top1: number[] = [];
          for (let i = 0; i < sets.length; i++) {
            if (signal?.aborted) throw abortError();
            const out = await runner.run(i, weights);
            const ref = reference[i];
            if (kl) kl.add(ref[first].data, out[first].data, ref[first].dims);
            else for (const name of Object.keys(ref)) noise.add(ref[name].data, out[name].data);
            top1.push(...argmaxRows(out[first].data, out[first].dims));
          }
          const effect: Effect = {
            value: kl ? kl.mean : noiseFraction(noise.sqnrDb),
            agreement: top1.filter((p, i) => p === refTop1[i]).length / top1.length,
            ...(labels ? { accuracyDelta: accuracy(top1) - referenceAccuracy! } : {}),
          };
          if ('bits' in c) entry.bits[c.bits] = effect;
          else entry.sparsity[c.sparsity] = effect;
          options.onProgress?.(++done, total, entry.layer);
        }
      } catch (e) {
        if (!(e instanceof CompressionRefusal)) throw e;
        entry.bits = {};
        entry.sparsity = {};
        entry.skipped = e.message;
      } finally {
        await runner.release();
        // H is a columns² matrix of float64 (170 MB for a 512×3×3 conv): drop it once used.
        hessians.delete(unit.layers[0]);
      }
      if (notes.size > 0) entry.note = [...notes].join('; ');
    }
  });
  return {
    metric,
    ...(rows ? { rows } : {}),
    samples: sets.length,
    hessianSamples: usesHessians ? (options.hessianSets ?? hessianSets).length : 0,
    hessianApart:
      usesHessians && !(options.hessianSets ?? hessianSets).some((h) => sets.includes(h)),
    ...(referenceAccuracy !== undefined ? { referenceAccuracy } : {}),
    rounding,
    pruning,
    layers: results,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Noise power over signal for an SQNR in dB (0 when identical, NaN stays NaN). */
function noiseFraction(db: number): number {
  return db === Infinity ? 0 : 10 ** (-db / 10);
}

/**
 * Fewest samples the layer inputs (H) of a measurement come from when they are kept apart from
 * the measured samples; below twice this, the two share all samples.
 */
export const MIN_HESSIAN_SAMPLES = 8;

/**
 * The samples effects are measured on, and those GPTQ/SparseGPT take H from while measuring.
 * They are kept apart: a compensation fitted to the very samples it is judged on flatters it (a
 * Gemm sees one input row per sample, so with fewer samples than inputs H has rank below its
 * size and GPTQ or SparseGPT can match those samples almost exactly: on fmnist_vgg's 3,136-input
 * Gemm at 60% sparsity, KL 3e-5 on its own 32 samples against 1.4e-3 on unseen ones). So at most
 * half the samples are measured, up to `samples`, a seeded subset stratified by label
 * (splitSamples) so that a folder sorted by class gives every class its share; H comes from the
 * others. The plan itself is then applied with H from every sample, so the measurement is if
 * anything pessimistic. With fewer than 2·MIN_HESSIAN_SAMPLES samples, all serve both. Labels
 * that are not one per set (batched samples) can't follow a subset: the first sets are taken and
 * measured without labels.
 */
export function measuredSubset(
  options: Pick<EffectOptions, 'sets' | 'labels' | 'samples' | 'seed'>,
  /** Whether H is needed at all (GPTQ, SparseGPT): without, every sample may be measured. */
  usesHessians = true,
): {
  sets: readonly InputSet[];
  labels?: readonly number[];
  /** The samples H comes from while measuring. */
  hessianSets: readonly InputSet[];
} {
  const limit = options.samples ?? DEFAULT_EFFECT_SAMPLES;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`samples must be a positive integer, not ${limit}`);
  }
  const { sets, labels } = options;
  const apart = usesHessians && sets.length >= 2 * MIN_HESSIAN_SAMPLES;
  const count = apart ? Math.min(limit, Math.floor(sets.length / 2)) : Math.min(limit, sets.length);
  if (!apart && count === sets.length) {
    return { sets, ...(labels ? { labels } : {}), hessianSets: sets };
  }
  if (labels && labels.length !== sets.length) {
    return { sets: sets.slice(0, count), hessianSets: apart ? sets.slice(count) : sets };
  }
  const { calibration, evaluation } = splitSamples(sets.length, {
    calibration: count,
    seed: options.seed,
    ...(labels ? { labels } : {}),
  });
  return {
    sets: calibration.map((i) => sets[i]),
    ...(labels ? { labels: calibration.map((i) => labels[i]) } : {}),
    hessianSets: apart ? evaluation.map((i) => sets[i]) : sets,
  };
}

/** The stored weights to measure, in graph order, each with what it can take. */
function weightUnits(
  loaded: LoadedModel,
  options: EffectOptions,
  widths: boolean,
  sparsities: boolean,
  ext: ExternalData,
): Unit[] {
  const model = loaded.model;
  const units = new Map<string, Unit>();
  const unit = (source: string, tensor: Tensor, layers: string[]): Unit => {
    let u = units.get(source);
    if (!u) units.set(source, (u = { source, tensor, layers }));
    return u;
  };
  if (widths) {
    let plans: WeightPlan[] = [];
    try {
      plans = planQuantization(
        model,
        { bits: 8, perChannel: options.perChannel ?? true, layers: options.layers },
        ext,
      ).plans;
    } catch (e) {
      if (!(e instanceof CompressionRefusal)) throw e;
      if (options.layers) throw e;
    }
    for (const plan of plans) {
      const u = unit(plan.source, plan.tensor, plan.layers);
      Object.assign(u, { plan });
      if (plan.layers.length === 1) {
        Object.assign(u, { geometry: layerGeometry(plan.node, plan.tensor.dims) });
      }
    }
  }
  if (sparsities) {
    const view = buildGraphView(model.graph);
    const shapes = inferShapes(view, { opsets: opsetVersions(model), external: ext });
    for (const target of planTargets(view, shapes, options.layers)) {
      const u = unit(target.source, target.tensor, target.layers);
      Object.assign(u, { target });
      if (target.nodes.length === 1 && !u.geometry) {
        Object.assign(u, { geometry: layerGeometry(target.nodes[0], target.tensor.dims) });
      }
    }
  }
  // By first reader: a Constant's output, or an initializer, read through Identity chains or not.
  const order = new Map<string, number>();
  buildGraphView(model.graph).order.forEach((n, i) => {
    for (const x of n.inputs) if (!order.has(x)) order.set(x, i);
  });
  for (const u of units.values()) {
    if (u.tensor.dataType !== DataType.FLOAT) {
      u.skipped = 'only float32 weights are measured (this one is stored as another float type)';
    }
  }
  return [...units.values()].sort(
    (a, b) => (order.get(a.source) ?? Infinity) - (order.get(b.source) ?? Infinity),
  );
}

async function runReference(
  loaded: LoadedModel,
  sets: readonly InputSet[],
  signal?: AbortSignal,
): Promise<Record<string, OutputTensor>[]> {
  const model = loaded.model.graph.initializers.some((t) => t.external)
    ? inlineExternalData(loaded.model, loaded.external!)
    : loaded.model;
  const runner = await ModelRunner.create(loaded.path ?? encodeModel(model), 'original model');
  try {
    const out: Record<string, OutputTensor>[] = [];
    for (const set of sets) {
      if (signal?.aborted) throw abortError();
      out.push(await runner.run(set));
    }
    return out;
  } finally {
    await runner.release();
  }
}

interface Engines {
  readonly engine: MatMul;
  readonly factors: FactorCache;
}

/** The unit's weight at `bits`, as the quantized model's DequantizeLinear gives it. */
async function quantizedValues(
  unit: Unit,
  bits: number,
  rounding: EffectRounding,
  hessian: LayerHessian | undefined,
  ext: ExternalData,
  { engine, factors }: Engines,
  notes: Set<string>,
): Promise<Float32Array> {
  const base = unit.plan!;
  const plan: WeightPlan = { ...base, format: bits, scheme: { ...base.scheme, bits } };
  if (rounding === 'gptq' && hessian) {
    const q = await roundWeight(plan, hessian, ext, engine, factors);
    return dequantizeWeight(q, plan.tensor.dims);
  }
  if (rounding === 'gptq')
    notes.add('nearest rounding (GPTQ needs a single layer of a known kind)');
  return dequantizeWeight(
    quantizeTensor(plan.tensor, ext, plan.scheme, plan.axis),
    plan.tensor.dims,
  );
}

/** The unit's weight pruned to `sparsity`, as the pruners write it. */
async function prunedValues(
  unit: Unit,
  sparsity: number,
  pruning: EffectPruning,
  hessian: LayerHessian | undefined,
  ext: ExternalData,
  { engine, factors }: Engines,
  notes: Set<string>,
): Promise<Float32Array> {
  const values = readFloats(unit.tensor, ext);
  if (pruning === 'sparsegpt' && hessian && unit.geometry) {
    await sparseGptWeight(
      values,
      unit.geometry,
      hessian,
      { kind: 'fraction', sparsity },
      engine,
      factors,
    );
    return values;
  }
  if (pruning === 'sparsegpt') {
    notes.add('magnitude pruning (SparseGPT needs a single layer of a known kind)');
  }
  zeroSmallest([values], Math.round(sparsity * values.length));
  return values;
}
