/**
 * Running a measured plan end to end (CLI `compress --fit…`, `--prune S --calibration DIR`): the
 * samples it is chosen on and judged on, and the judging itself.
 *
 * Samples. With a data folder, its calibration part gives the layers' input statistics (GPTQ,
 * SparseGPT) and, a bounded subset of it, the measured effects; its evaluation part judges the
 * plan (data/parts.ts says how a folder is split, and when it is too small to be). Without one,
 * seeded random inputs: the effects on DEFAULT_EFFECT_SAMPLES of them (the calibration seed), the
 * verification on as many others (the verifier's seed), which says how far the outputs move but
 * nothing about accuracy.
 *
 * Judging. The plan's prediction (the sum of its layers' effects, effectPlan.ts) is compared with
 * a real run of the whole plan on the evaluation part. (A run on the measured samples would not
 * isolate the additivity: the applied plan takes its layer inputs from every calibration sample,
 * those included, while the measurement kept them apart, measuredEffect.ts measuredSubset.)
 */
import type { LoadedModel } from '../onnx/load';
import { encodeModel } from '../onnx/encode';
import { inlineExternalData } from '../onnx/relocate';
import type { Model } from '../onnx/types';
import { calibrationSets, DEFAULT_CALIBRATION_SEED } from '../compress/calibrate';
import { readDataParts } from '../data/parts';
import { inputSpecs, verifyModels, type InputSet, type VerifyResult } from '../verify';
import { DEFAULT_EFFECT_SAMPLES, type EffectMetric } from './measuredEffect';

export interface EffectData {
  /** Calibration part: input statistics, and a subset of it for the effects. */
  readonly calibration: readonly InputSet[];
  /** One label per row of the first output over `calibration`, when the folder has them. */
  readonly calibrationLabels?: readonly number[];
  readonly evaluation: readonly InputSet[];
  readonly evaluationLabels?: readonly number[];
  readonly fromFolder: boolean;
  /** Random data: the evaluation part is the verifier's own random inputs (seed, count). */
  readonly randomEvaluation?: { readonly seed: number; readonly samples: number };
  readonly inputShapes?: ReadonlyMap<string, readonly number[]>;
  /** No sample is in both parts. */
  readonly disjoint: boolean;
  /** Where the parts come from, one sentence. */
  readonly note: string;
}

/** The verifier's seed for random inputs (verifyModels' default), other than calibration's. */
const RANDOM_EVALUATION_SEED = 0;

export function effectData(
  loaded: LoadedModel,
  options: {
    calibrationDir?: string;
    evaluationDir?: string;
    /** Only the first N calibration samples (`--calibration-samples`). */
    calibrationSamples?: number;
    inputShapes?: ReadonlyMap<string, readonly number[]>;
    seed?: number;
  },
): EffectData {
  const specs = inputSpecs(loaded, options.inputShapes);
  if (options.calibrationDir === undefined) {
    const n = DEFAULT_EFFECT_SAMPLES;
    const random = (seed: number): InputSet[] =>
      calibrationSets(specs, { samples: n, seed }).map((make) => make());
    return {
      calibration: random(DEFAULT_CALIBRATION_SEED),
      evaluation: random(RANDOM_EVALUATION_SEED),
      fromFolder: false,
      randomEvaluation: { seed: RANDOM_EVALUATION_SEED, samples: n },
      ...(options.inputShapes ? { inputShapes: options.inputShapes } : {}),
      disjoint: true,
      note: `no data folder: measured on ${n} seeded random inputs (seed ${DEFAULT_CALIBRATION_SEED}), verified on ${n} others (seed ${RANDOM_EVALUATION_SEED}); random inputs show how far the outputs move, not the accuracy`,
    };
  }
  const parts = readDataParts(options.calibrationDir, specs, {
    evaluationDir: options.evaluationDir,
    seed: options.seed,
  });
  const limit = options.calibrationSamples;
  const calibration = parts.calibration.sets.slice(0, limit);
  const labels = parts.calibration.labels;
  return {
    calibration,
    ...(labels && labels.length === parts.calibration.sets.length
      ? { calibrationLabels: labels.slice(0, limit) }
      : {}),
    evaluation: parts.evaluation.sets,
    ...(parts.evaluation.labels ? { evaluationLabels: parts.evaluation.labels } : {}),
    fromFolder: true,
    ...(options.inputShapes ? { inputShapes: options.inputShapes } : {}),
    disjoint: parts.disjoint,
    note:
      parts.note +
      (limit !== undefined && limit < parts.calibration.sets.length
        ? ` (calibration limited to the first ${limit})`
        : ''),
  };
}

/** The whole plan on the evaluation part (with labels: accuracy, McNemar; and the KL). */
export async function verifyPlan(
  original: LoadedModel,
  planned: Model,
  data: EffectData,
): Promise<VerifyResult> {
  const bytes = (model: Model): Uint8Array =>
    encodeModel(
      model.graph.initializers.some((t) => t.external) && original.external
        ? inlineExternalData(model, original.external)
        : model,
    );
  // Random data: the verifier makes the same inputs itself, and says they are random.
  const inputs = data.randomEvaluation
    ? { ...data.randomEvaluation, inputShapes: data.inputShapes }
    : {
        inputs: { sets: [...data.evaluation] },
        ...(data.evaluationLabels ? { labels: data.evaluationLabels } : {}),
      };
  return verifyModels(original.path ?? bytes(original.model), bytes(planned), {
    ...inputs,
    klDivergence: true,
    hostKernels: false,
  });
}

/** A verification's figure in the plan's terms: the KL, or the output noise power / signal. */
export function measuredEffectOf(r: VerifyResult, metric: EffectMetric): number {
  if (metric === 'kl') return r.klDivergence ?? NaN;
  return r.sqnrDb === Infinity ? 0 : 10 ** (-r.sqnrDb / 10);
}

/** "KL 3.1e-5" or "SQNR 41.2 dB" (noise power as the SQNR people read). */
export function effectText(value: number, metric: EffectMetric): string {
  if (metric === 'kl') return `KL ${formatSmall(value)}`;
  if (value === 0) return 'SQNR ∞';
  return `SQNR ${(-10 * Math.log10(value)).toFixed(1)} dB`;
}

/** A small non-negative number in two significant digits: 0, 0.012, 3.1e-5. */
export function formatSmall(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  return v >= 0.01 && v < 1000 ? String(Number(v.toPrecision(2))) : v.toExponential(1);
}
