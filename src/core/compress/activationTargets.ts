/**
 * Which activations static quantization covers (conventions.md "Compression formats"): the float
 * tensors computed at run time that feed the multiplying layers (Conv, ConvTranspose, Gemm,
 * MatMul: input and, for activation × activation products such as attention, both operands),
 * plus the float graph inputs. Calibration observes exactly these tensors and
 * quantizeActivations puts a QuantizeLinear → DequantizeLinear pair on each, so the two agree by
 * construction.
 */
import { buildGraphView, nodeLabel, type GraphView } from '../graph/graph';
import type { ExternalData } from '../onnx/externalData';
import { opsetVersions } from '../onnx/opsets';
import { DataType, type Model } from '../onnx/types';
import { inferShapes, type ShapeInference } from '../shapes/infer';
import { CompressionRefusal } from './summary';

/** Layers whose activation inputs are quantized by default; their operand positions. */
const MULTIPLYING_OPS: ReadonlyMap<string, readonly number[]> = new Map([
  ['Conv', [0, 1]],
  ['ConvTranspose', [0, 1]],
  ['Gemm', [0, 1]],
  ['MatMul', [0, 1]],
]);

export interface ActivationTarget {
  /** The tensor's name. */
  readonly name: string;
  /** A graph input (fed by the user) rather than a node's output. */
  readonly graphInput: boolean;
  /** Labels of the selected layers that read it (empty for a graph input read by none). */
  readonly layers: readonly string[];
}

export interface ActivationTargets {
  readonly targets: readonly ActivationTarget[];
  /** Activations already quantized (the selected layers read them from DequantizeLinear). */
  readonly alreadyQuantized: number;
  readonly view: GraphView;
}

/**
 * The activations to quantize, in execution order. `layers` (node labels, as analyze reports
 * them) limits it to the activations those layers read, whatever their op; a name that is not a
 * layer is refused.
 */
export function activationTargets(
  model: Model,
  layers?: readonly string[],
  external?: ExternalData,
): ActivationTargets {
  const view = buildGraphView(model.graph);
  const shapes = inferShapes(view, { opsets: opsetVersions(model), external });
  const labels = view.order.map((n, i) => nodeLabel(n, i));
  const known = new Set(labels);
  for (const name of layers ?? []) {
    if (!known.has(name)) throw new CompressionRefusal(`no layer named '${name}'`);
  }
  const requested = layers ? new Set(layers) : undefined;
  const byName = new Map<string, { graphInput: boolean; layers: string[] }>();
  const graphInputs = new Set(view.inputNames);
  // Keyed by the float tensor a Q → DQ pair was put on, so a graph input counts once.
  const alreadyQuantized = new Set<string>();

  // Graph inputs first: with no layer filter every float input a node reads is quantized, as a
  // device would be fed it.
  if (!requested) {
    for (const name of view.inputNames) {
      const readers = view.consumers.get(name) ?? [];
      if (!isFloatActivation(name, view, shapes) || !readers.some((n) => n.inputs.includes(name))) {
        continue;
      }
      // Read by a QuantizeLinear: quantized by an earlier pass (or by the exporter).
      const quantized = readers.some((n) => n.opType === 'QuantizeLinear');
      if (quantized) alreadyQuantized.add(name);
      else byName.set(name, { graphInput: true, layers: [] });
    }
  }
  view.order.forEach((node, i) => {
    const label = labels[i];
    const positions = MULTIPLYING_OPS.get(node.opType);
    if (requested ? !requested.has(label) : !positions) return;
    const inputs = positions ? positions.map((p) => node.inputs[p]) : node.inputs;
    for (const name of inputs) {
      if (!name) continue;
      const dq = view.producer.get(name);
      if (dq?.opType === 'DequantizeLinear') {
        const q = view.producer.get(dq.inputs[0]);
        const quantized = q?.opType === 'QuantizeLinear' ? q.inputs[0] : name;
        if (!shapes.constants.has(name)) alreadyQuantized.add(quantized);
        continue;
      }
      const readers = view.consumers.get(name) ?? [];
      if (!isFloatActivation(name, view, shapes) || !readers.some((n) => n.inputs.includes(name))) {
        continue;
      }
      const entry = byName.get(name) ?? { graphInput: graphInputs.has(name), layers: [] };
      if (!entry.layers.includes(label)) entry.layers.push(label);
      byName.set(name, entry);
    }
  });
  const targets = [...byName].map(([name, e]) => ({ name, ...e }));
  return { targets, alreadyQuantized: alreadyQuantized.size, view };
}

/** A float32 tensor computed at run time: not a weight, not an integer index or shape. */
function isFloatActivation(name: string, view: GraphView, shapes: ShapeInference): boolean {
  if (view.initializers.has(name) || shapes.constants.has(name)) return false;
  return shapes.types.get(name)?.dtype === DataType.FLOAT;
}
