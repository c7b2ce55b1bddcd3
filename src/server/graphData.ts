/**
 * The graph view's data, built from an open model's analysis: the collapsed view
 * (src/core/graph/view.ts), each drawn node's figures formatted by src/core/format.ts and its raw
 * values for coloring, the edges with their tensor shapes, and the memory timeline. The webview
 * draws this and computes nothing. The other formats' weight SQNR, which the analysis leaves out,
 * is measured for the node the side panel shows (nodeFormatsValue), as the hover measures it.
 */
import type { AnalysisReport, NodeReport, OutputReport } from '../core/analyze';
import type { LayerSensitivity } from '../core/advisor/sensitivity';
import { formatBytes, formatCount } from '../core/format';
import { buildViewModel, nodeIds, type ViewItem } from '../core/graph/view';
import { withWeightFormats, type FormatSource } from './layerFormats';
import { formatsCurve, layerRows, sqnrCurve } from './presentation';
import {
  OTHER_FORMATS_LABEL,
  type FoldedGroup,
  type GraphData,
  type GraphEdge,
  type GraphMemory,
  type GraphNode,
  type MetricId,
} from '../shared/graphProtocol';

/** What graph data needs from an OpenModel (modelStore.ts); `sensitivity` is optional. */
export interface GraphSource extends FormatSource {
  readonly path: string;
  readonly error?: string;
  readonly problem?: string;
  readonly report?: AnalysisReport;
  readonly linesByNode: ReadonlyMap<string, number>;
  readonly sensitivity?: ReadonlyMap<string, LayerSensitivity>;
}

/** The width whose output SQNR colors "sensitivity": the lowest usual candidate. */
export const SENSITIVITY_BITS = 4;

export function shapeText(o: OutputReport): string {
  return o.shape ? o.shape.join('×') || 'scalar' : '?';
}

export function viewInputOf(report: AnalysisReport) {
  return {
    nodes: report.nodes.map((n) => ({
      name: n.name,
      op: n.op,
      inputs: n.inputs,
      outputs: n.outputs.map((o) => o.name),
    })),
    graphInputs: report.inputs.map((i) => i.name),
    graphOutputs: report.outputs.map((o) => o.name),
  };
}

export function buildGraphData(
  uri: string,
  model: GraphSource,
  expanded: readonly string[],
  version: number,
): GraphData {
  const title = model.path.split(/[\\/]/).pop() ?? model.path;
  const report = model.report;
  if (!report) {
    return {
      uri,
      title,
      version,
      nodes: [],
      edges: [],
      expanded: [],
      memory: emptyMemory(),
      counts: { modelNodes: 0, collapsed: 0 },
      device: null,
      error: model.error ?? model.problem ?? 'the model has no analysis',
    };
  }
  const view = buildViewModel(viewInputOf(report), new Set(expanded));
  const shapes = tensorShapes(report);
  const nodes = view.items.map((item) => drawnNode(item, report, model));
  const edges: GraphEdge[] = view.edges.map((e) => ({
    from: e.from,
    to: e.to,
    tensor: e.tensor,
    shape: shapes.get(e.tensor) ?? '?',
  }));
  return {
    uri,
    title,
    version,
    nodes,
    edges,
    expanded: view.groups.filter((g) => expanded.includes(g.id)).map((g) => g.id),
    memory: memoryOf(report),
    counts: { modelNodes: report.nodes.length, collapsed: view.collapsedCount },
    device: report.device?.id ?? null,
  };
}

function tensorShapes(report: AnalysisReport): Map<string, string> {
  const shapes = new Map<string, string>();
  for (const t of report.inputs) shapes.set(t.name, `${t.dtype} ${shapeText(t)}`);
  for (const n of report.nodes)
    for (const o of n.outputs) shapes.set(o.name, `${o.dtype} ${shapeText(o)}`);
  return shapes;
}

