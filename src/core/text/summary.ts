/**
 * One-line statistics of an initializer for the text view, in place of its values:
 * "9.41 k values · min -0.912 · max 0.887 · mean 0.00131 · std 0.102". One streaming pass.
 */
import { formatCount } from '../format';
import { isFloatType } from '../onnx/dtype';
import type { ExternalData } from '../onnx/externalData';
import { elementCount, forEachFloatChunk, tensorNumbers } from '../onnx/tensorData';
import type { Tensor } from '../onnx/types';

/** Integer tensors above this size are only counted: their values rarely tell a user much. */
const MAX_INTEGER_STATS = 1 << 16;

export function summarizeTensor(t: Tensor, ext?: ExternalData): string {
  const n = elementCount(t.dims);
  const count = `${formatCount(n)} value${n === 1 ? '' : 's'}`;
  if (n === 0) return count;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sumSquares = 0;
  const visit = (values: ArrayLike<number>): void => {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
      sumSquares += v * v;
    }
  };
  try {
    if (isFloatType(t.dataType)) forEachFloatChunk(t, ext, visit);
    else if (n <= MAX_INTEGER_STATS) visit(tensorNumbers(t, ext));
    else return count;
  } catch {
    return `${count} (unreadable)`;
  }
  const mean = sum / n;
  const std = Math.sqrt(Math.max(0, sumSquares / n - mean * mean));
  return `${count} · min ${short(min)} · max ${short(max)} · mean ${short(mean)} · std ${short(std)}`;
}

function short(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}
