/**
 * How the server shows a layer's figures: the inline annotation, the hover, and the text that
 * Copy Layer Figures puts on the clipboard. Figures come from the core's report; this formats.
 */
import type { AnalysisReport, NodeReport } from '../core/analyze';
import type { HypercomplexWhatIf } from '../core/advisor/hypercomplex';
import type { LayerSensitivity } from '../core/advisor/sensitivity';
import { formatBits, gridFormatOf } from '../core/compress/weightFormat';
import { CONVENTION_NAMES, CONVENTION_NOTES } from '../core/cost/conventions';
import { WEIGHT_LAYER_OPS } from '../core/cost/weights';
import { showsZeroWeights } from '../core/cost/weightSparsity';
import type { DeviceProfile } from '../core/devices';
import { layerExploiters } from '../core/devices/sparsity';
import {
  formatBytes,
  formatCount,
  formatJoules,
  formatPercent,
  formatSeconds,
} from '../core/format';
import { assumedDimsNote } from '../shared/inputShapes';
import type { AnalyzerSettings } from '../shared/protocol';

/**
 * The annotation's parts, `118 M MACs`, `W 37 KiB`, `A 3.6 MiB`, `6-bit`, as the settings ask.
 * Each part is its own inlay hint: VS Code truncates a long hint (editor.inlayHints.maximumLength).
 */
export function annotationParts(
  n: NodeReport,
  show: AnalyzerSettings['annotations'],
): { label: string; tooltip: string }[] {
  const parts: { label: string; tooltip: string }[] = [];
  if (show.macs && n.macsUnknown) {
    parts.push({ label: '? MACs', tooltip: `MACs unknown: ${n.macsUnknown}` });
  } else if (show.macs && n.macs > 0) {
    parts.push({
      label: `${formatCount(n.macs)} MACs`,
      tooltip: 'multiply-accumulates per inference',
    });
  }
  if (show.weights && n.weightBytes > 0) {
    parts.push({
      label: `W ${formatBytes(n.weightBytes)}`,
      tooltip: 'weight memory at the stored precision',
    });
  }
  if (show.activations && n.activationBytes > 0) {
    parts.push({
      label: `A ${formatBytes(n.activationBytes)}`,
      tooltip: 'feature maps: non-constant inputs + outputs',
    });
  }
  if (show.bits && n.suggestedWeightBits !== null && n.suggestedWeightBits !== n.weightBits) {
    parts.push({
      label: `${n.suggestedWeightBits}-bit`,
      tooltip: 'suggested weight bit-width (hover for why)',
    });
  }
  return parts;
}

function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (c) => `\\${c}`);
}

/** How a multiplier-free weight grid is counted (compress/lowBitGrids.ts). */
const WEIGHT_GRID_HOVER: Record<NonNullable<NodeReport['weightGrid']>, string> = {
  pow2: 'power-of-two (±2^k·scale): each multiply is a shift, so BOPs and energy count adds only',
  ternary:
    'ternary {−α, 0, +α}: 2 bits per weight (stored in int4); BOPs at 2-bit weights, energy counts adds only',
  binary:
    'binary {−α, +α}: 1 bit per weight (stored in int4); BOPs at 1-bit weights, energy counts adds only',
};

/** "ST Edge AI convention" when the report counts as another tool does, else undefined. */
export function conventionName(report: AnalysisReport): string | undefined {
  const c = report.convention;
  return c && c !== 'model-lens' ? `${CONVENTION_NAMES[c]} convention` : undefined;
}

/**
 * A layer's figures as label → value rows, the same in the hover and the graph's side panel.
 * `escape` makes a model string (the device id, an unknown op's reason) safe for where the rows
 * go. MACs of unknown count (a custom operator) read "unknown" with the reason, never 0.
 */
