/**
 * Peak activation RAM of a model: every run-time tensor with a known size, placed by the arena
 * planner over the execution order. Tensors of unknown size are left out, and a diagnostic says
 * how many.
 *
 * A run-time tensor is one whose values are not known before the model runs. Weights and
 * constants are known (`shapes.constants`), and so are the tensors shape inference folds
 * (`shapes.values`): Shape → Gather → Concat → Reshape sub-graphs, and anything else computed
 * only from shapes and constants (foldedTensors). A deployment converter (TFLite, STM32Cube.AI,
 * ONNX Runtime's own constant folding) computes those once, so they take no activation RAM and
 * need no run-time precision. These are the tensors the graph view collapses as constant and
 * shape sub-graphs (graph/view.ts), decided here from what shape inference actually folded.
 */
import { nodeDependencies, nodeLabel, type GraphView } from '../graph/graph';
import type { DataType } from '../onnx/types';
import { NONDETERMINISTIC, type ShapeInference } from '../shapes/infer';
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

/**
 * Tensors whose values are known at analysis time: weights and constants (`shapes.constants`),
 * values shape inference folded (`shapes.values`: Shape → Gather → Concat …), and the outputs of
 * a deterministic node that reads only such tensors (inputs and, for If/Loop/Scan, the names its
 * sub-graphs read) — a ConstantOfShape or Range over a symbolic dimension, say, whose values are
 * fixed once the dimension is (symbolic dimensions count as 1).
 */
export function foldedTensors(view: GraphView, shapes: ShapeInference): Set<string> {
  const folded = new Set<string>([...shapes.constants.keys(), ...shapes.values.keys()]);
  for (const node of view.order) {
    const dependencies = nodeDependencies(node);
    const derived =
      !NONDETERMINISTIC.has(node.opType) &&
      dependencies.length > 0 &&
      dependencies.every((d) => folded.has(d));
    if (derived) for (const o of node.outputs) if (o) folded.add(o);
  }
  for (const name of view.inputNames) folded.delete(name);
  return folded;
}

/**
 * The run-time tensors of the graph, each once, in the order the run first meets them: graph
 * inputs, then each node's inputs and outputs in execution order.
 */
export function runtimeTensors(view: GraphView, shapes: ShapeInference): RuntimeTensor[] {
  const folded = foldedTensors(view, shapes);
  const found = new Map<string, RuntimeTensor>();
  // A graph input is shown where it is first used at run time: a Shape reading it is folded.
  const firstReader = new Map<string, string>();
  view.order.forEach((node, index) => {
    const runs = node.outputs.some((o) => o && !folded.has(o));
    for (const i of node.inputs) {
      if (i && runs && !firstReader.has(i)) firstReader.set(i, nodeLabel(node, index));
    }
  });
  const add = (name: string, node: string): void => {
    if (!name || found.has(name) || folded.has(name)) return;
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
      // If/Loop/Scan also read the outer names their sub-graphs use: those stay live until then.
      inputs: nodeDependencies(n),
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
    lifetimes: plan.lifetimes,
    /** The tensors that exist at run time (sized or not), for the device's precision rule. */
    runtimeTensors: tensors,
  };
}
