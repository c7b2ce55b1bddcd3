/**
 * The zeros of a layer's main weight, behind the sparse figures (docs/sparse-figures.md):
 * how many there are (so how many MACs a device that skips every zero weight would not execute),
 * and the N:M structure they have along the reduction dimension (reductionLayout.ts), which is
 * what N:M hardware such as NVIDIA's sparse tensor cores can exploit.
 *
 * A zero is what the weight stores for 0.0: exactly 0 for a float weight, its zero point for an
 * integer weight behind DequantizeLinear (the quantizers make 0.0 exactly representable, so a
 * pruned weight stays a zero when quantized).
 *
 * Cost: a float weight is counted only when the SQNR pass's evenly strided sample of it
 * (numerics/weightSqnr.ts: every value up to 32 k, else 32 k spread over it) holds a zero, so a
 * dense model pays nothing; a pruned weight, whose zeros are a fraction the sample can't miss, is
 * then counted exactly in one streaming pass. (A weight with a handful of stray zeros, or zeros
 * only at positions the sample's stride steps over, is taken as dense.) Integer weights are
 * counted in one pass. The N:M table needs one more, made only for a weight sparse enough to
 * follow some N:M pattern (at least one zero per group of MAX_NM_GROUP).
 */
import type { GraphView } from '../graph/graph';
import type { ExternalData } from '../onnx/externalData';
import { storageBytes } from '../onnx/dtype';
import {
  elementCount,
  forEachNumberChunk,
  rawBytes,
  TensorDataError,
  tensorNumbers,
} from '../onnx/tensorData';
import { DataType, type Node, type Tensor } from '../onnx/types';
import { MAX_NM_GROUP, type NmPattern } from '../numerics/nmSparsity';
import { concreteShape, type ShapeInference } from '../shapes/infer';
import { TFLITE_DOMAIN } from '../tflite/attributes';
import { quantizationOf } from '../tflite/quantization';
import { readsInStoredOrder, reductionLayout, type ReductionLayout } from './reductionLayout';

/**
 * The layers every MAC of which multiplies one element of the main weight, each element the same
 * number of times (Conv: once per output position; Gemm/MatMul: once per row of A), so that a
 * zero weight skipped saves MACs / elements of them. Recurrent layers are not: their main weight
 * W is one of two (R also multiplies).
 */
const SPARSE_MAC_OPS = new Set([
  'Conv',
  'ConvTranspose',
  'Gemm',
  'MatMul',
  'FusedConv',
  'FusedGemm',
  'FusedMatMul',
]);
const TFLITE_SPARSE_MAC_OPS = new Set([
  'CONV_2D',
  'DEPTHWISE_CONV_2D',
  'FULLY_CONNECTED',
  'TRANSPOSE_CONV',
  'CONV_3D',
  'BATCH_MATMUL',
]);

/**
 * Whether the human surfaces (hover, CLI text, report) show a layer's zero-weight figures: when at
 * least 1/16 of its weight is zero, the least any N:M pattern (15:16) needs. The few percent of
 * zeros int8 rounding leaves in every quantized weight are then not a row on every layer; the
 * JSON has the exact figures whenever a weight has a zero.
 */
export function showsZeroWeights(n: { readonly weightSparsity?: number }): boolean {
  return (n.weightSparsity ?? 0) >= 1 / MAX_NM_GROUP;
}

export function hasSparseMacs(node: Node): boolean {
  return node.domain === TFLITE_DOMAIN
    ? TFLITE_SPARSE_MAC_OPS.has(node.opType)
    : SPARSE_MAC_OPS.has(node.opType);
}

export interface WeightSparsity {
  /** Elements of the stored weight that are zero (0.0, or the zero point of an integer one). */
  readonly zeros: number;
  readonly elements: number;
  /**
   * For each group length M (2 … MAX_NM_GROUP) that divides the reduction size, and that the
   * zeros allow (at least one per group), the most nonzeros any group holds: the weight follows
   * n:M when this is ≤ n. Absent without a reduction layout (ConvTranspose, a transposed weight).
   */
  readonly nmGroupMaxima?: Readonly<Record<number, number>>;
  /** The pattern of lowest N/M in the table (ties: the shorter group), when one has N < M. */
  readonly nmPattern?: NmPattern;
}

/** The ways a weight's values are read: every float type and the signed 8/16/32-bit integers. */
const CHUNKED_TYPES = new Set([
  DataType.FLOAT,
  DataType.FLOAT16,
  DataType.BFLOAT16,
  DataType.DOUBLE,
  DataType.INT8,
  DataType.INT16,
  DataType.INT32,
]);

