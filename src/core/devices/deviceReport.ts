/**
 * The device part of a report: the fit rules over the model's figures, and latency and energy
 * per layer and in total. `runtimeTensors` are the tensors that exist while the model runs
 * (memory/activations.ts): a layer none of whose outputs is one of them is folded at analysis
 * time, and only they are checked against the device's activation precisions.
 */
import { dtypeBits, dtypeName, isFloatType } from '../onnx/dtype';
import type { AnalysisReport, DeviceReport, Diagnostic, NodeReport } from '../report';
import type { RuntimeTensor } from '../memory/activations';
import { checkFit, type ActivationFigures, type LayerFigures } from './fit';
import { estimateLayer } from './estimates';
import type { DeviceProfile } from './profiles';

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
  const withEstimates = nodes.map((n, i) => {
    const e = estimateLayer(device, layers[i]);
    latencySeconds += e.latencySeconds;
    energyJoules += e.energyJoules;
    return { ...n, latencySeconds: e.latencySeconds, energyJoules: e.energyJoules };
  });
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
      diagnostics: fit.diagnostics.map((d) => ({
        severity: d.severity,
        node: d.node,
        message: d.message,
      })),
    },
  };
}

/** True when the node has outputs and none of them exists at run time. */
function isFolded(node: NodeReport, runtime: ReadonlySet<string>): boolean {
  const outputs = node.outputs.filter((o) => o.name);
  return outputs.length > 0 && outputs.every((o) => !runtime.has(o.name));
}
