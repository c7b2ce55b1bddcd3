/**
 * How the server shows a layer's figures: the inline annotation, the hover, and the text that
 * Copy Layer Figures puts on the clipboard. Figures come from the core's report; this formats.
 */
import type { AnalysisReport, NodeReport } from '../core/analyze';
import {
  formatBytes,
  formatCount,
  formatJoules,
  formatPercent,
  formatSeconds,
} from '../core/format';
import type { AnalyzerSettings } from '../shared/protocol';

/** `118 M MACs · W 37 KiB · A 3.6 MiB · 32→6 b`, with the parts the settings ask for. */
export function annotation(n: NodeReport, show: AnalyzerSettings['annotations']): string {
  const parts: string[] = [];
  if (show.macs && n.macs > 0) parts.push(`${formatCount(n.macs)} MACs`);
  if (show.weights && n.weightBytes > 0) parts.push(`W ${formatBytes(n.weightBytes)}`);
  if (show.activations && n.activationBytes > 0) parts.push(`A ${formatBytes(n.activationBytes)}`);
  if (show.bits && n.suggestedWeightBits !== null)
    parts.push(`${n.weightBits ?? '?'}→${n.suggestedWeightBits} b`);
  return parts.join(' · ');
}

function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (c) => `\\${c}`);
}

/** The hover: every figure of the layer, the device estimates, and why we suggest its width. */
export function layerMarkdown(n: NodeReport, report: AnalysisReport): string {
  const out = n.outputs
    .map((o) => `${o.dtype} ${o.shape ? `[${o.shape.join('×')}]` : '[?]'}`)
    .join(', ');
  const rows: [string, string][] = [
    ['MACs', `${formatCount(n.macs)} (${formatPercent(n.share.macs)} of the model)`],
    ['FLOPs · BOPs', `${formatCount(n.flops)} · ${formatCount(n.bops)}`],
    ['parameters', `${formatCount(n.params)} (${formatPercent(n.share.params)})`],
  ];
  if (n.weightBytes > 0) {
    const now = `${formatBytes(n.weightBytes)} at ${n.weightBits ?? '?'}-bit`;
    const suggested =
      n.suggestedWeightBytes !== null && n.suggestedWeightBits !== n.weightBits
        ? ` · ${formatBytes(n.suggestedWeightBytes)} at ${n.suggestedWeightBits}-bit (suggested)`
        : '';
    rows.push(['weight memory', now + suggested]);
  }
  rows.push(['feature maps (in + out)', formatBytes(n.activationBytes)]);
  if (report.device && n.latencySeconds !== undefined) {
    rows.push([
      `on ${escapeMarkdown(report.device.id)}`,
      `~${formatSeconds(n.latencySeconds)} · ~${formatJoules(n.energyJoules ?? 0)}`,
    ]);
  }
  const lines = [
    `**${escapeMarkdown(n.op)}** \`${n.name.replace(/`/g, "'")}\` → ${escapeMarkdown(out)}`,
    '',
    '| | |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
  ];
  if (n.weightSqnrDb) {
    const target = report.errorTargetDb;
    const curve = Object.entries(n.weightSqnrDb)
      .sort((a, b) => Number(b[0]) - Number(a[0]))
      .map(
        ([bits, db]) =>
          `${bits} b: ${Number.isFinite(db) ? db.toFixed(1) : '∞'} dB${db >= target ? ' ✓' : ''}`,
      )
      .join(' · ');
    lines.push(
      '',
      `**Why ${n.suggestedWeightBits}-bit:** weight SQNR per output channel (target ${target} dB): ${curve}`,
    );
  }
  lines.push(
    '',
    '_MACs: multiply-accumulates of linear layers (Conv: outputs × Cin/groups × kernel). FLOPs = 2 × MACs + elementwise. Feature maps: non-constant inputs + outputs. Symbolic dims count as 1._',
  );
  return lines.join('\n');
}
