/**
 * The report view's data (src/shared/reportProtocol.ts): the per-layer table of
 * src/core/text/layerTable.ts as display cells and sort keys, its CSV and the markdown report.
 * Only formats: every figure is the core's.
 */
import * as path from 'node:path';
import type { AnalysisReport } from '../core/analyze';
import { formatBytes, formatCount, formatPercent, formatSeconds } from '../core/format';
import { displayCell, layerTable, layerTableCsv, sortKey } from '../core/text/layerTable';
import { markdownReport } from '../core/text/markdownReport';
import type { ReportView } from '../shared/reportProtocol';

export function reportView(r: AnalysisReport, modelPath: string): ReportView {
  const table = layerTable(r);
  const t = r.totals;
  const summary = [
    `${r.nodes.length} layers · MACs ${formatCount(t.macs)} · params ${formatCount(t.params)} · weights ${formatBytes(t.weightBytes)} · peak activation RAM ${formatBytes(t.peakActivationBytes)}`,
  ];
  if (r.memory.peakNode) summary.push(`Activation memory peaks while ${r.memory.peakNode} runs.`);
  if (r.device) {
    const d = r.device;
    summary.push(
      `Device ${d.id} (${d.name}): ${d.fits ? 'fits' : 'does not fit'} · flash ${formatPercent(d.weightUse)} · RAM ${formatPercent(d.ramUse)} · ~${formatSeconds(d.latencySeconds)} per inference`,
    );
  }
  return {
    title: path.basename(modelPath),
    summary,
    columns: table.columns.map((c) => ({
      key: c.key,
      title: c.key === 'latencySeconds' && table.device ? `latency (${table.device})` : c.title,
      numeric: c.numeric,
    })),
    rows: table.rows.map((row) => ({
      cells: table.columns.map((c) => displayCell(row, c.key)),
      keys: table.columns.map((c) => sortKey(row, c.key)),
    })),
    csv: layerTableCsv(table),
    markdown: markdownReport(r, modelPath),
  };
}
