/**
 * Measured effects in the editor (issue 11.5, 12.4): with `modelLens.dataFolder` set, Measure
 * Layer Sensitivity also measures each layer's effect on the folder's calibration part (KL of the
 * class distribution, accuracy with labels; advisor/measuredEffect.ts) at every planned width and
 * sparsity. Then:
 * - the hover shows the layer's bits → effect table (and sparsity → effect);
 * - "Prune every layer to a sparsity…" applies the per-layer plan of least measured effect, and
 *   its quick pick shows each choice's prediction; a single layer's pick shows the layer's own
 *   measured effect;
 * - "Fit the model to …" plans widths by measured effect (measuring them first when they are not
 *   yet, as it measures the random-input SQNR without a folder).
 * The same engine as the CLI's `compress --prune S --calibration DIR` and `--fit DEVICE`.
 *
 * The table belongs to one model state and one folder: a fix makes a new state (measured anew
 * when asked), and a table measured on another folder than the current setting is not used.
 * Tables are kept by file contents and folder, as sensitivity tables are (modelStore.ts), so a
 * file closed and opened again does not need measuring again.
 */
import { quantizeOptionsFor, planFormatsText } from '../core/advisor/fitPlan';
import {
  EFFECT_BITS,
  EFFECT_SPARSITIES,
  effectCacheKey,
  folderStamp,
  measureEffects,
  type EffectTable,
  type LayerEffects,
} from '../core/advisor/measuredEffect';
import {
  planSparsity,
  planWidths,
  sparsityForecast,
  type PlanPrediction,
} from '../core/advisor/effectPlan';
import { effectData, effectText, type EffectData } from '../core/advisor/effectRun';
import { pruneCalibrated } from '../core/calibrated/calibratedPrune';
import { quantizeCalibrated } from '../core/calibrated/calibratedQuantize';
import { CompressionRefusal, type CompressionResult } from '../core/compress/summary';
import { formatAgreement, formatPointChange } from '../core/verify/summary';
import { SPARSITIES } from '../shared/pruneChoices';
import type { Fix, PruneForecast } from '../shared/protocol';
import type { OpenModel } from './modelStore';
import type { FixEnvironment, FixOutcome } from './quickFixes';
import { shapeMap } from './quickFixes';

/** A state's measured effects, on the calibration part of `folder`. */
export interface MeasuredEffects {
  readonly folder: string;
  readonly table: EffectTable;
  readonly data: EffectData;
}

const byState = new WeakMap<OpenModel, MeasuredEffects>();
/** Tables by file contents, folder and options, for a file opened again (LRU, small). */
const byStamp = new Map<string, MeasuredEffects>();
const CACHE_SIZE = 8;

const OPTIONS = {
  bits: EFFECT_BITS,
  sparsities: EFFECT_SPARSITIES,
  rounding: 'gptq',
  pruning: 'sparsegpt',
} as const;

function cacheKey(state: OpenModel, folder: string): string | undefined {
  if (!state.stamp || state.fixes.length > 0) return undefined;
  return effectCacheKey(
    { model: state.stamp, data: folderStamp(folder) },
    { ...OPTIONS, inputShapes: shapeMap(state.inputShapes) },
  );
}

/** The state's effects on `folder`, if measured (on this state, or on the same file before). */
export function effectsFor(
  state: OpenModel,
  folder: string | undefined,
): MeasuredEffects | undefined {
  if (!folder) return undefined;
  const own = byState.get(state);
  if (own) return own.folder === folder ? own : undefined;
  const key = cacheKey(state, folder);
  const kept = key ? byStamp.get(key) : undefined;
  if (kept) byState.set(state, kept);
  return kept;
}

