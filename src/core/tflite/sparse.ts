/**
 * Sparse TFLite constants (schema.fbs `SparsityParameters`, TACO's format): the buffer holds only
 * the stored values of the dense tensor, in the order a walk of its dimensions visits them. The
 * walk has one level per dimension of the "expanded" shape (the tensor's dims, each dim named in
 * `block_map` divided by its block size, then one dim per block size), taken in
 * `traversal_order`; a DENSE level visits every index of its dim, a SPARSE_CSR level only those
 * listed in `array_indices`, the slice `array_segments[p]..array_segments[p+1]` for the p-th
 * position of the level above. This is how the TFLite converter stores pruned weights (1×4 or
 * 4×1 blocks for FULLY_CONNECTED, as MediaPipe ships them) and how the runtime expands them
 * (tensorflow/lite/kernels/internal/utils/sparsity_format_converter.cc, `FormatConverter`).
 *
 * The analysis sees a sparse constant dense, as it sees an ONNX sparse_initializer (onnx/sparse.ts)
 * and as the runtime's kernels read it: params count the dense elements, bit-width hints read the
 * real values. Its weight bytes are what the file stores (the values plus the index arrays, what
 * flash holds), remembered here against the translated tensor (`sparseStorageOf`), the way
 * quantization.ts remembers quantization tables.
 *
 * Everything in the metadata is checked before anything is allocated: a permutation for the
 * traversal order, dense blocks of a size dividing their dim, segments starting at 0, monotone and
 * ending at the index count, indices in range and increasing within a segment (as the converter
 * writes them; this also bounds the walk by the dense size), and exactly as many values as the
 * walk visits. A tensor that fails, or whose dense form would pass MAX_DENSE_BYTES, is not
 * densified: `densifySparse` says why in one line and never throws.
 */
import { FlatBuffer } from './flatbuffer';
import {
  DimensionMetadataTable,
  ModelTable,
  SparseIndexVectorType,
  SparsityTable,
  SubGraphTable,
  TensorTable,
} from './schema';
import type { DimensionMetadata, Sparsity } from './types';
import type { Tensor } from '../onnx/types';

/**
 * The largest dense form made here (256 MiB: 64 M float32 or 256 M int8 elements): far past any
 * weight a device running TFLite holds, and a size a desktop densifies in about a second.
 */
export const MAX_DENSE_BYTES = 2 ** 28;

/** One level of the walk, checked. */
interface Level {
  /** Indices this level visits per position of the level above (DENSE), or its dim size. */
  readonly size: number;
  /** Elements of the dense tensor one step of this level moves by. */
  readonly stride: number;
  /** SPARSE_CSR: the segments and indices; undefined for DENSE. */
  readonly segments?: readonly number[];
  readonly indices?: readonly number[];
}

export interface SparseLayout {
  readonly levels: readonly Level[];
  readonly denseElements: number;
  /** How many values the walk visits: what the buffer must hold. */
  readonly valueCount: number;
  /** Block size per blocked dim of the tensor (1 where unblocked); undefined without blocks. */
  readonly blockShape?: readonly number[];
}

export type SparseCheck =
  | { readonly ok: true; readonly layout: SparseLayout }
  | { readonly ok: false; readonly reason: string };

/**
 * Checks the sparsity metadata of a tensor of `shape` and lays out the walk, without reading any
 * value. Every failure is a reason, never an exception.
 */
