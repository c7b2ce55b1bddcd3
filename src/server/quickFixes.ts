/**
 * Quick fixes: which compressions a layer line offers (code actions), and running one on a model
 * state. Every operation is the core engine's; this file only chooses what to offer, explains
 * why an action is unavailable, and turns engine summaries into lines a person reads.
 */
import type { InputSet } from '../core/verify';
import type { CodeAction, Diagnostic } from 'vscode-languageserver/node';
import type { NodeReport } from '../core/analyze';
import { measureSensitivity, type LayerSensitivity } from '../core/advisor/sensitivity';
import {
  fitGridsFor,
  planBitsForDevice,
  planFormatsText,
  quantizeOptionsFor,
} from '../core/advisor/fitPlan';
import { formatName, type GridFormat } from '../core/compress/weightFormat';
import { factorizationCandidates, factorizeLowRank } from '../core/compress/factorize';
import { foldablePairs, foldBatchNorm } from '../core/compress/foldBatchNorm';
import { pruneFilters } from '../core/compress/pruneStructured';
import { pruneUnstructured } from '../core/compress/pruneUnstructured';
import { pruneSemiStructured } from '../core/compress/pruneSemiStructured';
import { quantizeWeights } from '../core/compress/quantize';
import { convertFloat, type FloatFormat } from '../core/compress/convertFloat';
import { liftHalfWeights, withHalfWeightsLifted } from '../core/compress/halfWeights';
import { CompressionRefusal, type ChangeSummary } from '../core/compress/summary';
import { quantizeCalibrated } from '../core/calibrated/calibratedQuantize';
import { pruneCalibrated } from '../core/calibrated/calibratedPrune';
import { pruneFiltersCalibrated } from '../core/calibrated/filterPruning';
import type { HessianOptions } from '../core/calibrated/hessians';
import { WEIGHT_LAYER_OPS } from '../core/cost/weights';
import type { DeviceProfile } from '../core/devices';
import { formatBytes, formatCount, formatPercent } from '../core/format';
import { compressionBlocker } from '../core/modelFile';
import type { Model } from '../core/onnx/types';
import type { ApplyFixArgs, Fix, PruneForecast } from '../shared/protocol';
import type { OpenModel } from './modelStore';

/**
 * "Convert to fp16 / bf16": a whole-model quantize fix at 16 bits that names its float format
 * (convertFloat.ts), carried in the protocol's quantize fix.
 */
type FloatFix = Extract<Fix, { kind: 'quantize' }> & { readonly float?: FloatFormat };

/** The client command every fix action runs (it asks for a fraction when the fix needs one). */
export const APPLY_FIX_COMMAND = 'modelLens.applyFix';

/** The client command that shows why no fix is offered (its one argument is the message). */
export const EXPLAIN_COMMAND = 'modelLens.explain';

/**
 * An enabled action whose command only says why fixes are unavailable: VS Code's quick-fix menu
 * hides disabled actions, so without it the list would say nothing. It is the one action on a
 * model the engine can't rewrite (a TFLite file), and heads the disabled fixes of a file that
 * can't be saved over (which other LSP clients do list, with their reasons).
 */
function explainAction(title: string, reason: string): CodeAction {
  return {
    title,
    kind: 'quickfix',
    command: { title, command: EXPLAIN_COMMAND, arguments: [reason] },
  };
}

export interface ActionContext {
  readonly uri: string;
  /** Why the file can't be saved over (read-only), which disables every fix. */
  readonly saveBlocker?: string;
  /** Model Lens diagnostics on the requested range (fit errors get "Fit to device"). */
  readonly diagnostics: readonly Diagnostic[];
  /**
   * The prune quick pick's prediction per sparsity for these layers (all: undefined), when
   * effects were measured on the data folder (measuredEffects.ts).
   */
  readonly pruneForecast?: (layers: string[] | undefined) => readonly PruneForecast[] | undefined;
}