function drawnNode(item: ViewItem, report: AnalysisReport, model: GraphSource): GraphNode {
  if (item.node === undefined) return groupNode(item, report, model);
  const n = report.nodes[item.node];
  const sqnr = sensitivityOf(n, model);
  const bits = n.suggestedWeightBits ?? n.weightBits;
  const metrics: Record<MetricId, number | null> = {
    // Unknown MACs (a custom operator) are no value to color by, never a 0.
    macs: n.macsUnknown ? null : n.macs,
    weightBytes: n.weightBytes,
    activationBytes: n.activationBytes,
    bits,
    sensitivity: sqnr,
  };
  return {
    id: item.id,
    kind: 'node',
    name: n.name,
    op: n.op,
    shape: n.outputs.map(shapeText).join(', '),
    line: model.linesByNode.get(n.name) ?? null,
    lines: linesOf(item, report, model),
    step: n.index,
    metrics,
    labels: {
      macs: n.macsUnknown ? '? MACs' : `${formatCount(n.macs)} MACs`,
      weightBytes: `W ${formatBytes(n.weightBytes)}`,
      activationBytes: `A ${formatBytes(n.activationBytes)}`,
      bits: bitsLabel(n),
      sensitivity: sqnr === null ? 'not measured' : `${sqnr.toFixed(1)} dB @${SENSITIVITY_BITS} b`,
    },
    ...nodeFigures(n, report, sqnr, model),
    weights: item.weights,
    folded: foldedOf(item),
  };
}

function linesOf(item: ViewItem, report: AnalysisReport, model: GraphSource): number[] {
  const indices = [
    ...(item.node !== undefined ? [item.node] : []),
    ...(item.group?.members ?? []),
    ...item.folded.flatMap((g) => g.members),
  ];
  return indices.flatMap((i) => {
    const line = model.linesByNode.get(report.nodes[i].name);
    return line === undefined ? [] : [line];
  });
}

function foldedOf(item: ViewItem): FoldedGroup[] {
  return item.folded.map((g) => ({ id: g.id, kind: g.kind, members: g.members.length }));
}

function bitsLabel(n: NodeReport): string {
  if (n.weightBits === null) return 'no weights';
  if (n.suggestedWeightBits === null || n.suggestedWeightBits === n.weightBits)
    return `${n.weightBits} b`;
  return `${n.weightBits}→${n.suggestedWeightBits} b`;
}

function sensitivityOf(n: NodeReport, model: GraphSource): number | null {
  const db = model.sensitivity?.get(n.name)?.outputSqnrDb[SENSITIVITY_BITS];
  return db === undefined || !Number.isFinite(db) ? null : db;
}

/**
 * The side panel's rows: the hover's figures (presentation.ts), as label/value pairs, and where
 * the other formats' row goes when the panel measures it (the analysis left it out).
 */
