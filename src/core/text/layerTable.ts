/**
 * The per-layer table, as ST Edge AI's `analyze` report has it: layer, op, output shape, MACs,
 * parameters, weight and activation bytes, bits, latency on the device (when one is given), and
 * each layer's share of the MACs, weights and activations. One function makes the rows
 * (`layerTable`); the CLI's `analyze --csv`, the markdown report and the editor's report view
 * only format them, so a figure is never computed twice.
 *
 * Shares: MACs and weights are the layer's share of the model totals (NodeReport.share);
 * activations are the layer's share of the column's sum (a tensor counts for the layer that makes
 * it and for each that reads it, as in `activationBytes`).
 */
import type { AnalysisReport, NodeReport } from '../report';
import { formatBytes, formatCount, formatPercent, formatSeconds } from '../format';

export interface LayerRow {
  /** Execution order (NodeReport.index). */
  readonly index: number;
  readonly name: string;
  readonly op: string;
  /** The first output's shape, `1×64×56×56`; `?` when unknown. */
  readonly outputShape: string;
  /** null when unknown (a custom operator: NodeReport.macsUnknown), never a 0 standing for it. */
  readonly macs: number | null;
  readonly params: number;
  readonly weightBytes: number;
  readonly activationBytes: number;
  /** Stored width of the main weight; null when the layer has none. */
  readonly weightBits: number | null;
  readonly suggestedWeightBits: number | null;
  /** On the report's device; undefined without one. */
  readonly latencySeconds?: number | null;
  /** Fractions (0–1). */
  readonly macsShare: number | null;
  readonly weightShare: number;
  readonly activationShare: number;
}

export type LayerColumnKey = Exclude<keyof LayerRow, 'suggestedWeightBits'>;

export interface LayerColumn {
  readonly key: LayerColumnKey;
  readonly title: string;
  readonly numeric: boolean;
}

export interface LayerTable {
  readonly columns: readonly LayerColumn[];
  readonly rows: readonly LayerRow[];
  /** The device the latency column is for. */
  readonly device?: string;
}

export function layerTable(r: AnalysisReport): LayerTable {
  const withLatency = r.device !== undefined;
  const activationSum = r.nodes.reduce((s, n) => s + n.activationBytes, 0);
  const rows = r.nodes.map((n): LayerRow => ({
    index: n.index,
    name: n.name,
    op: n.op,
    outputShape: shapeOf(n),
    macs: n.macsUnknown ? null : n.macs,
    params: n.params,
    weightBytes: n.weightBytes,
    activationBytes: n.activationBytes,
    weightBits: n.weightBits,
    suggestedWeightBits: n.suggestedWeightBits,
    // A node of unknown cost has no latency or MACs share either: null, never a 0 standing for it.
    ...(withLatency ? { latencySeconds: n.macsUnknown ? null : (n.latencySeconds ?? 0) } : {}),
    macsShare: n.macsUnknown ? null : n.share.macs,
    weightShare: n.share.weightBytes,
    activationShare: activationSum > 0 ? n.activationBytes / activationSum : 0,
  }));
  const columns: LayerColumn[] = [
    { key: 'index', title: '#', numeric: true },
    { key: 'name', title: 'layer', numeric: false },
    { key: 'op', title: 'op', numeric: false },
    { key: 'outputShape', title: 'output shape', numeric: false },
    { key: 'macs', title: 'MACs', numeric: true },
    { key: 'params', title: 'params', numeric: true },
    { key: 'weightBytes', title: 'weight bytes', numeric: true },
    { key: 'activationBytes', title: 'activation bytes', numeric: true },
    { key: 'weightBits', title: 'bits', numeric: true },
    ...(withLatency ? [{ key: 'latencySeconds' as const, title: 'latency', numeric: true }] : []),
    { key: 'macsShare', title: 'MACs %', numeric: true },
    { key: 'weightShare', title: 'weights %', numeric: true },
    { key: 'activationShare', title: 'activations %', numeric: true },
  ];
  return { columns, rows, ...(r.device ? { device: r.device.id } : {}) };
}

function shapeOf(n: NodeReport): string {
  const out = n.outputs[0];
  return out?.shape ? out.shape.join('×') : '?';
}