/** The code actions for a line: the layer's own fixes first, then model-wide ones. */
export function codeActionsFor(
  state: OpenModel,
  node: NodeReport | undefined,
  context: ActionContext,
): CodeAction[] {
  const report = state.report;
  if (!report || !state.loaded) return [];
  const blocked = compressionBlocker(state.loaded);
  if (blocked) {
    return [explainAction('Compression quick fixes are ONNX-only for now (why?)', blocked)];
  }
  const actions: CodeAction[] = context.saveBlocker
    ? [
        explainAction(
          'Quick fixes are unavailable: the model cannot be saved over (why?)',
          context.saveBlocker,
        ),
      ]
    : [];
  const add = (title: string, fix: Fix, why?: string, preferred = false): void => {
    const disabled = context.saveBlocker ?? why;
    const forecast = fix.kind === 'prune' ? context.pruneForecast?.(fix.layers) : undefined;
    const args: ApplyFixArgs = { uri: context.uri, fix, title, ...(forecast ? { forecast } : {}) };
    actions.push({
      title,
      kind: 'quickfix',
      ...(disabled
        ? { disabled: { reason: disabled } }
        : { command: { title, command: APPLY_FIX_COMMAND, arguments: [args] } }),
      ...(preferred && !disabled ? { isPreferred: true } : {}),
    });
  };

  if (node && (node.params > 0 || WEIGHT_LAYER_OPS.has(node.op))) {
    const name = node.name;
    const refusal = quantizeRefusal(node);
    const suggested = node.suggestedWeightBits;
    const mark = (bits: number): string => (suggested === bits ? ' (suggested)' : '');
    if (suggested !== null && suggested < 32 && suggested !== 8 && suggested !== 4) {
      add(
        `Quantize ${name} to ${suggested}-bit (suggested)`,
        { kind: 'quantize', layers: [name], bits: 'suggested' },
        refusal,
        true,
      );
    }
    add(
      `Quantize ${name} to int8${mark(8)}`,
      { kind: 'quantize', layers: [name], bits: 8 },
      refusal,
      suggested === 8,
    );
    add(
      `Quantize ${name} to int4${mark(4)}`,
      { kind: 'quantize', layers: [name], bits: 4 },
      refusal,
      suggested === 4,
    );
    if (!refusal) {
      add(`Prune ${name} to a sparsity…`, { kind: 'prune', layers: [name] });
    }
    if (node.op === 'Conv' && isFloatWeight(node.weightBits)) {
      add(`Remove a fraction of ${name}'s filters…`, { kind: 'removeFilters', layers: [name] });
    }
    const factor = factorizationFor(state, name);
    if (factor) {
      add(
        `Factorize ${name} at rank ${factor.rank} (${formatCount(factor.before)} → ${formatCount(factor.after)} parameters)`,
        { kind: 'factorize', layer: name, rank: factor.rank },
      );
    }
  }
  const pair = node && foldPairFor(state, node);
  if (pair) {
    add(`Fold ${pair.bn} into ${pair.conv}`, { kind: 'foldBatchNorm', layers: [pair.bn] });
    add('Fold every BatchNormalization into its Conv', { kind: 'foldBatchNorm' });
  }

  const floatLayers = report.nodes.filter(
    (n) => isFloatWeight(n.weightBits) && WEIGHT_LAYER_OPS.has(n.op),
  );
  if (floatLayers.some((n) => n.suggestedWeightBits !== null && n.suggestedWeightBits < 32)) {
    add('Quantize all layers to their suggested widths', { kind: 'quantize', bits: 'suggested' });
  }
  if (floatLayers.length > 0) add('Prune every layer to a sparsity…', { kind: 'prune' });
  if (report.nodes.some((n) => n.weightBits === 32)) {
    const float = (format: FloatFormat): FloatFix => ({
      kind: 'quantize',
      bits: 16,
      float: format,
    });
    add('Convert to fp16 (weights and compute; inputs and outputs stay float32)', float('fp16'));
    add('Convert to bf16 (weights stored as bfloat16, computed in float32)', float('bf16'));
  }

  const device = report.device;
  if (device && !device.fits) {
    const fitDiagnostics = context.diagnostics.filter((d) => d.source === 'Model Lens');
    const title = `Fit the model to ${device.name} (measure sensitivity, quantize per layer, verify)`;
    const disabled = context.saveBlocker;
    actions.push({
      title,
      kind: 'quickfix',
      diagnostics: [...fitDiagnostics],
      ...(disabled
        ? { disabled: { reason: disabled } }
        : {
            command: {
              title,
              command: APPLY_FIX_COMMAND,
              arguments: [
                { uri: context.uri, fix: { kind: 'fitToDevice' }, title } satisfies ApplyFixArgs,
              ],
            },
          }),
      ...(fitDiagnostics.length > 0 && !disabled ? { isPreferred: true } : {}),
    });
  }
  return actions;
}

