/**
 * The device part of a report: the fit rules over the model's figures, and latency and energy
 * per layer and in total.
 */
import type { AnalysisReport, DeviceReport, Diagnostic, NodeReport } from '../report';
import { checkFit, type LayerFigures } from './fit';
import { estimateLayer } from './estimates';
import type { DeviceProfile } from './profiles';

export function fitDevice(
  device: DeviceProfile,
  nodes: NodeReport[],
  totals: AnalysisReport['totals'],
  diagnostics: Diagnostic[],
): { report: DeviceReport; nodes: NodeReport[] } {
  const layers: LayerFigures[] = nodes.map((n) => ({
    name: n.name,
    op: n.op,
    macs: n.macs,
    weightBytes: n.weightBytes,
    activationBytes: n.activationBytes,
    weightBits: n.weightBits ?? undefined,
    activationBits: n.activationBits,
  }));
  const fit = checkFit(device, {
    weightBytes: totals.weightBytes,
    peakActivationBytes: totals.peakActivationBytes,
    layers,
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