/** A cell for people: units, percentages, `32→8` bits. */
export function displayCell(row: LayerRow, key: LayerColumnKey): string {
  switch (key) {
    case 'index':
      return String(row.index);
    case 'name':
    case 'op':
    case 'outputShape':
      return row[key];
    case 'macs':
      return row.macs === null ? '?' : formatCount(row.macs);
    case 'params':
      return formatCount(row[key]);
    case 'weightBytes':
    case 'activationBytes':
      return formatBytes(row[key]);
    case 'weightBits':
      return bitsText(row, '→');
    case 'latencySeconds':
      return row.latencySeconds === undefined
        ? ''
        : row.latencySeconds === null
          ? '?'
          : formatSeconds(row.latencySeconds);
    case 'macsShare':
      return row.macsShare === null ? '?' : formatPercent(row.macsShare);
    case 'weightShare':
    case 'activationShare':
      return formatPercent(row[key]);
  }
}

/** The value a column sorts by: numbers for numeric columns (null sorts as -1), text otherwise. */
export function sortKey(row: LayerRow, key: LayerColumnKey): number | string {
  const v = row[key];
  if (typeof v === 'string') return v;
  return v ?? -1;
}

function bitsText(row: LayerRow, arrow: string): string {
  if (row.weightBits === null && row.suggestedWeightBits === null) return '';
  if (row.suggestedWeightBits === null || row.suggestedWeightBits === row.weightBits)
    return String(row.weightBits ?? '?');
  return `${row.weightBits ?? '?'}${arrow}${row.suggestedWeightBits}`;
}

/** A CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF; quotes doubled. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Percent with two decimals, as a plain number for spreadsheets. */
function percentNumber(fraction: number): string {
  return (fraction * 100).toFixed(2);
}

/**
 * The table as CSV (RFC 4180: CRLF line ends, a header row, quoted fields where needed). Figures
 * are plain numbers (counts, bytes, seconds, percent with two decimals); bits are the stored width
 * and the suggested one in two columns. `model-lens analyze FILE --csv` prints exactly this, and
 * the editor's report exports it.
 */
export function layerTableCsv(t: LayerTable): string {
  const withLatency = t.columns.some((c) => c.key === 'latencySeconds');
  const header = [
    'index',
    'layer',
    'op',
    'output shape',
    'MACs',
    'params',
    'weight bytes',
    'activation bytes',
    'weight bits',
    'suggested bits',
    ...(withLatency ? ['latency s'] : []),
    'MACs %',
    'weights %',
    'activations %',
  ];
  const lines = [header.map(csvField).join(',')];
  for (const r of t.rows) {
    const fields = [
      String(r.index),
      r.name,
      r.op,
      r.outputShape,
      r.macs === null ? '' : String(r.macs),
      String(r.params),
      String(r.weightBytes),
      String(r.activationBytes),
      r.weightBits === null ? '' : String(r.weightBits),
      r.suggestedWeightBits === null ? '' : String(r.suggestedWeightBits),
      ...(withLatency ? [r.latencySeconds === null ? '' : String(r.latencySeconds ?? 0)] : []),
      r.macsShare === null ? '' : percentNumber(r.macsShare),
      percentNumber(r.weightShare),
      percentNumber(r.activationShare),
    ];
    lines.push(fields.map(csvField).join(','));
  }
  return lines.map((l) => `${l}\r\n`).join('');
}

function markdownCell(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n|\r/g, ' ');
}

/** The table as a markdown (GFM) table, with the figures as people read them. */
export function layerTableMarkdown(t: LayerTable): string {
  const lines = [
    `| ${t.columns.map((c) => (c.key === 'latencySeconds' && t.device ? `latency (${markdownCell(t.device)})` : c.title)).join(' | ')} |`,
    `|${t.columns.map((c) => (c.numeric ? '---:|' : '---|')).join('')}`,
  ];
  for (const r of t.rows) {
    const cells = t.columns.map((c) => {
      const text = displayCell(r, c.key);
      // In a code span backslashes are literal: only the table's pipe needs its escape there.
      if (c.key === 'name' && text)
        return `\`${text
          .replace(/`/g, "'")
          .replace(/\|/g, '\\|')
          .replace(/\r?\n|\r/g, ' ')}\``;
      return markdownCell(text);
    });
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n') + '\n';
}
