/**
 * The compress steps that choose per-layer settings by measured effect (issue 11.5/11.6, issue
 * 12.4): `--fit-weight-bytes N`, `--fit DEVICE` and `--prune S` with `--calibration DIR`. Each
 * measures its candidates on the current model (advisor/measuredEffect.ts), plans
 * (advisor/effectPlan.ts), applies the plan with the same rounding or pruning it measured, and
 * leaves a report; after the model is written, `verifyPlans` runs the whole result against the
 * original on the evaluation part and on the samples the effects came from.
 *
 * Also `--quantize suggested`: each layer at the width analyze suggests for the error target.
 */
import { analyzeLoaded } from '../core/analyze';
import type { DeviceProfile } from '../core/devices';
import { quantizeWeights } from '../core/compress/quantize';
import { CompressionRefusal, type CompressionResult } from '../core/compress/summary';
import { quantizeCalibrated } from '../core/calibrated/calibratedQuantize';
import { pruneCalibrated } from '../core/calibrated/calibratedPrune';
import { quantizeOptionsFor } from '../core/advisor/fitPlan';
import {
  EFFECT_BITS,
  EFFECT_SPARSITIES,
  measureEffects,
  type EffectRounding,
  type EffectTable,
} from '../core/advisor/measuredEffect';
import {
  planSparsity,
  planWidths,
  type PlanPrediction,
  type SparsityPlan,
  type WidthPlan,
} from '../core/advisor/effectPlan';
import {
  effectText,
  measuredEffectOf,
  verifyPlan,
  type EffectData,
} from '../core/advisor/effectRun';
import type { VerifyResult } from '../core/verify';
import { formatBytes } from '../core/format';
import type { LoadedModel } from '../core/onnx/load';
import type { Model } from '../core/onnx/types';
import { WEIGHT_LAYER_OPS } from '../core/cost/weights';
import {
  formatAgreement,
  formatPointChange,
  verificationLead,
  verificationRows,
} from '../core/verify/summary';
import { verifyJson } from './verifyCommand';

/** What the plan steps of one compress run share. */
export interface PlanSession {
  readonly original: LoadedModel;
  readonly data: EffectData;
  /** How weights are rounded, measured and applied alike. */
  readonly rounding: EffectRounding;
  readonly inputShapes?: ReadonlyMap<string, readonly number[]>;
  readonly layers?: readonly string[];
  /** One per plan step, in order. */
  readonly reports: PlanReport[];
}

export interface PlanReport {
  readonly title: string;
  readonly table: EffectTable;
  readonly predicted: PlanPrediction;
  /** The plan as text lines (a table). */
  readonly lines: string[];
  readonly json: unknown;
}

/** Progress on a terminal only: CI logs get the result, not a line per layer. */
function progress(
  what: string,
): ((done: number, total: number, layer: string) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  const started = performance.now();
  return (done, total, layer) => {
    const s = ((performance.now() - started) / 1000).toFixed(0);
    process.stderr.write(`\rmodel-lens: ${what} ${done}/${total} (${layer}, ${s} s)\x1b[K`);
    if (done === total) process.stderr.write('\n');
  };
}

function hessianOptions(session: PlanSession): {
  sets: EffectData['calibration'];
  inputShapes?: ReadonlyMap<string, readonly number[]>;
} {
  return { sets: session.data.calibration, inputShapes: session.inputShapes };
}

// --- Pruning -----------------------------------------------------------------------------------

/** `--prune S` with measured allocation: per-layer sparsities reaching S overall. */
export async function measuredPrune(
  current: LoadedModel,
  target: number,
  session: PlanSession,
): Promise<CompressionResult> {
  const sparsities = [...new Set([...EFFECT_SPARSITIES, target])].sort((a, b) => a - b);
  const table = await measureEffects(current, {
    sets: session.data.calibration,
    labels: session.data.calibrationLabels,
    sparsities,
    pruning: 'sparsegpt',
    layers: session.layers,
    inputShapes: session.inputShapes,
    onProgress: progress('measuring sparsity effects'),
  });
  const plan = planSparsity(table, target);
  if (![...plan.perLayer.values()].some((s) => s > 0)) {
    throw new CompressionRefusal('the sparsity plan prunes no layer');
  }
  // Measured allocation needs samples (args.ts), so the pruning is SparseGPT's, as measured.
  const result = await pruneCalibrated(
    current,
    { pattern: target, sparsityPerLayer: plan.perLayer },
    hessianOptions(session),
  );
  session.reports.push(sparsityReport(plan, table));
  // The pruner names its operation after `pattern`; the plan reached its own overall figure.
  result.summary.operation = `prune unstructured ${pct(plan.achieved)} overall (per-layer plan)`;
  return result as CompressionResult;
}