/** Values decoded per chunk from a raw payload: uint8 and the packed 4-bit types. */
const CHUNK = 1 << 16;
const BYTE_DECODERS: Partial<Record<DataType, (raw: Uint8Array, i: number) => number>> = {
  [DataType.UINT8]: (raw, i) => raw[i],
  [DataType.UINT4]: (raw, i) => (i & 1 ? raw[i >> 1] >> 4 : raw[i >> 1] & 15),
  [DataType.INT4]: (raw, i) => {
    const nibble = i & 1 ? raw[i >> 1] >> 4 : raw[i >> 1] & 15;
    return nibble >= 8 ? nibble - 16 : nibble;
  },
};

/**
 * Visits a stored tensor's values as numbers, a chunk at a time: floats and signed 8/16/32-bit
 * integers through the tensor reader, uint8 and the packed 4-bit types decoded from their payload
 * (never a JS number per element of a large weight); anything else all at once.
 */
export function forEachStoredValue(
  t: Tensor,
  ext: ExternalData | undefined,
  visit: (chunk: ArrayLike<number>, start: number) => void,
): void {
  if (CHUNKED_TYPES.has(t.dataType)) return forEachNumberChunk(t, ext, visit);
  const decode = BYTE_DECODERS[t.dataType];
  const raw = decode && rawBytes(t, ext);
  if (!decode || !raw) return visit(tensorNumbers(t, ext), 0);
  const n = elementCount(t.dims);
  if (raw.length < storageBytes(t.dataType, n)) {
    throw new TensorDataError(`tensor '${t.name}' holds fewer bytes than its shape needs`);
  }
  const chunk = new Float32Array(Math.min(CHUNK, n));
  for (let s = 0; s < n; s += CHUNK) {
    const count = Math.min(CHUNK, n - s);
    for (let i = 0; i < count; i++) chunk[i] = decode(raw, s + i);
    visit(chunk.subarray(0, count), s);
  }
}

/** The zero point of element i of a tensor of `dims`, from one per tensor or one per `axis`. */
function zeroPointAt(
  points: readonly number[],
  dims: readonly number[],
  axis: number,
): ((index: number) => number) | undefined {
  if (points.every((p) => p === 0)) return () => 0;
  if (points.length === 1) return () => points[0];
  if (dims[axis] !== points.length) return undefined;
  const inner = elementCount(dims.slice(axis + 1));
  return (i) => points[Math.floor(i / inner) % points.length];
}

/**
 * What the weight `input` stores for 0.0, per element of the stored tensor `source`: 0 for a
 * float weight; for an integer one its zero point, per tensor or per axis, from the
 * DequantizeLinear it goes through (ONNX) or its own quantization table (TFLite). Undefined when
 * that is not known (a blocked zero point, a Transpose between the stored tensor and the
 * DequantizeLinear, a computed zero point).
 */
export function storedZero(
  view: GraphView,
  shapes: ShapeInference,
  input: string,
  source: string,
  tensor: Tensor,
  ext: ExternalData | undefined,
): ((index: number) => number) | undefined {
  const table = quantizationOf(tensor);
  if (table) {
    if (table.details) return undefined;
    return zeroPointAt(table.zeroPoint, tensor.dims, table.quantizedDimension);
  }
  let current = input;
  let dequantize: Node | undefined;
  for (let hops = 0; hops < 16 && current !== source; hops++) {
    const producer = view.producer.get(current);
    if (!producer) break;
    if (producer.opType === 'DequantizeLinear') dequantize = producer;
    current = producer.inputs[0] ?? '';
  }
  if (!dequantize) return () => 0;
  const zp = dequantize.inputs[2];
  if (!zp) return () => 0;
  const zpTensor = shapes.constants.get(zp)?.tensor;
  if (!zpTensor) return undefined;
  const points = tensorNumbers(zpTensor, ext);
  const int = (name: string): number | undefined =>
    dequantize.attributes.find((a) => a.name === name)?.i;
  if (points.length > 1 && int('block_size')) return undefined;
  if (points.length > 1 && !readsInStoredOrder(view, dequantize.inputs[0], source)) {
    return undefined;
  }
  const shape = concreteShape(shapes.types.get(dequantize.inputs[0])?.shape ?? []);
  if (!shape) return points.length === 1 ? () => points[0] : undefined;
  const axis = int('axis') ?? 1;
  return zeroPointAt(points, shape, axis < 0 ? axis + shape.length : axis);
}

