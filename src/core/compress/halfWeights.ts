/**
 * float16 / bfloat16 weights as compression input. Many models ship their weights as float16
 * behind Cast(to=FLOAT) (a background-removal model has 238 such initializers), or read them
 * directly in a float16 Conv. Quantize and prune treat those as weights (weightOrigin follows the
 * Cast); this file says how a quantized one is read back:
 * - every reader is Cast(to=FLOAT): the Cast goes, and the DequantizeLinear (float32 scales)
 *   produces the Cast's output; further Casts of the same weight become Identity of it;
 * - a reader computes in float16/bfloat16: the DequantizeLinear produces that type under the
 *   weight's own name, through scales of that type (DequantizeLinear-19).
 */
import type { GraphView } from '../graph/graph';
import { makeTensor } from '../onnx/build';
import { DataType, type Node, type Tensor } from '../onnx/types';
import { floatToBfloat16Bits, floatToHalfBits } from './convertFloat';
import { makeNode } from './graphEdit';

/** The stored float types compression reads as weights. */
export const WEIGHT_FLOAT_TYPES: ReadonlySet<DataType> = new Set([
  DataType.FLOAT,
  DataType.FLOAT16,
  DataType.BFLOAT16,
]);

export function isHalfType(dt: DataType): dt is DataType.FLOAT16 | DataType.BFLOAT16 {
  return dt === DataType.FLOAT16 || dt === DataType.BFLOAT16;
}

/** A Cast to a float type: it changes the precision, not the layout, of a weight. */
export function isFloatCast(node: Node | undefined): boolean {
  if (node?.opType !== 'Cast') return false;
  const to = node.attributes.find((a) => a.name === 'to')?.i;
  return to === DataType.FLOAT || to === DataType.FLOAT16 || to === DataType.BFLOAT16;
}

export interface DequantizeTarget {
  /** The tensor the DequantizeLinear writes. */
  readonly output: string;
  /** The scales' type, which is the DequantizeLinear's output type. */
  readonly scaleType: DataType;
  /** The Cast the DequantizeLinear replaces, and the other Casts that become Identity. */
  readonly cast?: Node;
  readonly otherCasts: readonly Node[];
  /** The opset the DequantizeLinear needs for its output type (0: no constraint). */
  readonly minOpset: number;
}

export function dequantizeTarget(
  view: GraphView,
  source: string,
  stored: DataType,
): DequantizeTarget {
  if (!isHalfType(stored))
    return { output: source, scaleType: DataType.FLOAT, otherCasts: [], minOpset: 0 };
  const readers = view.graph.nodes.filter((n) => n.inputs.includes(source));
  const toFloat = (n: Node): boolean =>
    n.opType === 'Cast' && n.attributes.find((a) => a.name === 'to')?.i === DataType.FLOAT;
  const outputs = view.graph.outputs.some((o) => o.name === source);
  if (readers.length > 0 && readers.every(toFloat) && !outputs) {
    const [cast, ...otherCasts] = readers;
    return { output: cast.outputs[0], scaleType: DataType.FLOAT, cast, otherCasts, minOpset: 0 };
  }
  return { output: source, scaleType: stored, otherCasts: [], minOpset: 19 };
}

/** Scales stored in `dataType` (float32, or float16/bfloat16 for a half DequantizeLinear). */
export function scaleTensor(
  name: string,
  dataType: DataType,
  dims: readonly number[],
  scales: Float32Array,
): Tensor {
  if (!isHalfType(dataType)) return makeTensor(name, dataType, dims, scales);
  return halfTensor(name, dataType, dims, scales);
}

/** A float16/bfloat16 tensor from float values (rounded to nearest even). */
export function halfTensor(
  name: string,
  dataType: DataType.FLOAT16 | DataType.BFLOAT16,
  dims: readonly number[],
  values: ArrayLike<number>,
): Tensor {
  const encode = dataType === DataType.FLOAT16 ? floatToHalfBits : floatToBfloat16Bits;
  const bits = Uint16Array.from(values, (v) => encode(v));
  return makeTensor(name, dataType, dims, new Uint8Array(bits.buffer));
}

/** Identity nodes standing in for the other Casts of a weight now read from `output`. */
export function castReplacements(target: DequantizeTarget): { cast: Node; identity: Node }[] {
  return target.otherCasts.map((cast) => ({
    cast,
    identity: makeNode({
      name: cast.name,
      opType: 'Identity',
      inputs: [target.output],
      outputs: cast.outputs,
    }),
  }));
}
