/**
 * Per-layer plans chosen by measured effect (measuredEffect.ts):
 *
 * - widths: per layer one of the measured widths (8/6/5/4/3/2) or keep-float, with the model's
 *   weight bytes within a budget (a device's flash, or `--fit-weight-bytes N`) and the least
 *   summed effect: fitPlan.ts does the search (groups by stored weight, bytes as the analysis
 *   counts them: k bits per element plus scales);
 * - sparsity: per layer one of 0 and the measured sparsities, with Σ pruned_l ≥ Σ round(S·n_l)
 *   over the measured (prunable) weights, i.e. an overall sparsity S, and the least summed
 *   effect. Stated as a budget on the weights kept (Σ kept_l ≤ N − Σ round(S·n_l)) it is the same
 *   multiple-choice knapsack as the widths' (knapsack.ts). The bound is what uniform pruning at S
 *   reaches, so the uniform plan is always feasible when S was measured, and the measured plan
 *   never predicts worse than it.
 *
 * Both assume the effects of layers changed together add up (measuredEffect.ts says why that
 * holds to first order); a plan's prediction is that sum, which the caller then checks by a real
 * run of the whole plan (verifyModels on the evaluation part).
 */
import type { DeviceProfile } from '../devices';
import type { LoadedModel } from '../onnx/load';
import { CompressionRefusal } from '../compress/summary';
import { planBitsForDevice, type FitPlan } from './fitPlan';
import { leastErrorWithin } from './knapsack';
import type { Effect, EffectTable, LayerEffects } from './measuredEffect';

/** What a plan's summed effects predict for the whole model. */
export interface PlanPrediction {
  /** Σ effect (the objective: KL in nats, or noise power / signal). */
  readonly effect: number;
  /** Σ accuracy change, with labels (negative: worse). */
  readonly accuracyDelta?: number;
  /** 1 − Σ (1 − agreement): each layer's disagreements counted as if they never overlapped. */
  readonly agreement: number;
}

/** The prediction of one setting per stored weight (undefined: left as it is). */
export function predict(
  table: EffectTable,
  effectOf: (unit: LayerEffects) => Effect | undefined,
): PlanPrediction {
  let effect = 0;
  let accuracy = 0;
  let disagreement = 0;
  for (const unit of table.layers) {
    const e = effectOf(unit);
    if (!e) continue;
    effect += e.value;
    accuracy += e.accuracyDelta ?? 0;
    disagreement += 1 - e.agreement;
  }
  return {
    effect,
    ...(table.referenceAccuracy !== undefined ? { accuracyDelta: accuracy } : {}),
    agreement: Math.max(0, 1 - disagreement),
  };
}

// --- Widths ------------------------------------------------------------------------------------

/** The widths a budget plan chooses from besides keep-float (as measured, issue 11.5). */
const BUDGET_WIDTHS = [2, 3, 4, 5, 6, 8];

/**
 * A stand-in device for a plain weight budget (`--fit-weight-bytes N`): every measured width
 * and float32, flash N, no RAM limit (a weight plan can't change activations anyway).
 */
export function budgetDevice(bytes: number): DeviceProfile {
  return {
    id: 'budget',
    name: `a weight budget of ${bytes.toLocaleString('en-US')} bytes`,
    ramBytes: Infinity,
    flashBytes: bytes,
    macsPerSecond: {},
    supportedWeightBits: [...BUDGET_WIDTHS, 32],
    supportedActivationBits: [8, 32],
    source: '--fit-weight-bytes',
  };
}

export interface WidthPlan {
  readonly fit: FitPlan;
  readonly predicted: PlanPrediction;
}

/** Widths per layer under the device's flash, least summed measured effect (fitPlan.ts). */
export function planWidths(
  loaded: LoadedModel,
  table: EffectTable,
  device: DeviceProfile,
): WidthPlan {
  const fit = planBitsForDevice(loaded, { device, effects: table });
  const predicted = predict(table, (u) => {
    const bits = fit.bitsPerLayer.get(u.layer);
    return bits === undefined ? undefined : u.bits[bits];
  });
  return { fit, predicted };
}

// --- Sparsity ----------------------------------------------------------------------------------

export interface SparsityChoice {
  readonly layer: string;
  readonly layers: readonly string[];
  readonly elements: number;
  /** 0: left dense. */
  readonly sparsity: number;
  /** Weights it zeroes: round(sparsity · elements), as the pruners count. */
  readonly pruned: number;
  /** The measured effect of that sparsity alone (undefined at 0). */
  readonly effect?: Effect;
}

