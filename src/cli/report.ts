/**
 * The human-readable analysis: a header, totals, the memory peak and why, the costliest layers,
 * the device verdict and diagnostics. Every figure comes from the AnalysisReport; this only
 * formats.
 */
import * as path from 'node:path';
import type { AnalysisReport, NodeReport, OutputReport } from '../core/analyze';
import { CONVENTION_NAMES } from '../core/cost/conventions';
import { showsZeroWeights } from '../core/cost/weightSparsity';
import { deviceEstimateTexts } from '../core/devices/deviceReport';
import { formatBytes, formatCount, formatPercent, formatSeconds } from '../core/format';
import { renderTable } from './table';

function shape(o: OutputReport): string {
  return o.shape ? `[${o.shape.join('×')}]` : '[?]';
}

function mark(severity: string): string {
  return severity === 'error' ? '✗' : severity === 'warning' ? '!' : 'i';
}

export function formatReport(r: AnalysisReport, top: number): string {
  const out: string[] = [];
  const t = r.totals;
  // Another tool's counting (--convention) is named in the header and on the totals line.
  const convention =
    r.convention && r.convention !== 'model-lens'
      ? `${CONVENTION_NAMES[r.convention]} convention`
      : undefined;
  out.push(
    `${path.basename(r.model.path) || 'model'} · ${r.model.producer || 'unknown producer'} · ${r.model.format} · ${formatBytes(r.model.fileBytes)} · ${r.nodes.length} nodes${convention ? ` · counted by the ${convention}` : ''}`,
  );
  out.push(`  in:  ${r.inputs.map((i) => `${i.name} ${i.dtype} ${shape(i)}`).join(', ')}`);
  out.push(`  out: ${r.outputs.map((o) => `${o.name} ${o.dtype} ${shape(o)}`).join(', ')}`);
  out.push('');
  // A node whose computation is unknown makes the counts lower bounds: say so, never a bare sum,
  // and a sum of 0 beside unknown nodes (Vela's one compiled operator) is no count at all.
  const unknown = t.uncountedNodes?.length ?? 0;
  const nodesText = `${unknown} node${unknown > 1 ? 's' : ''} of unknown cost`;
  const counted = (label: string, value: number): string =>
    unknown === 0
      ? `${label} ${formatCount(value)}`
      : value === 0
        ? `${label} unknown (${nodesText})`
        : `${label} ${formatCount(value)} (+ ${nodesText})`;
  out.push(
    `${counted('MACs', t.macs)}  ·  ${unknown > 0 && t.flops === 0 ? 'FLOPs unknown' : `FLOPs ${formatCount(t.flops)}`}  ·  params ${formatCount(t.params)}  ·  weights ${formatBytes(t.weightBytes)}${convention ? `  (${convention})` : ''}`,
  );
  out.push(...sparseLines(r));
  out.push(
    `Peak activation RAM ${formatBytes(t.peakActivationBytes)} (arena; lower bound ${formatBytes(t.activationLowerBoundBytes)}, all tensors at once ${formatBytes(t.naiveActivationBytes)})`,
  );
  if (r.memory.peakNode) {
    const live = r.memory.liveAtPeak
      .slice(0, 4)
      .map((l) => `${l.name} ${formatBytes(l.bytes)}`)
      .join(', ');
    const more = r.memory.liveAtPeak.length > 4 ? ` +${r.memory.liveAtPeak.length - 4} more` : '';
    out.push(`  peak while '${r.memory.peakNode}' runs; alive: ${live}${more}`);
  }
  const runtime = r.memory.runtime;
  if (runtime) {
    out.push(`  laid out by ${runtime.planner}`);
    out.push(
      `  persistent part about ${formatBytes(runtime.persistentEstimateBytes)} (${runtime.persistentNote})`,
    );
    if (runtime.stateTensors.length > 0) {
      out.push(
        `  state tensors ${formatBytes(runtime.stateBytes)} (${runtime.stateTensors.length}), kept apart from the arena, included in the persistent part`,
      );
    }
  }
  if (top > 0 && r.nodes.length > 0) {
    out.push('');
    out.push(`Top ${Math.min(top, r.nodes.length)} layers by MACs`);
    out.push(...layerTable(topLayers(r.nodes, top), r.device !== undefined).map((l) => `  ${l}`));
  }
  if (r.device) {
    const d = r.device;
    out.push('');
    const verdict = d.fits ? 'fits' : 'DOES NOT FIT';
    // Nodes of unknown cost add no compute: the estimates are lower bounds ("≥").
    const e = deviceEstimateTexts(d);
    const uncounted = d.uncountedNodes?.length ?? 0;
    out.push(
      `Device ${d.id} (${d.name}): ${verdict} · flash ${formatPercent(d.weightUse)} of ${formatBytes(d.weightBytesLimit)} · RAM ${formatPercent(d.ramUse)} of ${formatBytes(d.ramBytesLimit)} · ${e.latency} · ${e.energy} per inference${d.latencyIsLowerBound ? ` (lower bounds: ${uncounted} node${uncounted > 1 ? 's' : ''} of unknown cost)` : ''}`,
    );
    if (d.sparsity && r.nodes.some(showsZeroWeights)) out.push(`  sparsity: ${d.sparsity.note}`);
  }
  const diagnostics = r.diagnostics;
  if (diagnostics.length > 0) {
    out.push('');
    out.push('Diagnostics');
    const shown = diagnostics.slice(0, 30);
    for (const d of shown)
      out.push(`  ${mark(d.severity)} ${d.node ? `${d.node}: ` : ''}${d.message}`);
    if (diagnostics.length > shown.length)
      out.push(`  … ${diagnostics.length - shown.length} more (see --json)`);
  }
  return out.join('\n');
}