export function checkSparsity(shape: readonly number[], sparsity: Sparsity): SparseCheck {
  const fail = (reason: string): SparseCheck => ({ ok: false, reason });
  const rank = shape.length;
  if (rank === 0) return fail('a scalar cannot be sparse');
  let denseElements = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return fail(`dimension ${d} is not a size`);
    denseElements *= d;
  }
  if (!Number.isSafeInteger(denseElements)) return fail('the dense size is past counting');
  const { traversalOrder: order, blockMap, dimMetadata: meta } = sparsity;
  const expanded = rank + blockMap.length;
  if (order.length !== expanded) {
    return fail(
      `traversal_order has ${order.length} entries; ${rank} dims and ${blockMap.length} block dims need ${expanded}`,
    );
  }
  if (meta.length !== expanded) {
    return fail(`dim_metadata has ${meta.length} entries; the traversal order has ${expanded}`);
  }
  // The runtime walks the tensor's own dims first and the block dims last (Populate).
  const seen = new Set<number>();
  for (let l = 0; l < expanded; l++) {
    const e = order[l];
    const [lo, hi] = l < rank ? [0, rank] : [rank, expanded];
    if (!Number.isInteger(e) || e < lo || e >= hi || seen.has(e)) {
      return fail(
        `traversal_order [${order.join(', ')}] is not a permutation of the dims followed by the block dims`,
      );
    }
    seen.add(e);
  }
  for (let b = 0; b < blockMap.length; b++) {
    const d = blockMap[b];
    if (!Number.isInteger(d) || d < 0 || d >= rank || (b > 0 && d <= blockMap[b - 1])) {
      return fail(`block_map [${blockMap.join(', ')}] does not name increasing dims of the tensor`);
    }
  }

  // Block sizes: the dense_size of the level walking each block dim; blocks are dense.
  const blockOf = new Map<number, number>();
  for (let b = 0; b < blockMap.length; b++) {
    const level = order.indexOf(rank + b);
    const m = meta[level];
    if (m.format !== 'DENSE') return fail(`block dim ${b} is ${m.format}; blocks are dense`);
    const size = m.denseSize;
    const dim = shape[blockMap[b]];
    if (!Number.isSafeInteger(size) || size < 1 || dim % size !== 0) {
      return fail(`a block of ${size} does not divide dimension ${blockMap[b]} (${dim})`);
    }
    blockOf.set(blockMap[b], size);
  }
  const denseStride = new Array<number>(rank);
  for (let d = rank - 1, s = 1; d >= 0; d--) {
    denseStride[d] = s;
    s *= shape[d];
  }
  const expandedSize = (e: number): number =>
    e < rank ? shape[e] / (blockOf.get(e) ?? 1) : blockOf.get(blockMap[e - rank])!;
  const expandedStride = (e: number): number =>
    e < rank ? denseStride[e] * (blockOf.get(e) ?? 1) : denseStride[blockMap[e - rank]];

  const levels: Level[] = [];
  let positions = 1;
  for (let l = 0; l < expanded; l++) {
    const m = meta[l];
    const size = expandedSize(order[l]);
    const stride = expandedStride(order[l]);
    if (m.format === 'DENSE') {
      if (m.denseSize !== size) {
        return fail(`level ${l} is DENSE of ${m.denseSize}, but its dim has ${size}`);
      }
      positions *= size;
      levels.push({ size, stride });
      continue;
    }
    if (m.format !== 'SPARSE_CSR') return fail(`level ${l} has an unknown format (${m.format})`);
    const why = checkCsr(m, positions, size, l);
    if (why) return fail(why);
    positions = m.arrayIndices!.length;
    levels.push({ size, stride, segments: m.arraySegments, indices: m.arrayIndices });
  }
  const blockShape = blockMap.length > 0 ? shape.map((_, d) => blockOf.get(d) ?? 1) : undefined;
  return {
    ok: true,
    layout: { levels, denseElements, valueCount: positions, ...(blockShape && { blockShape }) },
  };
}

/** Why a SPARSE_CSR level's arrays are not a valid CSR of `positions` rows of `size`, if so. */
function checkCsr(
  m: DimensionMetadata,
  positions: number,
  size: number,
  level: number,
): string | undefined {
  const segments = m.arraySegments;
  const indices = m.arrayIndices;
  if (!segments || !indices) return `level ${level} is SPARSE_CSR without segments and indices`;
  if (segments.length !== positions + 1) {
    return `level ${level} has ${segments.length} segments for ${positions} positions (needs ${positions + 1})`;
  }
  if (segments[0] !== 0) return `level ${level}'s segments start at ${segments[0]}, not 0`;
  for (let p = 0; p < positions; p++) {
    const from = segments[p];
    const to = segments[p + 1];
    if (!(to >= from)) return `level ${level}'s segments decrease (${from} then ${to})`;
    if (to > indices.length) {
      return `level ${level}'s segment ends at ${to}, past its ${indices.length} indices`;
    }
  }
  for (let p = 0; p < positions; p++) {
    for (let i = segments[p]; i < segments[p + 1]; i++) {
      const v = indices[i];
      if (!(v >= 0 && v < size)) return `level ${level} index ${v} is out of its dim (${size})`;
      if (i > segments[p] && v <= indices[i - 1]) {
        return `level ${level}'s indices repeat or are unsorted (${indices[i - 1]} then ${v})`;
      }
    }
  }
  if (segments[positions] !== indices.length) {
    return `level ${level}'s segments end at ${segments[positions]}, but it has ${indices.length} indices`;
  }
  return undefined;
}

export type DensifyResult =
  | { readonly ok: true; readonly dense: Uint8Array; readonly layout: SparseLayout }
  | { readonly ok: false; readonly reason: string; readonly layout?: SparseLayout };

/**
 * The dense bytes of a sparse tensor of `shape` whose stored values are `values`, elements of
 * `elementBytes` bytes each (1, 2, 4, 8 or 16: the value is copied, whatever its type). Never
 * throws; refuses, with the reason, metadata that is malformed, a value count other than the
 * walk's, and a dense form above `maxDenseBytes`.
 */
