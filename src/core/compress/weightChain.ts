/**
 * The ops between a layer and its stored weight, as compression sees them. Identity and float
 * Casts keep the layout; a Transpose moves the axes (torch's dynamo exporter writes a Linear on a
 * 3-D input as MatMul(x, Transpose(W)), keeping W as [out, in]); a DequantizeLinear means the
 * weight is already quantized; anything else (Reshape, Squeeze…) is a layout we don't follow.
 */
import { nodeLabel, type GraphView } from '../graph/graph';
import type { Node } from '../onnx/types';
import { isFloatCast } from './halfWeights';

export type WeightChain =
  | {
      /**
       * Axis i of what the layer reads is axis perm[i] of the stored tensor; undefined when the
       * chain keeps the layout.
       */
      readonly perm?: readonly number[];
    }
  | { readonly reason: string; readonly quantized?: true };

/** Walks from the tensor the layer reads (`input`, of rank `rank`) back to `source`. */
export function weightChain(
  input: string,
  source: string,
  view: GraphView,
  rank: number | undefined,
): WeightChain {
  let perm: number[] | undefined;
  for (let name = input; name !== source;) {
    const producer = view.producer.get(name);
    if (producer?.opType === 'DequantizeLinear') {
      return {
        reason: `its weight comes from DequantizeLinear '${nodeLabel(producer)}'`,
        quantized: true,
      };
    }
    if (producer?.opType === 'Transpose' && rank !== undefined) {
      // Walking back: the transposition's output axis a is its input axis p[a].
      const p = transposePerm(producer, rank);
      perm = (perm ?? Array.from({ length: rank }, (_, i) => i)).map((a) => p[a]);
    } else if (producer?.opType !== 'Identity' && !isFloatCast(producer)) {
      return {
        reason: `its weight reaches it through ${producer?.opType ?? 'an unknown op'}, which may move the channel axis`,
      };
    }
    name = producer!.inputs[0];
  }
  return perm ? { perm } : {};
}

/** A Transpose's `perm`, default reversing the axes (ONNX Transpose). */
function transposePerm(node: Node, rank: number): readonly number[] {
  return (
    node.attributes.find((a) => a.name === 'perm')?.ints ??
    Array.from({ length: rank }, (_, i) => rank - 1 - i)
  );
}