function sparsityReport(plan: SparsityPlan, table: EffectTable): PlanReport {
  const metric = table.metric;
  const rows = plan.choices.map((c) => [
    c.layer,
    c.elements.toLocaleString('en-US'),
    `${Math.round(c.sparsity * 100)}%`,
    c.effect ? effectText(c.effect.value, metric) : '—',
    c.effect ? effectAside(c.effect, table) : '',
  ]);
  const uniform = plan.uniform
    ? `; uniform ${pct(plan.target)}: ${predictionText(plan.uniform, table, false)}`
    : '';
  return {
    title: `per-layer sparsity for ${pct(plan.target)} overall`,
    table,
    predicted: plan.predicted,
    lines: [
      `plan: per-layer sparsity for ${pct(plan.target)} overall, chosen by ${measuredHow(table)}`,
      ...tableLines(['layer', 'weights', 'sparsity', 'effect alone', ''], rows),
      `  ${pct(plan.achieved)} of ${plan.prunable.toLocaleString('en-US')} prunable weights; predicted ${predictionText(plan.predicted, table)}${uniform}`,
      ...plan.notes.map((n) => `  · ${n}`),
    ],
    json: {
      kind: 'sparsity',
      target: plan.target,
      achieved: plan.achieved,
      prunable: plan.prunable,
      ...tableJson(table),
      layers: plan.choices.map((c) => ({
        layer: c.layer,
        weights: c.elements,
        sparsity: c.sparsity,
        ...(c.effect ? { effect: c.effect } : {}),
      })),
      predicted: plan.predicted,
      ...(plan.uniform ? { uniform: plan.uniform } : {}),
    },
  };
}

// --- Widths ------------------------------------------------------------------------------------

/** `--fit-weight-bytes N` / `--fit DEVICE`: per-layer widths within the device's flash. */
export async function fittedWidths(
  current: LoadedModel,
  device: DeviceProfile,
  session: PlanSession,
): Promise<CompressionResult> {
  const bits = EFFECT_BITS.filter((b) => device.supportedWeightBits.includes(b));
  if (bits.length === 0) {
    throw new CompressionRefusal(
      `${device.name} takes ${device.supportedWeightBits.join('/')}-bit weights: none of the planned widths (${EFFECT_BITS.join('/')})`,
    );
  }
  const table = await measureEffects(current, {
    sets: session.data.calibration,
    labels: session.data.calibrationLabels,
    bits,
    rounding: session.rounding,
    layers: session.layers,
    inputShapes: session.inputShapes,
    onProgress: progress('measuring width effects'),
  });
  const plan = planWidths(current, table, device);
  if (!plan.fit.fits) {
    throw new CompressionRefusal(`cannot fit ${device.name}: ${plan.fit.reason ?? 'no plan fits'}`);
  }
  if (plan.fit.formatPerLayer.size === 0) {
    throw new CompressionRefusal(
      `the weights already fit ${device.name} as they are (${formatBytes(plan.fit.weightBytes)}): nothing to quantize`,
    );
  }
  const options = quantizeOptionsFor(plan.fit);
  const result =
    session.rounding === 'gptq'
      ? await quantizeCalibrated(current, options, hessianOptions(session))
      : quantizeWeights(current.model, options, current.external);
  session.reports.push(widthReport(plan, table, device));
  return result;
}

