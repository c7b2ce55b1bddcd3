/**
 * The device part of a report: the fit rules over the model's figures, and latency and energy
 * per layer and in total. A node whose MACs are unknown (NodeReport.macsUnknown) adds no compute
 * to either: the totals are then marked as lower bounds (DeviceReport.latencyIsLowerBound, the
 * nodes in `uncountedNodes`) and an info diagnostic names them, never a silent 0. `runtimeTensors` are the tensors that exist while the model runs
 * (memory/activations.ts): a layer none of whose outputs is one of them is folded at analysis
 * time, and only they are checked against the device's activation precisions. Latency and energy
 * count the MACs the device executes: dense, less the zeros its `sparsity` capability skips
 * (sparsity.ts, which also makes the report's `sparsity` part).
 */
import { formatJoules, formatSeconds } from '../format';
import { dtypeBits, dtypeName, isFloatType } from '../onnx/dtype';
import type { AnalysisReport, DeviceReport, Diagnostic, NodeReport } from '../report';
import type { RuntimeTensor } from '../memory/activations';
import { checkFit, type ActivationFigures, type LayerFigures } from './fit';
import { estimateLayer } from './estimates';
import type { DeviceProfile } from './profiles';
import { deviceLayerMacs, deviceSparsity } from './sparsity';

export function fitDevice(
  device: DeviceProfile,
  nodes: NodeReport[],
  totals: AnalysisReport['totals'],
  diagnostics: Diagnostic[],
  runtimeTensors: readonly RuntimeTensor[],
): { report: DeviceReport; nodes: NodeReport[] } {
  const runtime = new Set(runtimeTensors.map((t) => t.name));
  const activations: ActivationFigures[] = [];
  for (const t of runtimeTensors) {
    if (t.dtype === undefined) continue;
    activations.push({
      name: t.name,
      dtype: dtypeName(t.dtype),
      bits: dtypeBits(t.dtype),
      node: t.node,
      float: isFloatType(t.dtype),
    });
  }
  const layers: LayerFigures[] = nodes.map((n) => ({
    name: n.name,
    op: n.op,
    macs: n.macs,
    weightBytes: n.weightBytes,
    activationBytes: n.activationBytes,
    weightBits: n.weightBits ?? undefined,
    activationBits: n.activationBits,
    folded: isFolded(n, runtime),
    ...(n.weightGrid ? { weightGrid: n.weightGrid } : {}),
  }));
  const fit = checkFit(device, {
    weightBytes: totals.weightBytes,
    peakActivationBytes: totals.peakActivationBytes,
    layers,
    activations,
  });
  for (const d of fit.diagnostics)
    diagnostics.push({ severity: d.severity, node: d.node, message: d.message, source: 'device' });
  let latencySeconds = 0;
  let energyJoules = 0;
  const uncounted: string[] = [];
  // Latency and energy count the MACs the device executes: dense, unless its profile says it
  // skips the zeros this layer has (sparsity.ts).
  const withEstimates = nodes.map((n, i) => {
    const executed = deviceLayerMacs(n, device).macs;
    const e = estimateLayer(device, { ...layers[i], macs: executed, macsUnknown: n.macsUnknown });
    if (e.lowerBound) uncounted.push(n.name);
    latencySeconds += e.latencySeconds;
    energyJoules += e.energyJoules;
    return { ...n, latencySeconds: e.latencySeconds, energyJoules: e.energyJoules };
  });
  const lowerBound =
    uncounted.length > 0
      ? { latencyIsLowerBound: true as const, uncountedNodes: uncounted }
      : undefined;
  const notes = lowerBound
    ? [
        {
          severity: 'info' as const,
          message: `latency and energy on ${device.id} are lower bounds: ${lowerBoundNote(uncounted)}`,
        },
      ]
    : [];
  for (const d of notes) diagnostics.push({ ...d, source: 'device' });
  const sparsity = deviceSparsity(device, nodes);
  return {
    nodes: withEstimates,
    report: {
      id: device.id,
      name: device.name,
      fits: fit.fits,
      weightBytesLimit: fit.weightBytesLimit,
      ramBytesLimit: fit.ramBytesLimit,
      weightUse: fit.weightUse,
      ramUse: fit.ramUse,
      latencySeconds,
      energyJoules,
      ...lowerBound,
      ...(sparsity ? { sparsity } : {}),
      diagnostics: [
        ...fit.diagnostics.map((d) => ({
          severity: d.severity,
          node: d.node,
          message: d.message,
        })),
        ...notes,
      ],
    },
  };
}

/**
 * "the compute of 1 node of unknown MACs is not counted (ethos-u)": why device totals are lower
 * bounds, for every surface that shows them.
 */
export function lowerBoundNote(nodes: readonly string[]): string {
  const shown = nodes.slice(0, 3).join(', ');
  const more = nodes.length > 3 ? ` and ${nodes.length - 3} more` : '';
  return `the compute of ${nodes.length} node${nodes.length > 1 ? 's' : ''} of unknown MACs is not counted (${shown}${more})`;
}

/**
 * The device's latency and energy per inference as every surface writes them: `~1.2 ms`, or
 * `≥0.5 µJ` when they are lower bounds, and `unknown` for a latency of 0 that only stands for the
 * nodes of unknown cost.
 */
export function deviceEstimateTexts(d: DeviceReport): { latency: string; energy: string } {
  if (!d.latencyIsLowerBound) {
    return {
      latency: `~${formatSeconds(d.latencySeconds)}`,
      energy: `~${formatJoules(d.energyJoules)}`,
    };
  }
  return {
    latency: d.latencySeconds > 0 ? `≥${formatSeconds(d.latencySeconds)}` : 'latency unknown',
    energy: `≥${formatJoules(d.energyJoules)}`,
  };
}

/** True when the node has outputs and none of them exists at run time. */
function isFolded(node: NodeReport, runtime: ReadonlySet<string>): boolean {
  const outputs = node.outputs.filter((o) => o.name);
  return outputs.length > 0 && outputs.every((o) => !runtime.has(o.name));
}