export function layerRows(
  n: NodeReport,
  report: AnalysisReport,
  escape: (text: string) => string = (t) => t,
): [string, string][] {
  const convention = conventionName(report);
  const macs = n.macsUnknown
    ? `unknown (${escape(n.macsUnknown)})`
    : `${formatCount(n.macs)} (${formatPercent(n.share.macs)} of the model)${convention ? ` · ${convention}` : ''}`;
  const rows: [string, string][] = [
    ['MACs', macs],
    [
      'FLOPs · BOPs',
      n.macsUnknown ? 'unknown' : `${formatCount(n.flops)} · ${formatCount(n.bops)}`,
    ],
    ['parameters', `${formatCount(n.params)} (${formatPercent(n.share.params)})`],
  ];
  if (n.weightBytes > 0) {
    const now = `${formatBytes(n.weightBytes)} at ${n.weightBits ?? '?'}-bit`;
    const suggested =
      n.suggestedWeightBytes !== null && n.suggestedWeightBits !== n.weightBits
        ? ` · ${formatBytes(n.suggestedWeightBytes)} at ${n.suggestedWeightBits}-bit (suggested)`
        : '';
    const stored =
      n.storedWeightBytes !== undefined
        ? ` · ${formatBytes(n.storedWeightBytes)} as stored (sparse initializer; ONNX Runtime densifies it)`
        : '';
    rows.push(['weight memory', now + suggested + stored]);
  }
  if (n.weightGrid) rows.push(['weight grid', WEIGHT_GRID_HOVER[n.weightGrid]]);
  if (n.sparseMacs !== undefined && n.weightSparsity !== undefined && showsZeroWeights(n)) {
    rows.push([
      'zero weights',
      `${formatPercent(n.weightSparsity)}${n.nmPattern ? ` · ${n.nmPattern} pattern` : ''} · ${formatCount(n.sparseMacs)} MACs if every zero is skipped`,
    ]);
  }
  rows.push(['feature maps (in + out)', formatBytes(n.activationBytes)]);
  if (report.device && n.latencySeconds !== undefined) {
    rows.push([
      `on ${escape(report.device.id)}`,
      n.macsUnknown
        ? `latency unknown · ≥${formatJoules(n.energyJoules ?? 0)} (memory traffic only)`
        : `~${formatSeconds(n.latencySeconds)} · ~${formatJoules(n.energyJoules ?? 0)}${deviceZerosText(n, report)}`,
    ]);
  }
  return rows;
}

/** What the selected device does with this layer's zeros (devices/sparsity.ts), if it has any. */
function deviceZerosText(n: NodeReport, report: AnalysisReport): string {
  if (n.sparseMacs === undefined || !showsZeroWeights(n) || !report.device?.sparsity) return '';
  const skipped = report.device.sparsity.exploited.find((e) => e.node === n.name);
  return skipped
    ? ` · skips its zeros (${skipped.how}): ${formatCount(skipped.macs)} MACs`
    : ` · dense MACs (it does not skip these zeros)`;
}

/**
 * Which of the device profiles skip this layer's zeros, and at what MACs: "none" says that every
 * profile runs the dense MACs.
 */
export function exploitersRow(
  n: NodeReport,
  profiles: readonly DeviceProfile[],
  escape: (text: string) => string = (t) => t,
): [string, string] | undefined {
  if (n.sparseMacs === undefined || !showsZeroWeights(n)) return undefined;
  const found = layerExploiters(n, profiles);
  return [
    'devices that skip its zeros',
    found.length > 0
      ? found.map((f) => `${escape(f.id)} (${f.how}: ${formatCount(f.macs)} MACs)`).join(' · ')
      : `none of the ${profiles.length} device profiles (no profile declares a sparsity capability that fits: each runs the dense MACs)`,
  ];
}

/** "8 b: 41.2 dB ✓ · 6 b: 29.9 dB · …", widest first; ✓ where the target is met. */
export function sqnrCurve(sqnrByBits: Record<string, number>, targetDb: number): string {
  return Object.entries(sqnrByBits)
    .sort((a, b) => Number(b[0]) - Number(a[0]))
    .map(
      ([bits, db]) =>
        `${bits} b: ${Number.isFinite(db) ? db.toFixed(1) : '∞'} dB${db >= targetDb ? ' ✓' : ''}`,
    )
    .join(' · ');
}

/** How each other format is named in the curve: its width in bits, pow2 at its storage width. */
const FORMAT_LABELS: Record<keyof NonNullable<NodeReport['weightFormatSqnrDb']>, string> = {
  fp16: 'fp16',
  pow2: 'pow2 8 b',
  ternary: 'ternary 2 b',
  binary: 'binary 1 b',
};

/**
 * "fp16: 71.3 dB ✓ · pow2 8 b: 22.4 dB · ternary 2 b: 9.0 dB · binary 1 b: 4.9 dB": the weight
 * SQNR of the other formats (NodeReport.weightFormatSqnrDb), ✓ where the target is met.
 */
export function formatsCurve(
  formats: NonNullable<NodeReport['weightFormatSqnrDb']>,
  targetDb: number,
): string {
  return (Object.keys(FORMAT_LABELS) as (keyof typeof FORMAT_LABELS)[])
    .map((f) => {
      const db = formats[f];
      return `${FORMAT_LABELS[f]}: ${Number.isFinite(db) ? db.toFixed(1) : '∞'} dB${db >= targetDb ? ' ✓' : ''}`;
    })
    .join(' · ');
}

/**
 * The hover: every figure of the layer, the device estimates, why we suggest its width, and the
 * measured output sensitivity once it has been measured.
 */