/**
 * float32, or float16/bfloat16 (16 bits: the weights of fp16/bf16 models, which the engine
 * quantizes and prunes too; an int16 weight is refused by the engine when chosen).
 */
function isFloatWeight(bits: number | null): boolean {
  return bits === 32 || bits === 16;
}

/** Why this layer's weights can't be quantized, in the words a refusal uses. */
function quantizeRefusal(node: NodeReport): string | undefined {
  if (node.weightBits === null) {
    return WEIGHT_LAYER_OPS.has(node.op)
      ? `${node.name} has no constant weight to quantize (its weight is computed at run time)`
      : `${node.op} has no known weight axis: Model Lens quantizes the weights of Conv, ConvTranspose, Gemm and MatMul`;
  }
  if (!isFloatWeight(node.weightBits)) {
    return `${node.name} is already quantized (its weights are stored at ${node.weightBits}-bit)`;
  }
  return undefined;
}

/** The rank offered for a Gemm/MatMul: half the largest useful rank, about half the parameters. */
function factorizationFor(
  state: OpenModel,
  layer: string,
): { rank: number; before: number; after: number } | undefined {
  const candidate = candidates(state).find((c) => c.layer === layer);
  if (!candidate) return undefined;
  const rank = Math.max(1, Math.floor(candidate.maxUsefulRank / 2));
  return { rank, before: candidate.K * candidate.N, after: rank * (candidate.K + candidate.N) };
}

const candidateCache = new WeakMap<OpenModel, ReturnType<typeof factorizationCandidates>>();
function candidates(state: OpenModel): ReturnType<typeof factorizationCandidates> {
  let list = candidateCache.get(state);
  if (!list) {
    list = state.loaded ? factorizationCandidates(state.loaded.model) : [];
    candidateCache.set(state, list);
  }
  return list;
}

/** The Conv → BatchNormalization pair on a Conv or BN line that the engine can fold. */
function foldPairFor(state: OpenModel, node: NodeReport): { conv: string; bn: string } | undefined {
  let pairs = foldCache.get(state);
  if (!pairs) {
    // float16/bfloat16 weights behind Cast fold too (halfWeights.ts).
    const loaded = state.loaded;
    pairs = loaded ? foldablePairs(liftHalfWeights(loaded.model, loaded.external).model) : [];
    foldCache.set(state, pairs);
  }
  return pairs.find((p) => p.conv === node.name || p.bn === node.name);
}
const foldCache = new WeakMap<OpenModel, { conv: string; bn: string }[]>();

// --- Running a fix -----------------------------------------------------------------------------

export interface FixEnvironment {
  /** The selected device, for fit to device (undefined: none selected). */
  readonly device?: DeviceProfile;
  readonly progress?: (message: string, fraction: number) => void;
  readonly signal?: AbortSignal;
  /** Called when a state's sensitivity has just been measured (to cache it). */
  readonly measured?: (state: OpenModel) => void;
  /**
   * The data folder's calibration samples (fixData.ts): quantizing to integer widths, pruning
   * and filter removal then fit the weights to them. Without it they are data-free.
   */
  readonly calibration?: FixCalibration;
  /**
   * Why a data folder is set but the fix runs data-free (the calibrated engine refused the
   * model), for the notification in place of the hint to choose a data folder.
   */
  readonly dataFreeReason?: string;
}

export interface FixCalibration {
  /** The calibration part of the data folder, already read. */
  readonly inputs: readonly InputSet[];
  /** "128 calibration samples of val (verified on the other 872)". */
  readonly description: string;
}

export interface FixOutcome {
  readonly model: Model;
  readonly summaries: ChangeSummary[];
  /** What the text view lists as applied, e.g. "quantize int8 per-channel: conv1". */
  readonly description: string;
  /**
   * How the weights were chosen, for the notification: "rounded by GPTQ on 128 calibration
   * samples of val (…)", or data-free with the way to do better. Absent when data can't help.
   */
  readonly method?: string;
}