/** Measures (or finds) the state's effects on `folder`'s calibration part. */
export async function measureStateEffects(
  state: OpenModel,
  folder: string,
  env: Pick<FixEnvironment, 'progress' | 'signal'>,
): Promise<MeasuredEffects> {
  const known = effectsFor(state, folder);
  if (known) return known;
  if (!state.loaded) throw new CompressionRefusal(state.error ?? 'the model could not be read');
  const inputShapes = shapeMap(state.inputShapes);
  const data = effectData(state.loaded, { calibrationDir: folder, inputShapes });
  const table = await measureEffects(state.loaded, {
    ...OPTIONS,
    sets: data.calibration,
    labels: data.calibrationLabels,
    inputShapes,
    signal: env.signal,
    onProgress: (done, total, layer) =>
      env.progress?.(`measuring effects on your data: ${layer} (${done}/${total})`, done / total),
  });
  const measured = { folder, table, data };
  byState.set(state, measured);
  const key = cacheKey(state, folder);
  if (key) {
    byStamp.delete(key);
    byStamp.set(key, measured);
    for (const k of byStamp.keys()) {
      if (byStamp.size <= CACHE_SIZE) break;
      byStamp.delete(k);
    }
  }
  return measured;
}

// --- Fixes -------------------------------------------------------------------------------------

/**
 * The fix by measured plan, where effects on the current data folder are known: whole-model
 * pruning to a sparsity, and fit to device. Undefined otherwise (the ordinary fix applies).
 */
export async function measuredFix(
  state: OpenModel,
  fix: Fix,
  env: FixEnvironment & { readonly dataFolder?: string },
): Promise<FixOutcome | undefined> {
  let effects = effectsFor(state, env.dataFolder);
  const loaded = state.loaded;
  // Fit to device measures what it needs, as it measures random-input SQNR without a folder.
  if (!effects && fix.kind === 'fitToDevice' && env.device && env.dataFolder && loaded) {
    effects = await measureStateEffects(state, env.dataFolder, env);
  }
  if (!effects || !loaded) return undefined;
  const calibration = {
    sets: effects.data.calibration,
    inputShapes: shapeMap(state.inputShapes),
    signal: env.signal,
  };
  const { table } = effects;
  if (fix.kind === 'prune' && !fix.layers && !fix.nm && fix.sparsity !== undefined) {
    env.progress?.('planning per-layer sparsities', 0);
    const plan = planSparsity(table, fix.sparsity);
    const r = (await pruneCalibrated(
      loaded,
      { pattern: fix.sparsity, sparsityPerLayer: plan.perLayer },
      calibration,
    )) as CompressionResult;
    r.summary.operation = `prune unstructured ${pct(plan.achieved)} overall (per-layer plan)`;
    const shares = plan.choices
      .filter((c) => c.sparsity > 0)
      .map((c) => `${c.layer} ${pct(c.sparsity)}`)
      .join(', ');
    r.summary.notes.unshift(
      `per-layer sparsities chosen by ${effectWords(table)} measured on ${table.samples} samples of the data folder: ${shares}; predicted ${predictionText(plan.predicted, table)}`,
    );
    return {
      model: r.model,
      summaries: [r.summary],
      description: `prune to ${pct(plan.achieved)} overall by measured effect: ${shares}`,
    };
  }
  if (fix.kind === 'fitToDevice' && env.device) {
    const device = env.device;
    env.progress?.('planning bit-widths by measured effect', 0);
    const plan = planWidths(loaded, table, device);
    if (!plan.fit.fits) {
      throw new CompressionRefusal(
        `cannot fit ${device.name}: ${plan.fit.reason ?? 'no plan fits'}`,
      );
    }
    if (plan.fit.formatPerLayer.size === 0) {
      throw new CompressionRefusal(`the model already fits ${device.name}`);
    }
    const r = await quantizeCalibrated(loaded, quantizeOptionsFor(plan.fit), calibration);
    r.summary.notes.unshift(
      `widths chosen by ${effectWords(table)} measured on ${table.samples} samples of the data folder; predicted ${predictionText(plan.predicted, table)}`,
    );
    return {
      model: r.model,
      summaries: [r.summary],
      description: `fit to ${device.id} by measured effect: ${planFormatsText(plan.fit)}, predicted ${effectText(plan.predicted.effect, table.metric)}`,
    };
  }
  return undefined;
}

// --- Quick pick --------------------------------------------------------------------------------

/**
 * What each sparsity of the prune quick pick is predicted to do, when effects are known: the
 * whole model by its per-layer plan, one layer by its own measured effect.
 */