function nodeFigures(
  n: NodeReport,
  report: AnalysisReport,
  sqnr: number | null,
  model: GraphSource,
): { figures: [string, string][]; formatsAt?: number } {
  const rows: [string, string][] = [
    ['op', n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.op}` : n.op],
    ['outputs', n.outputs.map((o) => `${o.dtype} ${shapeText(o)}`).join(', ') || '—'],
    ...layerRows(n, report),
    ['weight bits', bitsLabel(n)],
  ];
  if (n.weightSqnrDb) {
    rows.push([
      `weight SQNR (target ${report.errorTargetDb} dB)`,
      sqnrCurve(n.weightSqnrDb, report.errorTargetDb),
    ]);
  }
  // Measurable as withWeightFormats measures it: a float weight the analysis sampled.
  const formatsAt =
    !n.weightFormatSqnrDb && n.weightSqnrDb && model.loaded ? rows.length : undefined;
  if (n.weightFormatSqnrDb)
    rows.push([OTHER_FORMATS_LABEL, formatsValue(n.weightFormatSqnrDb, report)]);
  rows.push([
    `output SQNR @${SENSITIVITY_BITS} b`,
    sqnr !== null
      ? `${sqnr.toFixed(1)} dB`
      : model.sensitivity !== undefined
        ? '—'
        : 'not measured',
  ]);
  return formatsAt === undefined ? { figures: rows } : { figures: rows, formatsAt };
}

/** The other formats' row value: the hover's own curve (presentation.ts formatsCurve). */
function formatsValue(
  formats: NonNullable<NodeReport['weightFormatSqnrDb']>,
  report: AnalysisReport,
): string {
  return formatsCurve(formats, report.errorTargetDb);
}

/** Drawn node id → index in report.nodes, per report (ids as buildViewModel gives them). */
const nodeIndexCache = new WeakMap<AnalysisReport, Map<string, number>>();

/**
 * The other formats' row value of the drawn node `id`, measured now for that layer alone, or
 * taken from the cache the hover fills (layerFormats.ts): the panel and the hover share one
 * measurement per model state and layer. Null when the node is unknown or has no float weight.
 */
export function nodeFormatsValue(model: GraphSource, id: string): string | null {
  const report = model.report;
  if (!report) return null;
  let byId = nodeIndexCache.get(report);
  if (!byId) {
    byId = new Map(nodeIds(viewInputOf(report).nodes).map((nodeId, i) => [nodeId, i]));
    nodeIndexCache.set(report, byId);
  }
  const index = byId.get(id);
  if (index === undefined) return null;
  const formats = withWeightFormats(model, report.nodes[index]).weightFormatSqnrDb;
  return formats ? formatsValue(formats, report) : null;
}

/** A collapsed shape sub-graph: its members' op counts; costs summed from the report. */
function groupNode(item: ViewItem, report: AnalysisReport, model: GraphSource): GraphNode {
  const group = item.group!;
  const members = group.members.map((i) => report.nodes[i]);
  const macs = members.reduce((s, n) => s + n.macs, 0);
  const unknownMacs = members.some((n) => n.macsUnknown);
  const weightBytes = members.reduce((s, n) => s + n.weightBytes, 0);
  const ops = new Map<string, number>();
  for (const m of members) ops.set(m.op, (ops.get(m.op) ?? 0) + 1);
  const opList = [...ops].map(([op, k]) => (k > 1 ? `${op}×${k}` : op)).join(' ');
  return {
    id: item.id,
    kind: 'group',
    name: `${members.length} nodes: ${opList}`,
    op: 'shape sub-graph',
    shape: members[members.length - 1].outputs.map(shapeText).join(', '),
    line: model.linesByNode.get(members[0].name) ?? null,
    lines: linesOf(item, report, model),
    step: members[0].index,
    metrics: {
      macs: unknownMacs ? null : macs,
      weightBytes,
      activationBytes: null,
      bits: null,
      sensitivity: null,
    },
    labels: {
      macs: unknownMacs
        ? `${macs > 0 ? `${formatCount(macs)} + ` : ''}? MACs`
        : `${formatCount(macs)} MACs`,
      weightBytes: `W ${formatBytes(weightBytes)}`,
      activationBytes: 'constant',
      bits: '—',
      sensitivity: '—',
    },
    figures: [
      ['collapsed', `${members.length} nodes computing constant shapes`],
      ['ops', opList],
      ['first', members[0].name],
      ['last', members[members.length - 1].name],
    ],
    group: { kind: group.kind, members: members.length },
    weights: item.weights,
    folded: foldedOf(item),
  };
}

function memoryOf(report: AnalysisReport): GraphMemory {
  const ram = report.device?.ramBytesLimit ?? null;
  return {
    steps: report.memory.liveBytesPerStep.map((bytes, i) => ({
      node: report.nodes[i]?.name ?? '',
      liveBytes: bytes,
      liveLabel: formatBytes(bytes),
    })),
    peakActivationBytes: report.totals.peakActivationBytes,
    peakLabel: formatBytes(report.totals.peakActivationBytes),
    peakStep: report.memory.peakStep,
    ramBytes: ram,
    ramLabel: ram === null ? null : formatBytes(ram),
  };
}

function emptyMemory(): GraphMemory {
  return {
    steps: [],
    peakActivationBytes: 0,
    peakLabel: formatBytes(0),
    peakStep: -1,
    ramBytes: null,
    ramLabel: null,
  };
}
