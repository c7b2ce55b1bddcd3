/**
 * The model report as markdown, for the editor's Show Report command (and anyone who wants a
 * document rather than a terminal table): totals, memory peak, device verdict, then every layer.
 */
import type { AnalysisReport } from '../report';
import { layerTable, layerTableMarkdown } from './layerTable';
import { formatBytes, formatCount, formatJoules, formatPercent, formatSeconds } from '../format';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownReport(r: AnalysisReport, title: string): string {
  const t = r.totals;
  const lines: string[] = [`# Model Lens report: ${cell(title)}`, ''];
  lines.push(
    `Producer ${cell(r.model.producer || 'unknown')} · ${cell(r.model.format)} · ${r.nodes.length} nodes · file ${formatBytes(r.model.fileBytes)}`,
    '',
    '| total | value |',
    '|---|---:|',
    `| MACs | ${formatCount(t.macs)} |`,
    `| FLOPs | ${formatCount(t.flops)} |`,
    `| parameters | ${formatCount(t.params)} |`,
    `| weight memory | ${formatBytes(t.weightBytes)} |`,
    `| peak activation RAM (arena) | ${formatBytes(t.peakActivationBytes)} |`,
    `| activation lower bound | ${formatBytes(t.activationLowerBoundBytes)} |`,
    `| all activations at once | ${formatBytes(t.naiveActivationBytes)} |`,
    '',
  );
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
    lines.push(
      `## Device: ${cell(d.name)} (\`${d.id}\`) — ${d.fits ? 'fits' : '**does not fit**'}`,
      '',
      `Flash ${formatPercent(d.weightUse)} of ${formatBytes(d.weightBytesLimit)} · RAM ${formatPercent(d.ramUse)} of ${formatBytes(d.ramBytesLimit)} · about ${formatSeconds(d.latencySeconds)} and ${formatJoules(d.energyJoules)} per inference.`,
      '',
      ...d.diagnostics.map(
        (x) => `- **${x.severity}**${x.node ? ` \`${cell(x.node)}\`` : ''}: ${cell(x.message)}`,
      ),
      '',
    );
  }
  lines.push('## Layers', '', layerTableMarkdown(layerTable(r)));
  lines.push(
    `_Conventions: MACs count multiply-accumulates of Conv, ConvTranspose, Gemm/MatMul, attention and recurrent layers; FLOPs = 2 × MACs + one per element for bias, elementwise, activation, pooling and normalisation; activations are a layer's non-constant inputs plus outputs, and its activation share is of the column's sum; bits are stored → suggested; symbolic dimensions count as 1; suggested widths keep a weight SQNR of ${r.errorTargetDb} dB._`,
  );
  return lines.join('\n') + '\n';
}