export interface SparsityPlan {
  readonly target: number;
  /** One entry per measured weight, in graph order. */
  readonly choices: readonly SparsityChoice[];
  /** First layer of each weight → its sparsity (0 included), for pruneCalibrated. */
  readonly perLayer: Map<string, number>;
  /** Σ elements of the measured weights (the prunable weights). */
  readonly prunable: number;
  /** Σ pruned / prunable. */
  readonly achieved: number;
  readonly predicted: PlanPrediction;
  /** What every layer at `target` would predict, when that sparsity was measured. */
  readonly uniform?: PlanPrediction;
  /** Weights not measured (skipped), left dense and outside `prunable`. */
  readonly notes: string[];
}

/** round(s·n), as pruneUnstructured and SparseGPT count the weights they zero. */
function prunedCount(sparsity: number, elements: number): number {
  return Math.round(sparsity * elements);
}

/**
 * Per-layer sparsities from the measured ones reaching an overall `target` with the least
 * summed effect; refused when the target is above every measured sparsity's reach.
 */
export function planSparsity(table: EffectTable, target: number): SparsityPlan {
  if (!(target > 0 && target < 1)) {
    throw new CompressionRefusal(`sparsity ${target} is out of range (0 to 1, exclusive)`);
  }
  const notes: string[] = [];
  const units = table.layers.filter((u) => {
    if (u.skipped || Object.keys(u.sparsity).length === 0) {
      notes.push(`${u.layer}: ${u.skipped ?? 'no sparsity measured'}; left dense`);
      return false;
    }
    return true;
  });
  if (units.length === 0) throw new CompressionRefusal('no layer has measured sparsities');
  const levels = units.map((u) => [
    { sparsity: 0, effect: undefined as Effect | undefined },
    ...Object.entries(u.sparsity)
      .map(([s, effect]) => ({ sparsity: Number(s), effect }))
      .sort((a, b) => a.sparsity - b.sparsity),
  ]);
  const prunable = units.reduce((n, u) => n + u.elements, 0);
  const required = units.reduce((n, u) => n + prunedCount(target, u.elements), 0);
  const options = units.map((u, i) =>
    levels[i].map((l) => ({
      cost: u.elements - prunedCount(l.sparsity, u.elements),
      error: l.effect?.value ?? 0,
    })),
  );
  const choice = leastErrorWithin(options, prunable - required);
  if (!choice) {
    const most = Math.max(...levels.flat().map((l) => l.sparsity));
    throw new CompressionRefusal(
      `an overall sparsity of ${pct(target)} needs more than the highest measured sparsity (${pct(most)}) allows`,
    );
  }
  const choices: SparsityChoice[] = units.map((u, i) => {
    const l = levels[i][choice[i]];
    return {
      layer: u.layer,
      layers: u.layers,
      elements: u.elements,
      sparsity: l.sparsity,
      pruned: prunedCount(l.sparsity, u.elements),
      ...(l.effect ? { effect: l.effect } : {}),
    };
  });
  const bySource = new Map(choices.map((c) => [c.layer, c]));
  const predicted = predict(table, (u) => bySource.get(u.layer)?.effect);
  const uniformMeasured = units.every((u) => u.sparsity[target] !== undefined);
  return {
    target,
    choices,
    perLayer: new Map(choices.map((c) => [c.layer, c.sparsity])),
    prunable,
    achieved: choices.reduce((n, c) => n + c.pruned, 0) / prunable,
    predicted,
    ...(uniformMeasured
      ? { uniform: predict(table, (u) => (bySource.has(u.layer) ? u.sparsity[target] : undefined)) }
      : {}),
    notes,
  };
}

/**
 * What the measured plan predicts at each sparsity of a quick pick (undefined where the target
 * can't be reached from the measured sparsities).
 */
export function sparsityForecast(
  table: EffectTable,
  targets: readonly number[],
): Map<number, PlanPrediction | undefined> {
  const out = new Map<number, PlanPrediction | undefined>();
  for (const t of targets) {
    try {
      out.set(t, planSparsity(table, t).predicted);
    } catch (e) {
      if (!(e instanceof CompressionRefusal)) throw e;
      out.set(t, undefined);
    }
  }
  return out;
}

function pct(v: number): string {
  return `${Math.round(v * 1000) / 10}%`;
}