/** Whether a fix fits its weights to the data folder's samples when one is set. */
export function usesCalibration(fix: Fix): boolean {
  switch (fix.kind) {
    case 'quantize':
      // fp16/bf16 conversion rounds to the nearest half value: no rounding choice to fit.
      return (fix as FloatFix).float === undefined;
    case 'prune':
    case 'removeFilters':
    case 'fitToDevice':
      return true;
    default:
      return false;
  }
}

/** What each engine does on data, and the data-free way the notification names instead. */
const METHODS = {
  round: {
    engine: 'GPTQ',
    calibrated: 'rounded by GPTQ',
    finishing: 'GPTQ: rounding each layer to keep its output',
    dataFree: 'rounded to nearest',
    onData: 'round on your data',
  },
  prune: {
    engine: 'SparseGPT',
    calibrated: 'pruned by SparseGPT',
    finishing: 'SparseGPT: pruning each layer and updating the weights that stay',
    dataFree: 'pruned by magnitude',
    onData: 'prune on your data',
  },
  filters: {
    engine: undefined,
    calibrated: 'filters ranked by their effect on the outputs, consumers refitted',
    finishing: 'ranking filters by their effect and refitting the layers that read them',
    dataFree: 'filters ranked by L1 norm',
    onData: 'rank them on your data',
  },
} as const;
type Method = keyof typeof METHODS;

/**
 * The calibrated engines' options for `env.calibration`, their progress mapped onto
 * [`from`, 1] of the fix's (a notification's bar only moves forward).
 */
function calibrationOptions(
  state: OpenModel,
  env: FixEnvironment,
  method: Method,
  from = 0,
): HessianOptions | undefined {
  const data = env.calibration;
  if (!data) return undefined;
  return {
    inputs: data.inputs,
    inputShapes: shapeMap(state.inputShapes),
    signal: env.signal,
    // The samples are most of the time; the per-layer solve after them reports no progress.
    onProgress: (done, total) =>
      env.progress?.(
        done < total
          ? `calibrating on sample ${done}/${total}`
          : `${METHODS[method].finishing} (${total} samples)`,
        from + ((1 - from) * 0.9 * done) / total,
      ),
  };
}

/** The outcome of one engine run, with how it chose the weights. */
function outcomeOf(
  summary: ChangeSummary,
  model: Model,
  method: Method,
  env: FixEnvironment,
): FixOutcome {
  const m = METHODS[method];
  const data = env.calibration;
  // The text view lists the fixes applied: it names the engine, so two fixes differing only in
  // it are two states (and the list says which one made the model).
  const engine = data && m.engine ? ` (${m.engine} on data)` : '';
  return {
    model,
    summaries: [summary],
    description: `${describe(summary)}${engine}`,
    method: data
      ? `${m.calibrated} on ${data.description}`
      : env.dataFreeReason
        ? `${m.dataFree} (not on the data folder: ${env.dataFreeReason})`
        : `${m.dataFree} (no data folder: Choose Data Folder… to ${m.onData})`,
  };
}

