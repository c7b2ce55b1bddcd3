/**
 * The model report as markdown, for the editor's Show Report command (and anyone who wants a
 * document rather than a terminal table): totals, memory peak, device verdict, then every layer.
 */
import type { AnalysisReport } from '../report';
import { CONVENTION_NAMES, CONVENTION_NOTES } from '../cost/conventions';
import { deviceEstimateTexts } from '../devices/deviceReport';
import { BUILTIN_DEVICES, type DeviceProfile } from '../devices';
import { modelExploiters } from '../devices/sparsity';
import { showsZeroWeights } from '../cost/weightSparsity';
import { layerTable, layerTableMarkdown } from './layerTable';
import { formatBytes, formatCount, formatJoules, formatPercent, formatSeconds } from '../format';

/**
 * Which layers have zero weights, with which N:M pattern, and which device profiles skip them
 * (devices/sparsity.ts); nothing for a model without zero weights.
 */
function zeroWeightSection(r: AnalysisReport, profiles: readonly DeviceProfile[]): string[] {
  const sparseMacs = r.totals.sparseMacs;
  if (sparseMacs === undefined || !r.nodes.some(showsZeroWeights)) return [];
  const layers = r.nodes.filter((n) => n.sparseMacs !== undefined);
  const patterns = new Map<string, number>();
  for (const n of layers)
    if (n.nmPattern) patterns.set(n.nmPattern, (patterns.get(n.nmPattern) ?? 0) + 1);
  const nm = [...patterns].map(([p, k]) => `${k} follow${k === 1 ? 's' : ''} ${p}`).join(', ');
  const devices = modelExploiters(r.nodes, profiles);
  return [
    '## Zero weights',
    '',
    `${layers.length} layer${layers.length === 1 ? ' has' : 's have'} zero weights${nm ? ` (${nm})` : ''}: ${formatCount(sparseMacs)} MACs if every zero is skipped, against ${formatCount(r.totals.macs)} dense.`,
    '',
    devices.length > 0
      ? `Devices that skip them: ${devices.map((d) => `\`${cell(d.id)}\` (${d.report.exploited.length} layer${d.report.exploited.length === 1 ? '' : 's'}, ${formatCount(d.report.macs)} MACs)`).join(', ')}; the other profiles run the dense MACs.`
      : `None of the ${profiles.length} device profiles skips them: each runs the dense MACs (a profile declares the capability with \`"sparsity": { "nm": ["2:4"] }\`).`,
    '',
  ];
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/**
 * The report. Its zero-weight section names which of `profiles` skip the model's zeros: the
 * built-ins, unless the caller has the user's profiles too.
 */
export function markdownReport(
  r: AnalysisReport,
  title: string,
  profiles: readonly DeviceProfile[] = BUILTIN_DEVICES,
): string {
  const t = r.totals;
  const lines: string[] = [`# Model Lens report: ${cell(title)}`, ''];
  const convention = r.convention && r.convention !== 'model-lens' ? r.convention : undefined;
  // Layers of unknown MACs (a custom operator): the sums leave them out, so they say so.
  const unknown = t.uncountedNodes ?? [];
  const counted = (value: number): string =>
    unknown.length === 0
      ? formatCount(value)
      : value === 0
        ? `unknown (${unknown.length} layer${unknown.length > 1 ? 's' : ''} of unknown cost)`
        : `${formatCount(value)} + ${unknown.length} layer${unknown.length > 1 ? 's' : ''} of unknown cost`;
  lines.push(
    `Producer ${cell(r.model.producer || 'unknown')} · ${cell(r.model.format)} · ${r.nodes.length} nodes · file ${formatBytes(r.model.fileBytes)}${convention ? ` · counted by the ${CONVENTION_NAMES[convention]} convention` : ''}`,
    '',
    '| total | value |',
    '|---|---:|',
    `| MACs | ${counted(t.macs)} |`,
    `| FLOPs | ${counted(t.flops)} |`,
    `| parameters | ${formatCount(t.params)} |`,
    `| weight memory | ${formatBytes(t.weightBytes)} |`,
    ...(t.storedWeightBytes !== undefined
      ? [`| weight memory as stored (sparse initializers) | ${formatBytes(t.storedWeightBytes)} |`]
      : []),
    ...(t.sparseMacs !== undefined && r.nodes.some(showsZeroWeights)
      ? [`| MACs if every zero weight is skipped | ${formatCount(t.sparseMacs)} |`]
      : []),
    `| peak activation RAM (arena) | ${formatBytes(t.peakActivationBytes)} |`,
    `| activation lower bound | ${formatBytes(t.activationLowerBoundBytes)} |`,
    `| all activations at once | ${formatBytes(t.naiveActivationBytes)} |`,
    '',
  );
  if (unknown.length > 0) {
    lines.push(
      `MACs unknown for ${unknown.map((n) => `\`${cell(n)}\``).join(', ')}: what a custom operator computes is not known, so it counts as unknown (?), never 0.`,
      '',
    );
  }
  if (r.memory.peakNode) {
    const live = r.memory.liveAtPeak
      .map((l) => `\`${cell(l.name)}\` ${formatBytes(l.bytes)}`)
      .join(', ');
    lines.push(
      `Activation memory peaks while \`${cell(r.memory.peakNode)}\` runs; alive then: ${live}.`,
      '',
    );
  }
  if (r.device) {
    const d = r.device;
    const e = d.latencyIsLowerBound
      ? deviceEstimateTexts(d)
      : {
          latency: `about ${formatSeconds(d.latencySeconds)}`,
          energy: formatJoules(d.energyJoules),
        };
    lines.push(
      `## Device: ${cell(d.name)} (\`${d.id}\`) — ${d.fits ? 'fits' : '**does not fit**'}`,
      '',
      `Flash ${formatPercent(d.weightUse)} of ${formatBytes(d.weightBytesLimit)} · RAM ${formatPercent(d.ramUse)} of ${formatBytes(d.ramBytesLimit)} · ${e.latency} and ${e.energy} per inference${d.latencyIsLowerBound ? ' (lower bounds: the compute of layers of unknown MACs is not counted)' : ''}.`,
      '',
      ...(d.sparsity && r.nodes.some(showsZeroWeights)
        ? [`Zero weights: ${cell(d.sparsity.note)}.`, '']
        : []),
      ...d.diagnostics.map(
        (x) => `- **${x.severity}**${x.node ? ` \`${cell(x.node)}\`` : ''}: ${cell(x.message)}`,
      ),
      '',
    );
  }
  lines.push(...zeroWeightSection(r, profiles));
  lines.push('## Layers', '', layerTableMarkdown(layerTable(r)));
  lines.push(
    `_Conventions: MACs count multiply-accumulates of Conv, ConvTranspose, Gemm/MatMul, attention and recurrent layers; FLOPs = 2 × MACs + one per element for bias, elementwise, activation, pooling and normalisation; activations are a layer's non-constant inputs plus outputs, and its activation share is of the column's sum; bits are stored → suggested; symbolic dimensions count as 1; suggested widths keep a weight SQNR of ${r.errorTargetDb} dB._`,
  );
  if (convention) lines.push('', `_${cell(CONVENTION_NOTES[convention])}_`);
  return lines.join('\n') + '\n';
}