function widthReport(plan: WidthPlan, table: EffectTable, device: DeviceProfile): PlanReport {
  const metric = table.metric;
  const rows = table.layers.map((u) => {
    const bits = plan.fit.bitsPerLayer.get(u.layer);
    const e = bits === undefined ? undefined : u.bits[bits];
    return [
      u.layer,
      u.elements.toLocaleString('en-US'),
      u.skipped ? 'as stored' : bits === undefined ? 'float' : `${bits} bit`,
      e ? effectText(e.value, metric) : '—',
      e ? effectAside(e, table) : (u.skipped ?? ''),
    ];
  });
  return {
    title: `per-layer widths within ${device.name}`,
    table,
    predicted: plan.predicted,
    lines: [
      `plan: per-layer weight widths within ${device.name} (${formatBytes(device.flashBytes)}), chosen by ${measuredHow(table)}`,
      ...tableLines(['layer', 'weights', 'width', 'effect alone', ''], rows),
      `  weights ${formatBytes(plan.fit.weightBytes)} (${plan.fit.weightBytes.toLocaleString('en-US')} bytes, k bits per element plus scales); predicted ${predictionText(plan.predicted, table)}`,
      ...(plan.fit.notes ?? []).map((n) => `  · ${n}`),
    ],
    json: {
      kind: 'widths',
      device: device.id,
      budgetBytes: device.flashBytes,
      weightBytes: plan.fit.weightBytes,
      ...tableJson(table),
      layers: table.layers.map((u) => {
        const bits = plan.fit.bitsPerLayer.get(u.layer);
        return {
          layer: u.layer,
          weights: u.elements,
          bits: bits ?? null,
          ...(bits !== undefined && u.bits[bits] ? { effect: u.bits[bits] } : {}),
          ...(u.skipped ? { skipped: u.skipped } : {}),
        };
      }),
      predicted: plan.predicted,
    },
  };
}

// --- Suggested widths --------------------------------------------------------------------------

/** `--quantize suggested`: analyze's suggested width per float layer (per channel, as measured). */
export async function suggestedWidths(
  current: LoadedModel,
  errorTargetDb: number | undefined,
  session: Pick<PlanSession, 'rounding' | 'layers' | 'inputShapes'> & {
    calibration?: EffectData['calibration'];
  },
): Promise<CompressionResult> {
  const report = analyzeLoaded(current, { errorTargetDb, inputShapes: session.inputShapes });
  const bitsPerLayer = new Map<string, number>();
  for (const n of report.nodes) {
    if (session.layers && !session.layers.includes(n.name)) continue;
    const s = n.suggestedWeightBits;
    if (WEIGHT_LAYER_OPS.has(n.op) && n.weightBits === 32 && s !== null && s < 32) {
      bitsPerLayer.set(n.name, s);
    }
  }
  if (bitsPerLayer.size === 0) {
    throw new CompressionRefusal('no float layer has a suggested width below 32 bits');
  }
  const options = { bits: 8, bitsPerLayer, layers: [...bitsPerLayer.keys()], perChannel: true };
  const result =
    session.rounding === 'gptq' && session.calibration
      ? await quantizeCalibrated(current, options, {
          inputs: session.calibration,
          inputShapes: session.inputShapes,
        })
      : quantizeWeights(current.model, options, current.external);
  result.summary.notes.unshift(
    `suggested widths (weight SQNR ≥ ${report.errorTargetDb} dB per output channel): ${widthCounts(bitsPerLayer)}`,
  );
  return result;
}