export function layerMarkdown(
  n: NodeReport,
  report: AnalysisReport,
  sensitivity?: LayerSensitivity,
  /** Symbolic input dims the figures count as 1: the hover says so first. */
  symbolicDims?: readonly string[],
  /** The layer as a quaternion / complex layer, a what-if (advisor/hypercomplex.ts). */
  hypercomplex?: HypercomplexWhatIf | null,
  /** The device profiles (built-ins and the user's), for which of them skip the layer's zeros. */
  profiles?: readonly DeviceProfile[],
  /** The layer's measured effect on the data folder, as markdown lines (measuredEffects.ts). */
  measuredEffect?: readonly string[],
): string {
  const out = n.outputs
    .map((o) => `${o.dtype} ${o.shape ? `[${o.shape.join('×')}]` : '[?]'}`)
    .join(', ');
  const rows = layerRows(n, report, escapeMarkdown);
  const exploiters = profiles && exploitersRow(n, profiles, escapeMarkdown);
  if (exploiters) rows.splice(rows.findIndex(([k]) => k === 'zero weights') + 1, 0, exploiters);
  if (hypercomplex) rows.push(hypercomplexRow(hypercomplex));
  const lines = [
    `**${escapeMarkdown(n.op)}** \`${n.name.replace(/`/g, "'")}\` → ${escapeMarkdown(out)}`,
    '',
    '| | |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
  ];
  if (symbolicDims && symbolicDims.length > 0) {
    lines.splice(1, 0, '', `⚠ ${escapeMarkdown(assumedDimsNote(symbolicDims))}`);
  }
  if (n.weightSqnrDb) {
    lines.push(
      '',
      `**Why ${n.suggestedWeightBits}-bit:** weight SQNR per output channel (target ${report.errorTargetDb} dB): ${sqnrCurve(n.weightSqnrDb, report.errorTargetDb)}`,
    );
  }
  if (n.weightFormatSqnrDb) {
    lines.push(
      '',
      `**Other formats:** weight SQNR (grids per output channel; fit to device measures the output SQNR of those the device holds): ${formatsCurve(n.weightFormatSqnrDb, report.errorTargetDb)}`,
    );
  }
  if (sensitivity) lines.push('', ...sensitivityTable(sensitivity));
  else if (n.weightBits === 32 && WEIGHT_LAYER_OPS.has(n.op)) {
    lines.push(
      '',
      '**Output sensitivity:** not measured yet (run **Model Lens: Measure Layer Sensitivity**, or the fit-to-device quick fix).',
    );
  }
  if (measuredEffect && measuredEffect.length > 0) lines.push('', ...measuredEffect);
  lines.push(
    '',
    '_MACs: multiply-accumulates of linear layers (Conv: outputs × Cin/groups × kernel). FLOPs = 2 × MACs + elementwise. Feature maps: non-constant inputs + outputs. Symbolic dims count as 1._',
  );
  const note = report.convention ? CONVENTION_NOTES[report.convention] : '';
  if (note) lines.push('', `_${escapeMarkdown(note)}_`);
  return lines.join('\n');
}

/** The what-if row: weight memory as a quaternion / complex layer (advisor/hypercomplex.ts). */
function hypercomplexRow(h: HypercomplexWhatIf): [string, string] {
  const parts = h.options.map(
    (o) =>
      `${o.algebra} ${formatBytes(o.weightBytes)} (${formatCount(o.params)} params, ${o.components === 4 ? '¼' : '½'})`,
  );
  return [
    'what-if: hypercomplex',
    `${parts.join(' · ')} vs real ${formatBytes(h.realWeightBytes)}, same MACs; weights shared across the ${h.options[0].components} components by the ${h.options[0].components === 4 ? 'Hamilton' : 'complex'} product (bias excluded; needs retraining)`,
  ];
}

/**
 * Bits → dB of the model output with only this layer quantized (sensitivity.ts), then the grids
 * measured for it (fit to device measures those the device holds): `ternary 2 b`, `pow2 4 b`.
 */
function sensitivityTable(s: LayerSensitivity): string[] {
  if (s.skipped) return [`**Output sensitivity:** not measured (${escapeMarkdown(s.skipped)})`];
  const bits = Object.keys(s.outputSqnrDb)
    .map(Number)
    .sort((a, b) => b - a);
  const db = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(1)} dB` : '∞');
  const grids = [
    ...new Set([...Object.keys(s.gridOutputSqnrDb ?? {}), ...Object.keys(s.gridRefused ?? {})]),
  ].flatMap((name) => {
    const format = gridFormatOf(name);
    return format ? [{ name, label: `${format.grid} ${formatBits(format)} b` }] : [];
  });
  const gridCell = (name: string): string => {
    const v = s.gridOutputSqnrDb?.[name];
    return v === undefined ? '—' : db(v);
  };
  const refused = Object.entries(s.gridRefused ?? {}).map(
    ([name, why]) => `_${escapeMarkdown(name)} not measured: ${escapeMarkdown(why)}_`,
  );
  return [
    '**Output sensitivity** (model output SQNR with only this layer quantized, in ONNX Runtime):',
    '',
    `| bits | ${[...bits, ...grids.map((g) => g.label)].join(' | ')} |`,
    `|---|${[...bits, ...grids].map(() => '---:|').join('')}`,
    `| output SQNR | ${[...bits.map((b) => db(s.outputSqnrDb[b])), ...grids.map((g) => gridCell(g.name))].join(' | ')} |`,
    ...(refused.length > 0 ? ['', ...refused] : []),
  ];
}
