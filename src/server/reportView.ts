/**
 * The report view's data (src/shared/reportProtocol.ts): the per-layer table of
 * src/core/text/layerTable.ts as display cells and sort keys, its CSV and the markdown report.
 * Only formats: every figure is the core's.
 */
import * as path from 'node:path';
import type { AnalysisReport } from '../core/analyze';
import { CONVENTION_NAMES } from '../core/cost/conventions';
import { deviceEstimateTexts } from '../core/devices/deviceReport';
import { formatBytes, formatCount, formatPercent } from '../core/format';
import { displayCell, layerTable, layerTableCsv, sortKey } from '../core/text/layerTable';
import { markdownReport } from '../core/text/markdownReport';
import type { ReportView } from '../shared/reportProtocol';
import type { DeviceProfile } from '../core/devices';

export function reportView(
  r: AnalysisReport,
  modelPath: string,
  profiles?: readonly DeviceProfile[],
): ReportView {
  const table = layerTable(r);
  const t = r.totals;
  const summary = [
    `${r.nodes.length} layers · MACs ${macsText(r)} · params ${formatCount(t.params)} · weights ${formatBytes(t.weightBytes)} · peak activation RAM ${formatBytes(t.peakActivationBytes)}`,
  ];
  if (r.convention && r.convention !== 'model-lens') {
    summary.push(`Counted by the ${CONVENTION_NAMES[r.convention]} convention.`);
  }
  const unknown = t.uncountedNodes ?? [];
  if (unknown.length > 0) {
    summary.push(
      `MACs unknown for ${unknown.length} layer${unknown.length > 1 ? 's' : ''} (${unknown.slice(0, 3).join(', ')}${unknown.length > 3 ? ', …' : ''}): a custom operator whose computation is not known; the totals leave them out.`,
    );
  }
  if (r.memory.peakNode) summary.push(`Activation memory peaks while ${r.memory.peakNode} runs.`);
  if (r.device) {
    const d = r.device;
    const e = deviceEstimateTexts(d);
    summary.push(
      `Device ${d.id} (${d.name}): ${d.fits ? 'fits' : 'does not fit'} · flash ${formatPercent(d.weightUse)} · RAM ${formatPercent(d.ramUse)} · ${e.latency} per inference${d.latencyIsLowerBound ? ' (a lower bound: layers of unknown MACs are not counted)' : ''}`,
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
    markdown: markdownReport(r, modelPath, profiles),
  };
}

/** "7.16 M", "unknown" when every layer's MACs are, "2 M + 1 unknown" when some are. */
function macsText(r: AnalysisReport): string {
  const unknown = r.totals.uncountedNodes?.length ?? 0;
  if (unknown === 0) return formatCount(r.totals.macs);
  return r.totals.macs === 0 ? 'unknown' : `${formatCount(r.totals.macs)} + ${unknown} unknown`;
}
