/**
 * A layer's main weight seen as a matrix [rows, cols]: one row per output it feeds, the columns
 * along the reduction (input) dimension each output sums over. N:M sparsity groups run along the
 * columns (numerics/nmSparsity.ts), so this is where "M consecutive weights along the input" is
 * defined, once for the pruner, the analysis and the pattern check:
 *
 * - Conv [Cout, Cin/groups, kH, kW]: one row per output channel, its Cin/groups·kH·kW weights
 *   flattened in stored order (channel, then kernel row, then column). This is the grouping of
 *   NVIDIA's ASP (`apex.contrib.sparsity`) and what the sparse tensor cores consume: cuDNN runs a
 *   convolution as an implicit GEMM whose K is exactly that flattening.
 * - Gemm: K of B, [N, K] with transB (rows contiguous) or [K, N] without (columns strided).
 * - MatMul B [..., K, N]: K, for each batch and column.
 * - TFLite: CONV_2D [Cout, kH, kW, Cin] and FULLY_CONNECTED [units, depth] as above; the depthwise
 *   [1, kH, kW, C·multiplier] over kH·kW per channel.
 *
 * Every layout is [outer, cols, inner] in row-major order: row (o, j) is output j of slice o,
 * and column k is at ((o·cols + k)·inner + j). inner = 1 means each row is contiguous.
 * ConvTranspose gets none: each output channel sums over weights spread across axis 0 and the
 * kernel, and we know of no N:M format laid out over that.
 */
import type { GraphView } from '../graph/graph';
import type { Node } from '../onnx/types';
import { TFLITE_DOMAIN } from '../tflite/attributes';

export interface ReductionLayout {
  /** Outputs the weight feeds: outer × inner. */
  readonly rows: number;
  /** The reduction length of one output: N:M groups run along it. */
  readonly cols: number;
  /** How `cols` is made, for messages: "27 = 3·3·3", or "128". */
  readonly colsText: string;
  readonly outer: number;
  readonly inner: number;
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function layout(outer: number, reduction: readonly number[], inner: number): ReductionLayout {
  const cols = product(reduction);
  return {
    rows: outer * inner,
    cols,
    colsText: reduction.length > 1 ? `${cols} = ${reduction.join('·')}` : `${cols}`,
    outer,
    inner,
  };
}

/**
 * The reduction layout of `node`'s main weight, given the shape the node reads it with; or why
 * it has none (one clause).
 */
export function reductionLayout(
  node: Node,
  shape: readonly number[],
): ReductionLayout | { readonly reason: string } {
  const rank = shape.length;
  const op = node.domain === TFLITE_DOMAIN ? `tflite.${node.opType}` : node.opType;
  const int = (name: string): number => node.attributes.find((a) => a.name === name)?.i ?? 0;
  switch (op) {
    case 'Conv':
    case 'tflite.CONV_2D':
    case 'tflite.FULLY_CONNECTED':
      if (rank >= 2) return layout(shape[0], shape.slice(1), 1);
      break;
    case 'tflite.DEPTHWISE_CONV_2D':
      if (rank === 4) return layout(1, shape.slice(1, 3), shape[3]);
      break;
    case 'Gemm':
      if (rank === 2)
        return int('transB') ? layout(shape[0], [shape[1]], 1) : layout(1, [shape[0]], shape[1]);
      break;
    case 'MatMul':
      if (rank >= 2) return layout(product(shape.slice(0, -2)), [shape[rank - 2]], shape[rank - 1]);
      break;
    default:
      return { reason: `${node.opType} has no N:M layout here (Conv, Gemm and MatMul have)` };
  }
  return { reason: `${node.opType} weight of shape [${shape.join(', ')}] has no reduction axis` };
}

/** The weight as a row-major [rows, cols] matrix: the values themselves when rows are contiguous. */
export function toReductionMatrix(values: Float32Array, l: ReductionLayout): Float32Array {
  if (l.inner === 1) return values;
  const out = new Float32Array(values.length);
  for (let o = 0; o < l.outer; o++) {
    for (let k = 0; k < l.cols; k++) {
      const from = (o * l.cols + k) * l.inner;
      for (let j = 0; j < l.inner; j++) out[(o * l.inner + j) * l.cols + k] = values[from + j];
    }
  }
  return out;
}

/** The inverse of toReductionMatrix: the matrix back in the weight's stored order. */
export function fromReductionMatrix(matrix: Float32Array, l: ReductionLayout): Float32Array {
  if (l.inner === 1) return matrix;
  const out = new Float32Array(matrix.length);
  for (let o = 0; o < l.outer; o++) {
    for (let k = 0; k < l.cols; k++) {
      const to = (o * l.cols + k) * l.inner;
      for (let j = 0; j < l.inner; j++) out[to + j] = matrix[(o * l.inner + j) * l.cols + k];
    }
  }
  return out;
}

/**
 * Whether the layer reads the stored tensor `source` in its stored element order. Identity,
 * Reshape, Flatten, (Un)Squeeze, Cast and DequantizeLinear keep the row-major order, so a layout
 * computed on the shape the layer reads maps index for index onto the stored tensor; a Transpose
 * does not.
 */
export function readsInStoredOrder(view: GraphView, input: string, source: string): boolean {
  let current = input;
  for (let hops = 0; hops < 16 && current !== source; hops++) {
    const producer = view.producer.get(current);
    if (!producer || producer.opType === 'Transpose' || producer.opType === 'TRANSPOSE') {
      return false;
    }
    current = producer.inputs[0] ?? '';
  }
  return current === source;
}