/** Runs a fix on a state with the core engine. Throws CompressionRefusal with the reason. */
export async function runFix(
  state: OpenModel,
  fix: Fix,
  env: FixEnvironment = {},
): Promise<FixOutcome> {
  const loaded = state.loaded;
  const report = state.report;
  if (!loaded || !report) {
    throw new CompressionRefusal(state.error ?? 'the model has no analysis to compress');
  }
  const { model, external: ext } = loaded;
  const single = (summary: ChangeSummary, model: Model): FixOutcome => ({
    model,
    summaries: [summary],
    description: describe(summary),
  });
  switch (fix.kind) {
    case 'quantize': {
      const format = (fix as FloatFix).float;
      if (format) {
        const r = convertFloat(model, { format }, ext);
        return single(r.summary, r.model);
      }
      if (fix.bits !== 'suggested') {
        const options = { bits: fix.bits, layers: fix.layers };
        const calibration = calibrationOptions(state, env, 'round');
        const r = calibration
          ? await quantizeCalibrated(loaded, options, calibration)
          : quantizeWeights(model, options, ext);
        return outcomeOf(r.summary, r.model, 'round', env);
      }
      const bitsPerLayer = new Map<string, number>();
      for (const n of report.nodes) {
        if (fix.layers && !fix.layers.includes(n.name)) continue;
        const s = n.suggestedWeightBits;
        if (
          isFloatWeight(n.weightBits) &&
          WEIGHT_LAYER_OPS.has(n.op) &&
          s !== null &&
          s < n.weightBits!
        ) {
          bitsPerLayer.set(n.name, s);
        }
      }
      if (bitsPerLayer.size === 0) {
        throw new CompressionRefusal('no float layer has a suggested width below 32 bits');
      }
      const options = { bits: 8, bitsPerLayer, layers: [...bitsPerLayer.keys()] };
      const calibration = calibrationOptions(state, env, 'round');
      const r = calibration
        ? await quantizeCalibrated(loaded, options, calibration)
        : quantizeWeights(model, options, ext);
      return outcomeOf(r.summary, r.model, 'round', env);
    }
    case 'prune': {
      const calibration = calibrationOptions(state, env, 'prune');
      if (fix.nm) {
        // Named layers are refused when their input size is not a multiple of M; the whole
        // model skips them, and the summary's notes list them.
        const r = calibration
          ? await pruneCalibrated(loaded, { pattern: fix.nm, layers: fix.layers }, calibration)
          : pruneSemiStructured(model, { pattern: fix.nm, layers: fix.layers }, ext);
        return outcomeOf(r.summary, r.model, 'prune', env);
      }
      const sparsity = needFraction(fix.sparsity, 'sparsity');
      // SparseGPT prunes each layer to the sparsity (its scores are not comparable across
      // layers); by magnitude the whole model shares one threshold.
      const r = calibration
        ? await pruneCalibrated(loaded, { pattern: sparsity, layers: fix.layers }, calibration)
        : pruneUnstructured(
            model,
            { sparsity, scope: fix.layers ? 'layer' : 'global', layers: fix.layers },
            ext,
          );
      return outcomeOf(r.summary, r.model, 'prune', env);
    }
    case 'removeFilters': {
      const fraction = needFraction(fix.fraction, 'fraction');
      const calibration = calibrationOptions(state, env, 'filters');
      const r = calibration
        ? await pruneFiltersCalibrated(loaded, { fraction, layers: fix.layers }, calibration)
        : pruneFilters(model, { fraction, layers: fix.layers }, ext);
      return outcomeOf(r.summary, r.model, 'filters', env);
    }
    case 'foldBatchNorm': {
      const r = withHalfWeightsLifted(model, ext, (m) =>
        foldBatchNorm(m, { layers: fix.layers }, ext),
      );
      return single(r.summary, r.model);
    }
    case 'factorize': {
      const r = factorizeLowRank(model, { layer: fix.layer, rank: fix.rank }, ext);
      return single(r.summary, r.model);
    }
    case 'fitToDevice':
      return fitToDevice(state, env);
  }
}

function needFraction(value: number | undefined, what: string): number {
  if (value === undefined || !(value > 0 && value < 1)) {
    throw new CompressionRefusal(`the ${what} must be between 0 and 1`);
  }
  return value;
}

/**
 * Sensitivity of every quantizable layer, measured once per state (and kept on it, so the hover
 * shows it and a second fit doesn't measure again). `grids` (fit to device) are measured too:
 * on a state measured before without them, only the missing grids, and merged into its table.
 */
export async function sensitivityOf(
  state: OpenModel,
  env: Pick<FixEnvironment, 'progress' | 'signal' | 'measured'>,
  grids: readonly GridFormat[] = [],
): Promise<Map<string, LayerSensitivity>> {
  if (!state.loaded) throw new CompressionRefusal(state.error ?? 'the model could not be read');
  const onProgress = (done: number, total: number, layer: string): void =>
    env.progress?.(`measuring sensitivity: ${layer} (${done}/${total})`, done / total);
  const common = { inputShapes: shapeMap(state.inputShapes), signal: env.signal, onProgress };
  const cached = state.sensitivity;
  if (!cached) {
    const table = await measureSensitivity(state.loaded, { ...common, grids });
    state.sensitivity = new Map(table.map((t) => [t.layer, t]));
    env.measured?.(state);
    return state.sensitivity;
  }
  // Layers the table could quantize but lacks a grid for (skipped layers stay skipped).
  const missing = (t: LayerSensitivity): GridFormat[] =>
    grids.filter((g) => {
      const name = formatName(g);
      return !(name in (t.gridOutputSqnrDb ?? {})) && !(name in (t.gridRefused ?? {}));
    });
  const todo = [...cached.values()].filter((t) => !t.skipped && missing(t).length > 0);
  if (todo.length === 0) return cached;
  const wanted = grids.filter((g) => todo.some((t) => missing(t).includes(g)));
  const extra = await measureSensitivity(state.loaded, {
    ...common,
    bits: [],
    grids: wanted,
    layers: todo.map((t) => t.layer),
  });
  for (const e of extra) {
    const entry = cached.get(e.layer)!;
    // Refused now but measured at widths before: the grids are what failed, keep the widths.
    if (e.skipped) {
      for (const g of wanted) (entry.gridRefused ??= {})[formatName(g)] = e.skipped;
      continue;
    }
    entry.gridOutputSqnrDb = { ...entry.gridOutputSqnrDb, ...e.gridOutputSqnrDb };
    if (e.gridRefused) entry.gridRefused = { ...entry.gridRefused, ...e.gridRefused };
  }
  env.measured?.(state);
  return cached;
}