/** Zeros of a stored tensor, given what it stores for 0.0. */
function countZeros(
  t: Tensor,
  ext: ExternalData | undefined,
  zeroAt: (index: number) => number,
): number {
  let zeros = 0;
  forEachStoredValue(t, ext, (chunk, start) => {
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === zeroAt(start + i)) zeros++;
  });
  return zeros;
}

/**
 * For each group length in `lengths`, the most nonzeros a group of that many consecutive
 * reduction elements holds, in one streaming pass: element i of the stored [outer, cols, inner]
 * tensor is column k = ⌊i / inner⌋ mod cols of row (⌊i / (cols·inner)⌋, i mod inner), so a
 * counter per row within one outer slice is all it takes.
 */
function groupMaxima(
  t: Tensor,
  ext: ExternalData | undefined,
  layout: ReductionLayout,
  lengths: readonly number[],
  zeroAt: (index: number) => number,
): Record<number, number> {
  const counters = lengths.map(() => new Int32Array(layout.inner));
  const maxima = lengths.map(() => 0);
  let j = 0;
  let k = 0;
  forEachStoredValue(t, ext, (chunk, start) => {
    for (let i = 0; i < chunk.length; i++) {
      const nonzero = chunk[i] !== zeroAt(start + i) ? 1 : 0;
      for (let g = 0; g < lengths.length; g++) {
        const count = (counters[g][j] += nonzero);
        if ((k + 1) % lengths[g] === 0) {
          if (count > maxima[g]) maxima[g] = count;
          counters[g][j] = 0;
        }
      }
      if (++j === layout.inner) {
        j = 0;
        if (++k === layout.cols) k = 0;
      }
    }
  });
  return Object.fromEntries(lengths.map((m, g) => [m, maxima[g]]));
}

/** The table's pattern of lowest N/M with N < M, ties to the shorter group. */
export function tightestPattern(maxima: Readonly<Record<number, number>>): NmPattern | undefined {
  let best: NmPattern | undefined;
  for (const [key, n] of Object.entries(maxima)) {
    const m = Number(key);
    if (n >= m || n === 0) continue;
    if (!best || n * best.m < best.n * m || (n * best.m === best.n * m && m < best.m)) {
      best = { n, m };
    }
  }
  return best;
}

export interface SparsityInput {
  readonly node: Node;
  /** The main weight's input slot on the node. */
  readonly input: number;
  /** The stored tensor behind it (weightOrigin.ts) and its name. */
  readonly tensor: Tensor;
  readonly source: string;
  readonly view: GraphView;
  readonly shapes: ShapeInference;
  readonly external?: ExternalData;
}

/**
 * The sparsity of a layer's main weight, or undefined when it has no zeros or they can't be
 * read (an integer weight whose zero point is not known).
 */
export function mainWeightSparsity(a: SparsityInput): WeightSparsity | undefined {
  const { node, tensor } = a;
  const name = node.inputs[a.input];
  const elements = elementCount(tensor.dims);
  if (!name || elements === 0) return undefined;
  const zeroAt = storedZero(a.view, a.shapes, name, a.source, tensor, a.external);
  if (!zeroAt) return undefined;
  const zeros = countZeros(tensor, a.external, zeroAt);
  if (zeros === 0) return undefined;
  const found: WeightSparsity = { zeros, elements };
  // Every group of M holds a zero only if there are at least elements / M zeros: a weight
  // sparser than that in no group length M ≤ MAX_NM_GROUP needs no N:M pass.
  if (zeros * MAX_NM_GROUP < elements) return found;
  const shape = concreteShape(a.shapes.types.get(name)?.shape ?? []);
  if (!shape || elementCount(shape) !== elements) return found;
  if (!readsInStoredOrder(a.view, name, a.source)) return found;
  const layout = reductionLayout(node, shape);
  if ('reason' in layout) return found;
  const lengths: number[] = [];
  for (let m = 2; m <= MAX_NM_GROUP; m++) {
    if (layout.cols % m === 0 && zeros * m >= elements) lengths.push(m);
  }
  if (lengths.length === 0) return found;
  const maxima = groupMaxima(tensor, a.external, layout, lengths, zeroAt);
  const pattern = tightestPattern(maxima);
  return { ...found, nmGroupMaxima: maxima, ...(pattern ? { nmPattern: pattern } : {}) };
}
