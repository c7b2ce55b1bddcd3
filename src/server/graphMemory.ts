/**
 * The tensors alive at one execution step, for the memory chart's hover. Lifetimes follow the
 * planner's rule (src/core/memory/liveness.ts, called here), over the report's nodes; constant
 * tensors (outputs of the collapsed constant and shape nodes) hold no activation memory.
 */
import type { AnalysisReport } from '../core/analyze';
import { collapsibleGroups } from '../core/graph/view';
import { computeLifetimes, type TensorLifetime } from '../core/memory';
import { dtypeFromName, storageBytes } from '../core/onnx/dtype';
import { elementCount } from '../core/onnx/tensorData';
import { concreteShape } from '../core/shapes/infer';
import type { OutputReport } from '../core/report';
import { viewInputOf } from './graphData';

const cache = new WeakMap<AnalysisReport, TensorLifetime[]>();

export function liveTensorsAt(
  report: AnalysisReport,
  step: number,
): { name: string; bytes: number }[] {
  let lifetimes = cache.get(report);
  if (!lifetimes) cache.set(report, (lifetimes = lifetimesOf(report)));
  return lifetimes
    .filter((t) => t.bytes > 0 && t.firstStep <= step && step <= t.lastStep)
    .map((t) => ({ name: t.name, bytes: t.bytes }))
    .sort((a, b) => b.bytes - a.bytes);
}

function lifetimesOf(report: AnalysisReport): TensorLifetime[] {
  const constants = new Set<string>();
  for (const g of collapsibleGroups(viewInputOf(report))) {
    if (g.kind === 'identityChain') continue;
    for (const m of g.members) for (const o of report.nodes[m].outputs) constants.add(o.name);
  }
  const tensorBytes = new Map<string, number>();
  const consider = (o: OutputReport): void => {
    const dtype = dtypeFromName(o.dtype);
    if (constants.has(o.name) || !o.shape || dtype === undefined) return;
    tensorBytes.set(o.name, storageBytes(dtype, elementCount(concreteShape(o.shape))));
  };
  report.inputs.forEach(consider);
  for (const n of report.nodes) n.outputs.forEach(consider);
  return computeLifetimes({
    steps: report.nodes.map((n) => ({
      node: n.name,
      inputs: n.inputs.filter(Boolean),
      outputs: n.outputs.map((o) => o.name).filter(Boolean),
    })),
    tensorBytes,
    graphInputs: report.inputs.map((i) => i.name),
    graphOutputs: report.outputs.map((o) => o.name),
  });
}