async function fitToDevice(state: OpenModel, env: FixEnvironment): Promise<FixOutcome> {
  const device = env.device;
  if (!device) {
    throw new CompressionRefusal('choose a target device first (Model Lens: Select Device)');
  }
  const loaded = state.loaded!;
  // With data, measuring sensitivity takes the first half of the bar and calibration the rest.
  const share = env.calibration ? 0.5 : 1;
  const measuring = {
    ...env,
    progress: (message: string, fraction: number) => env.progress?.(message, fraction * share),
  };
  const sensitivity = await sensitivityOf(state, measuring, fitGridsFor(device));
  env.progress?.('planning bit-widths', share);
  const plan = planBitsForDevice(loaded, { device, sensitivity: [...sensitivity.values()] });
  if (!plan.fits) {
    throw new CompressionRefusal(`cannot fit ${device.name}: ${plan.reason ?? 'no plan fits'}`);
  }
  if (plan.formatPerLayer.size === 0) {
    throw new CompressionRefusal(`the model already fits ${device.name}`);
  }
  // Integer widths are rounded by GPTQ on data; grids (pow2, ternary, binary) stay nearest.
  const calibration = calibrationOptions(state, env, 'round', share);
  const r = calibration
    ? await quantizeCalibrated(loaded, quantizeOptionsFor(plan), calibration)
    : quantizeWeights(loaded.model, quantizeOptionsFor(plan), loaded.external);
  const outcome = outcomeOf(r.summary, r.model, 'round', env);
  return {
    ...outcome,
    // "fit to stm32h743: 6 layers (3 int8, 2 int4, 1 ternary), predicted output SQNR 9.7 dB"
    description: `fit to ${device.id}: ${planFormatsText(plan)}, predicted output SQNR ${plan.predictedErrorDb.toFixed(1)} dB${env.calibration ? ' (GPTQ on data)' : ''}`,
  };
}

/** "quantize int8 per-channel: conv1, fc" (at most three names). */
function describe(s: ChangeSummary): string {
  const names = s.layersTouched;
  const shown =
    names.slice(0, 3).join(', ') + (names.length > 3 ? ` and ${names.length - 3} more` : '');
  return names.length ? `${s.operation}: ${shown}` : s.operation;
}

/** "weights 1.2 MiB → 310 KiB (−75%), MACs 1.8 G → 1.8 G, 1 layer", for messages and reports. */
export function summaryLine(s: ChangeSummary): string {
  const change = s.bytesBefore > 0 ? (s.bytesAfter - s.bytesBefore) / s.bytesBefore : 0;
  const sign = change <= 0 ? '−' : '+';
  const macs =
    s.macsBefore === s.macsAfter
      ? `MACs unchanged`
      : `MACs ${formatCount(s.macsBefore)} → ${formatCount(s.macsAfter)}`;
  const layers = `${s.layersTouched.length} layer${s.layersTouched.length === 1 ? '' : 's'}`;
  return `weights ${formatBytes(s.bytesBefore)} → ${formatBytes(s.bytesAfter)} (${sign}${formatPercent(Math.abs(change))}), ${macs}, ${layers}`;
}

/** The shapes Set Input Shape (or `modelLens.inputShapes`) gave the model, for ONNX Runtime runs. */
export function shapeMap(
  shapes: Record<string, number[]> | undefined,
): Map<string, number[]> | undefined {
  return shapes ? new Map(Object.entries(shapes)) : undefined;
}