function widthCounts(bits: ReadonlyMap<string, number>): string {
  const counts = new Map<number, number>();
  for (const b of bits.values()) counts.set(b, (counts.get(b) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[0] - a[0])
    .map(([b, n]) => `${n} at ${b} bit`)
    .join(', ');
}

// --- Verification ------------------------------------------------------------------------------

export interface PlanCheck {
  readonly evaluation: VerifyResult;
  readonly lines: string[];
  readonly json: unknown;
}

/** The whole result against the original on the evaluation part: predicted against measured. */
export async function verifyPlans(session: PlanSession, final: Model): Promise<PlanCheck> {
  const metric = session.reports[0].table.metric;
  const evaluation = await verifyPlan(session.original, final, session.data);
  // Several plans (pruning, then widths): their effects were measured one after the other, so
  // the sum of their predictions is the prediction of the whole.
  const predicted = session.reports.reduce((s, r) => s + r.predicted.effect, 0);
  const accuracy = session.reports.every((r) => r.predicted.accuracyDelta !== undefined)
    ? session.reports.reduce((s, r) => s + r.predicted.accuracyDelta!, 0)
    : undefined;
  const sameMetric = session.reports.every((r) => r.table.metric === metric);
  const measured = measuredEffectOf(evaluation, metric);
  const rows = verificationRows(evaluation);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    `verification on the evaluation part: ${verificationLead(evaluation)}`,
    `  ${session.data.note}`,
    ...(sameMetric
      ? [
          `  predicted ${effectText(predicted, metric)}${accuracy !== undefined ? `, accuracy ${formatPointChange(accuracy)}` : ''} (the sum of the layers' effects on the calibration samples); measured ${effectText(measured, metric)}`,
        ]
      : []),
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
  ];
  return {
    evaluation,
    lines,
    json: {
      note: session.data.note,
      disjoint: session.data.disjoint,
      metric,
      predicted: {
        effect: predicted,
        ...(accuracy !== undefined ? { accuracyDelta: accuracy } : {}),
      },
      measured: { effect: measured, ...(verifyJson(evaluation) as object) },
    },
  };
}

// --- Text --------------------------------------------------------------------------------------

function measuredHow(table: EffectTable): string {
  const what =
    table.metric === 'kl'
      ? 'the KL divergence of the class distribution'
      : 'the output noise power (as SQNR)';
  const how = [
    ...(Object.keys(table.layers.find((u) => Object.keys(u.bits).length > 0)?.bits ?? {}).length
      ? [table.rounding === 'gptq' ? 'GPTQ rounding' : 'nearest rounding']
      : []),
    ...(Object.keys(table.layers.find((u) => Object.keys(u.sparsity).length > 0)?.sparsity ?? {})
      .length
      ? [table.pruning === 'sparsegpt' ? 'SparseGPT' : 'magnitude pruning']
      : []),
  ];
  const inputs = table.hessianApart
    ? `, layer inputs for ${how.join(' and ')} from ${table.hessianSamples} others`
    : '';
  return `${what} measured on ${table.samples} calibration samples${inputs}, one layer at a time (${how.join(', ')}; ${table.seconds.toFixed(1)} s)`;
}

/** Agreement and, with labels, the accuracy change of one layer's setting alone. */
function effectAside(e: { agreement: number; accuracyDelta?: number }, table: EffectTable): string {
  const parts = [`top-1 agreement ${formatAgreement(e.agreement)}`];
  if (e.accuracyDelta !== undefined && table.referenceAccuracy !== undefined) {
    parts.push(`accuracy ${formatPointChange(e.accuracyDelta)}`);
  }
  return parts.join(', ');
}

/**
 * A plan's prediction: the summed effect, the union bound on agreement and, with labels and
 * `accuracy`, the summed accuracy change. That sum is noisy (each term is a multiple of 1/samples,
 * mostly noise for one layer), so it is left out where it would mislead: the uniform comparison.
 */
function predictionText(p: PlanPrediction, table: EffectTable, accuracy = true): string {
  const parts = [
    effectText(p.effect, table.metric),
    `top-1 agreement ≥ ${formatAgreement(p.agreement)}`,
  ];
  if (accuracy && p.accuracyDelta !== undefined) {
    parts.push(
      `accuracy ${formatPointChange(p.accuracyDelta)} on ${table.samples} labelled samples`,
    );
  }
  return parts.join(', ');
}

function tableJson(table: EffectTable): Record<string, unknown> {
  return {
    metric: table.metric,
    samples: table.samples,
    rounding: table.rounding,
    pruning: table.pruning,
    seconds: table.seconds,
    ...(table.referenceAccuracy !== undefined
      ? { referenceAccuracy: table.referenceAccuracy }
      : {}),
  };
}

function tableLines(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const right = new Set([1, 2]);
  const line = (cells: string[]): string =>
    `  ${cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}

function pct(v: number): string {
  return `${Number((v * 100).toFixed(1))}%`;
}
