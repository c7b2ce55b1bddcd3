/**
 * Peak activation RAM of a model: every non-constant tensor with a known size, placed by the
 * arena planner over the execution order. Tensors of unknown size are left out, and a
 * diagnostic says how many.
 */
import { nodeLabel, type GraphView } from '../graph/graph';
import type { ShapeInference } from '../shapes/infer';
import { tensorBytes, type Diagnostic } from '../report';
import { planMemory } from './arenaPlanner';

export function planActivations(
  view: GraphView,
  shapes: ShapeInference,
  diagnostics: Diagnostic[],
) {
  const tensorBytesMap = new Map<string, number>();
  const unknown: string[] = [];
  const consider = (name: string): void => {
    if (!name || shapes.constants.has(name) || tensorBytesMap.has(name)) return;
    const b = tensorBytes(shapes.types.get(name));
    if (b === undefined) unknown.push(name);
    else tensorBytesMap.set(name, b);
  };
  for (const n of view.inputNames) consider(n);
  for (const node of view.order) {
    for (const i of node.inputs) consider(i);
    for (const o of node.outputs) consider(o);
  }
  if (unknown.length > 0) {
    diagnostics.push({
      severity: 'warning',
      source: 'analysis',
      message: `${unknown.length} tensor size${unknown.length > 1 ? 's are' : ' is'} unknown (e.g. '${unknown[0]}'), so activation memory leaves ${unknown.length > 1 ? 'them' : 'it'} out`,
    });
  }
  const plan = planMemory({
    steps: view.order.map((n, i) => ({
      node: nodeLabel(n, i),
      inputs: n.inputs.filter(Boolean),
      outputs: n.outputs.filter(Boolean),
    })),
    tensorBytes: tensorBytesMap,
    graphInputs: view.inputNames,
    graphOutputs: view.outputNames,
  });
  return {
    peakActivationBytes: plan.peakActivationBytes,
    naiveActivationBytes: plan.naiveActivationBytes,
    lowerBoundBytes: plan.lowerBoundBytes,
    peakNode: view.order.length > 0 ? plan.peakNode : null,
    peakStep: plan.peakStep,
    liveAtPeak: plan.liveAtPeak,
    liveBytesPerStep: plan.liveBytesPerStep,
  };
}
