/**
 * Sparse initializers (SparseTensorProto): values at given indices of an otherwise zero tensor.
 * ONNX Runtime densifies them when it loads a model, so the analysis sees them dense too: the
 * shape is the sparse tensor's `dims`, and the weight memory is what the runtime will hold.
 */
import { makeTensor } from './build';
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

/** The dense equivalent of a float sparse initializer, named like it (its values' name). */
export function denseFromSparse(s: SparseTensor, ext?: ExternalData): Tensor | undefined {
  if (!s.values || s.values.dataType !== DataType.FLOAT) return undefined;
  return makeTensor(s.values.name, DataType.FLOAT, s.dims, sparseToDense(s, ext));
}