/** The sparse figures' totals line, when the model has zero weights or sparse storage. */
function sparseLines(r: AnalysisReport): string[] {
  const t = r.totals;
  const lines: string[] = [];
  if (t.sparseMacs !== undefined && r.nodes.some(showsZeroWeights)) {
    const patterns = new Map<string, number>();
    for (const n of r.nodes)
      if (n.nmPattern) patterns.set(n.nmPattern, (patterns.get(n.nmPattern) ?? 0) + 1);
    const nm = [...patterns].map(([p, k]) => `${k} layer${k > 1 ? 's' : ''} ${p}`).join(', ');
    lines.push(
      `Zero weights: MACs ${formatCount(t.sparseMacs)} if every zero is skipped (dense ${formatCount(t.macs)})${nm ? ` · N:M: ${nm}` : ''}`,
    );
  }
  if (t.storedWeightBytes !== undefined) {
    lines.push(
      `Weights as stored ${formatBytes(t.storedWeightBytes)} (sparse initializers; ONNX Runtime holds ${formatBytes(t.weightBytes)} dense)`,
    );
  }
  return lines;
}

function topLayers(nodes: readonly NodeReport[], top: number): NodeReport[] {
  return [...nodes]
    .filter((n) => n.macs > 0 || n.weightBytes > 0 || n.macsUnknown)
    .sort((a, b) => b.macs - a.macs || b.weightBytes - a.weightBytes)
    .slice(0, top);
}

function layerTable(nodes: readonly NodeReport[], withDevice: boolean): string[] {
  const columns = [
    { title: 'layer' },
    { title: 'op' },
    { title: 'output' },
    { title: 'MACs', align: 'right' as const },
    { title: '%', align: 'right' as const },
    { title: 'weights', align: 'right' as const },
    { title: 'activations', align: 'right' as const },
    { title: 'bits', align: 'right' as const },
    ...(withDevice ? [{ title: 'latency', align: 'right' as const }] : []),
  ];
  const rows = nodes.map((n) => [
    truncate(n.name, 32),
    n.op,
    n.outputs[0] ? shape(n.outputs[0]) : '',
    n.macsUnknown ? '?' : formatCount(n.macs),
    n.macsUnknown ? '?' : formatPercent(n.share.macs),
    formatBytes(n.weightBytes),
    formatBytes(n.activationBytes),
    n.suggestedWeightBits === null ? '–' : `${n.weightBits ?? '?'}→${n.suggestedWeightBits}`,
    ...(withDevice ? [n.macsUnknown ? '?' : formatSeconds(n.latencySeconds ?? 0)] : []),
  ]);
  return renderTable(columns, rows);
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `…${s.slice(s.length - n + 1)}`;
}
