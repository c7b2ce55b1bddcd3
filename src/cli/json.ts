/**
 * The `--json` document (product.md "Fixed interfaces"). Its field names are a contract other
 * tools read: change them only additively. Infinity (an all-zero weight's SQNR) becomes null.
 * `convention` (`st`, `vela`) is there when the figures follow another tool's counting
 * (--convention); without it they are ours, and the document is as it always was. The same for
 * the sparse figures (`sparseMacs`, `weightSparsity`, `nmPattern`, `storedWeightBytes`, and
 * `device.sparsity`): there only when some weight has zeros or is stored sparse.
 */
import type { AnalysisReport } from '../core/analyze';
import { layerTable } from '../core/text/layerTable';

export function toJson(r: AnalysisReport): unknown {
  const rows = layerTable(r).rows;
  return {
    model: {
      path: r.model.path,
      format: r.model.format,
      irVersion: r.model.irVersion,
      opset: r.model.opset,
      producer: r.model.producer,
    },
    ...(r.convention && r.convention !== 'model-lens' ? { convention: r.convention } : {}),
    totals: r.totals,
    nodes: r.nodes.map((n, i) => ({
      name: n.name,
      op: n.op,
      inputs: n.inputs,
      outputs: n.outputs,
      // Unknown (a custom operator) is null with the reason, never a 0 that reads as a count.
      macs: n.macsUnknown ? null : n.macs,
      flops: n.macsUnknown ? null : n.flops,
      bops: n.macsUnknown ? null : n.bops,
      ...(n.macsUnknown ? { macsUnknown: n.macsUnknown } : {}),
      params: n.params,
      weightBytes: n.weightBytes,
      // Additive, only where they apply (report.ts): stored-sparse bytes, zero-weight figures.
      ...(n.storedWeightBytes !== undefined ? { storedWeightBytes: n.storedWeightBytes } : {}),
      ...(n.sparseMacs !== undefined
        ? { weightSparsity: n.weightSparsity, sparseMacs: n.sparseMacs }
        : {}),
      ...(n.nmPattern ? { nmPattern: n.nmPattern } : {}),
      activationBytes: n.activationBytes,
      suggestedWeightBits: n.suggestedWeightBits,
      suggestedWeightBytes: n.suggestedWeightBytes,
      weightBits: n.weightBits,
      weightSqnrDb:
        n.weightSqnrDb &&
        Object.fromEntries(
          Object.entries(n.weightSqnrDb).map(([b, v]) => [b, Number.isFinite(v) ? v : null]),
        ),
      weightFormatSqnrDb:
        n.weightFormatSqnrDb &&
        Object.fromEntries(
          Object.entries(n.weightFormatSqnrDb).map(([f, v]) => [f, Number.isFinite(v) ? v : null]),
        ),
      share: { ...n.share, activationBytes: rows[i].activationShare },
      ...(n.latencySeconds !== undefined
        ? { latencySeconds: n.latencySeconds, energyJoules: n.energyJoules }
        : {}),
    })),
    memory: {
      peakNode: r.memory.peakNode,
      liveAtPeak: r.memory.liveAtPeak,
      ...(r.memory.runtime ? { runtime: r.memory.runtime } : {}),
    },
    inputs: r.inputs,
    outputs: r.outputs,
    symbolicDims: r.symbolicDims,
    diagnostics: r.diagnostics,
    ...(r.device ? { device: r.device } : {}),
  };
}