export function pruneForecast(
  state: OpenModel,
  folder: string | undefined,
  layers: readonly string[] | undefined,
): PruneForecast[] | undefined {
  const effects = effectsFor(state, folder);
  if (!effects) return undefined;
  const { table } = effects;
  if (!layers) {
    const forecast = sparsityForecast(table, SPARSITIES);
    return SPARSITIES.flatMap((s) => {
      const p = forecast.get(s);
      return p
        ? [{ sparsity: s, detail: `predicted ${predictionText(p, table)} (per-layer plan)` }]
        : [];
    });
  }
  if (layers.length !== 1) return undefined;
  const unit = unitOf(table, layers[0]);
  if (!unit) return undefined;
  return SPARSITIES.flatMap((s) => {
    const e = unit.sparsity[s];
    if (!e) return [];
    const p = {
      effect: e.value,
      agreement: e.agreement,
      ...(e.accuracyDelta !== undefined ? { accuracyDelta: e.accuracyDelta } : {}),
    };
    return [{ sparsity: s, detail: `measured ${predictionText(p, table)}` }];
  });
}

// --- Hover -------------------------------------------------------------------------------------

/** The measured weight a layer reads (the first layer of a shared weight stands for all). */
export function unitOf(table: EffectTable, layer: string): LayerEffects | undefined {
  return table.layers.find((u) => u.layers.includes(layer));
}

/** The hover's lines: widths → effect, then sparsities → effect, on the data folder. */
export function effectsMarkdown(effects: MeasuredEffects, layer: string): string[] {
  const { table } = effects;
  const unit = unitOf(table, layer);
  if (!unit) return [];
  const head = `**Measured effect** on ${table.samples} samples of your data folder (${effectWords(table)}, this layer alone${table.referenceAccuracy !== undefined ? '; accuracy change on the labelled samples' : ''}):`;
  if (unit.skipped) return [`${head} not measured (${escape(unit.skipped)})`];
  const rows = (
    label: string,
    entries: [string, { value: number; agreement: number; accuracyDelta?: number }][],
  ): string[] => {
    if (entries.length === 0) return [];
    const cells = (f: (e: (typeof entries)[number][1]) => string): string =>
      entries.map(([, e]) => f(e)).join(' | ');
    return [
      `| ${label} | ${entries.map(([k]) => k).join(' | ')} |`,
      `|---|${entries.map(() => '---:|').join('')}`,
      `| ${table.metric === 'kl' ? 'KL' : 'output SQNR'} | ${cells((e) => effectText(e.value, table.metric).replace(/^(KL|SQNR) /, ''))} |`,
      ...(table.referenceAccuracy !== undefined
        ? [`| accuracy | ${cells((e) => formatPointChange(e.accuracyDelta ?? NaN))} |`]
        : []),
      `| top-1 agreement | ${cells((e) => formatAgreement(e.agreement))} |`,
    ];
  };
  const bits = Object.entries(unit.bits)
    .sort((a, b) => Number(b[0]) - Number(a[0]))
    .map(([k, e]) => [`${k} b`, e] as [string, typeof e]);
  const sparsity = Object.entries(unit.sparsity)
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([k, e]) => [pct(Number(k)), e] as [string, typeof e]);
  const bitsRows = rows('bits', bits);
  const sparsityRows = rows('sparsity', sparsity);
  return [
    head,
    '',
    ...bitsRows,
    ...(bitsRows.length > 0 && sparsityRows.length > 0 ? [''] : []),
    ...sparsityRows,
  ];
}

// --- Text --------------------------------------------------------------------------------------

function effectWords(table: EffectTable): string {
  return table.metric === 'kl' ? 'the KL divergence of the class distribution' : 'output noise';
}

/** "KL 1.5e-3, top-1 agreement ≥ 99.0%, accuracy −0.3 pt". */
function predictionText(p: PlanPrediction, table: EffectTable): string {
  return [
    effectText(p.effect, table.metric),
    ...(p.accuracyDelta !== undefined && table.referenceAccuracy !== undefined
      ? [`accuracy ${formatPointChange(p.accuracyDelta)}`]
      : []),
    `top-1 agreement ≥ ${formatAgreement(p.agreement)}`,
  ].join(', ');
}

function pct(v: number): string {
  return `${Number((v * 100).toFixed(1))}%`;
}

function escape(text: string): string {
  return text.replace(/[\\`*_[\]<>|]/g, '\\$&');
}
