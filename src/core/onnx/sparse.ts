/**
 * Sparse initializers (SparseTensorProto): values at given indices of an otherwise zero tensor.
 * ONNX Runtime densifies them when it loads a model, so the analysis sees them dense too: the
 * shape is the sparse tensor's `dims`, and the weight memory is what the runtime will hold.
 * What the file stores (values + indices) is remembered against the dense tensor, for the
 * figure that counts weights as stored (`storedWeightBytes`, cost/nodeFigures.ts).
 */
import { makeTensor } from './build';
import { storageBytes } from './dtype';
import type { ExternalData } from './externalData';
import { elementCount, tensorNumbers } from './tensorData';
import { DataType, type SparseTensor, type Tensor } from './types';

/**
 * The dense values of a float sparse tensor, for either index form the spec allows: linear
 * indices [NNZ] or coordinates [NNZ, rank].
 */
export function sparseToDense(s: SparseTensor, ext?: ExternalData): Float32Array {
  const out = new Float32Array(elementCount(s.dims));
  if (!s.values || !s.indices) return out;
  const values = tensorNumbers(s.values, ext);
  const indices = tensorNumbers(s.indices, ext);
  const rank = s.indices.dims.length === 2 ? s.indices.dims[1] : 1;
  for (let v = 0; v < values.length; v++) {
    let linear = 0;
    if (rank === 1) linear = indices[v];
    else for (let d = 0; d < rank; d++) linear = linear * s.dims[d] + indices[v * rank + d];
    out[linear] = values[v];
  }
  return out;
}

/** What a sparse initializer stores: its values and its indices, at their stored types. */
export interface SparseInitializerBytes {
  readonly valueBytes: number;
  readonly indexBytes: number;
}

const storedAs = new WeakMap<Tensor, SparseInitializerBytes>();

/** The stored bytes of the sparse initializer a dense tensor was made from, if it was. */
export function sparseInitializerBytes(t: Tensor | undefined): SparseInitializerBytes | undefined {
  return t ? storedAs.get(t) : undefined;
}

/** The dense equivalent of a float sparse initializer, named like it (its values' name). */
export function denseFromSparse(s: SparseTensor, ext?: ExternalData): Tensor | undefined {
  if (!s.values || s.values.dataType !== DataType.FLOAT) return undefined;
  const dense = makeTensor(s.values.name, DataType.FLOAT, s.dims, sparseToDense(s, ext));
  const count = (t: Tensor): number => t.dims.reduce((a, b) => a * b, 1);
  storedAs.set(dense, {
    valueBytes: storageBytes(s.values.dataType, count(s.values)),
    indexBytes: s.indices ? storageBytes(s.indices.dataType, count(s.indices)) : 0,
  });
  return dense;
}