export function densifySparse(
  shape: readonly number[],
  sparsity: Sparsity,
  values: Uint8Array,
  elementBytes: number,
  maxDenseBytes = MAX_DENSE_BYTES,
): DensifyResult {
  if (!Number.isInteger(elementBytes) || elementBytes < 1) {
    return { ok: false, reason: 'values of less than a byte are not densified' };
  }
  const checked = checkSparsity(shape, sparsity);
  if (!checked.ok) return checked;
  const { layout } = checked;
  const stored = values.length / elementBytes;
  if (stored !== layout.valueCount) {
    const have = Number.isInteger(stored) ? `${stored} values` : `${values.length} bytes`;
    return {
      ok: false,
      reason: `the metadata visits ${layout.valueCount} values, the buffer holds ${have}`,
      layout,
    };
  }
  const denseBytes = layout.denseElements * elementBytes;
  if (denseBytes > maxDenseBytes) {
    return {
      ok: false,
      reason: `its dense form is ${denseBytes} bytes; Model Lens densifies up to ${maxDenseBytes / 2 ** 20} MiB`,
      layout,
    };
  }
  const dense = new Uint8Array(denseBytes);
  const { levels } = layout;
  const last = levels.length - 1;
  let next = 0;
  const put = (offset: number): void => {
    const from = next * elementBytes;
    const to = offset * elementBytes;
    for (let b = 0; b < elementBytes; b++) dense[to + b] = values[from + b];
    next++;
  };
  // Depth-first, as the runtime's Populate walks: the values are stored in this order. Depth is
  // the expanded rank (a handful), so recursion is safe; the innermost level loops in place.
  const walk = (l: number, position: number, offset: number): void => {
    const { size, stride, segments, indices } = levels[l];
    if (segments && indices) {
      for (let i = segments[position]; i < segments[position + 1]; i++) {
        if (l === last) put(offset + indices[i] * stride);
        else walk(l + 1, i, offset + indices[i] * stride);
      }
    } else {
      for (let i = 0; i < size; i++) {
        if (l === last) put(offset + i * stride);
        else walk(l + 1, position * size + i, offset + i * stride);
      }
    }
  };
  walk(0, 0, 0);
  return { ok: true, dense, layout };
}

/** What a sparse constant stores, remembered against the dense tensor the translation makes. */
export interface SparseStorage {
  /** Bytes of the stored values (the buffer). */
  readonly valueBytes: number;
  /** Bytes of every array_segments and array_indices vector, at their stored width. */
  readonly indexBytes: number;
  /** Values stored, when the buffer divides into whole elements. */
  readonly storedValues: number;
  readonly denseElements: number;
  /** Block size per dim (`[1, 4]`), for block sparsity. */
  readonly blockShape?: readonly number[];
  /** Set when the values could not be densified: why. The tensor then holds zeros. */
  readonly unreadable?: string;
}

const byTensor = new WeakMap<Tensor, SparseStorage>();

export function rememberSparse(tensor: Tensor, storage: SparseStorage): void {
  byTensor.set(tensor, storage);
}

export function sparseStorageOf(tensor: Tensor | undefined): SparseStorage | undefined {
  return tensor ? byTensor.get(tensor) : undefined;
}

/** What the file holds for a sparse constant: its values and its index arrays. */
export function storedSparseBytes(s: SparseStorage): number {
  return s.valueBytes + s.indexBytes;
}

/** One line on how a sparse constant is stored, for diagnostics (and the text view). */
export function sparseStorageText(s: SparseStorage): string {
  const blocks = s.blockShape ? `, ${s.blockShape.join('×')} blocks` : '';
  const stored = `${s.storedValues} of ${s.denseElements} values, ${storedSparseBytes(s)} bytes with ${s.indexBytes} of indices`;
  return `sparse (TACO${blocks}): ${stored}`;
}

/** Bytes per element of each SparseIndexVector member. */
const INDEX_WIDTHS: Readonly<Record<number, number>> = {
  [SparseIndexVectorType.Int32Vector]: 4,
  [SparseIndexVectorType.Uint16Vector]: 2,
  [SparseIndexVectorType.Uint8Vector]: 1,
};

/**
 * Bytes the index arrays of tensor `tensorIndex` of subgraph `subgraph` take in the file: each
 * vector's length at the width its union member stores (uint8, uint16 or int32). The decoded
 * model keeps the numbers, not their width, so the widths are read again from the file, which
 * the reader has already verified. A width it cannot read counts as int32.
 */
export function sparseIndexBytes(
  bytes: Uint8Array,
  subgraph: number,
  tensorIndex: number,
  sparsity: Sparsity,
): number {
  let widths: { segments: number; indices: number }[] = [];
  try {
    const tensor = new FlatBuffer(bytes)
      .root(ModelTable)
      .tableVector('subgraphs', SubGraphTable)
      ?.[subgraph]?.tableVector('tensors', TensorTable)?.[tensorIndex];
    const dims = tensor
      ?.table('sparsity', SparsityTable)
      ?.tableVector('dim_metadata', DimensionMetadataTable);
    widths = (dims ?? []).map((d) => ({
      segments: INDEX_WIDTHS[d.uint8('array_segments_type')] ?? 4,
      indices: INDEX_WIDTHS[d.uint8('array_indices_type')] ?? 4,
    }));
  } catch {
    // Already decoded once, so this does not happen; int32 widths are the fallback.
  }
  let total = 0;
  sparsity.dimMetadata.forEach((m, i) => {
    total += (m.arraySegments?.length ?? 0) * (widths[i]?.segments ?? 4);
    total += (m.arrayIndices?.length ?? 0) * (widths[i]?.indices ?? 4);
  });
  return total;
}
