/**
 * Peak activation RAM of a model: every run-time tensor with a known size, placed by the arena
 * planner over the execution order. Tensors of unknown size are left out, and a diagnostic says
 * how many.
 *
 * A run-time tensor is one whose values are not known before the model runs. Weights and
 * constants are known (`shapes.constants`), and so are the tensors shape inference folds
 * (`shapes.values`): Shape → Gather → Concat → Reshape sub-graphs, and anything else computed
 * only from shapes and constants. A deployment converter (TFLite, STM32Cube.AI, ONNX Runtime's
 * own constant folding) computes those once, so they take no activation RAM and need no
 * run-time precision.
 */
import { nodeLabel, type GraphView } from '../graph/graph';
import type { DataType } from '../onnx/types';
import type { ShapeInference } from '../shapes/infer';
import { tensorBytes, type Diagnostic } from '../report';
import { planMemory } from './arenaPlanner';

/** A tensor that exists while the model runs. */
export interface RuntimeTensor {
  readonly name: string;
  /** Undefined when shape inference does not know it. */
  readonly dtype?: DataType;
  /** The node that produces it; for a graph input, the first node that reads it at run time. */
  readonly node: string;
}

/** True when the tensor's values are known at analysis time, so it is not a run-time activation. */
export function isFolded(shapes: ShapeInference, name: string): boolean {
  return shapes.constants.has(name) || shapes.values.has(name);
}

/**
 * The run-time tensors of the graph, each once, in the order the run first meets them: graph
 * inputs, then each node's inputs and outputs in execution order.
 */
export function runtimeTensors(view: GraphView, shapes: ShapeInference): RuntimeTensor[] {
  const found = new Map<string, RuntimeTensor>();
  // A graph input is shown where it is first used at run time: a Shape reading it is folded.
  const firstReader = new Map<string, string>();
  view.order.forEach((node, index) => {
    const runs = node.outputs.some((o) => o && !isFolded(shapes, o));
    for (const i of node.inputs) {
      if (i && runs && !firstReader.has(i)) firstReader.set(i, nodeLabel(node, index));
    }
  });
  const add = (name: string, node: string): void => {
    if (!name || found.has(name) || isFolded(shapes, name)) return;
    found.set(name, { name, dtype: shapes.types.get(name)?.dtype, node });
  };
  for (const n of view.inputNames) add(n, firstReader.get(n) ?? '');
  view.order.forEach((node, index) => {
    const label = nodeLabel(node, index);
    for (const i of node.inputs) add(i, label);
    for (const o of node.outputs) add(o, label);
  });
  return [...found.values()];
}

export function planActivations(
  view: GraphView,
  shapes: ShapeInference,
  diagnostics: Diagnostic[],
) {
  const tensors = runtimeTensors(view, shapes);
  const tensorBytesMap = new Map<string, number>();
  const unknown: string[] = [];
  for (const { name } of tensors) {
    const b = tensorBytes(shapes.types.get(name));
    if (b === undefined) unknown.push(name);
    else tensorBytesMap.set(name, b);
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
    /** The tensors that exist at run time (sized or not), for the device's precision rule. */
    runtimeTensors: tensors,
  };
}
