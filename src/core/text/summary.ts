/**
 * One-line statistics of an initializer for the text view, in place of its values:
 * "9.41 k values · min -0.912 · max 0.887 · mean 0.00131 · std 0.102". One streaming pass.
 *
 * A floating-point tensor of more than SAMPLE_ABOVE values is summarised from a sample instead
 * (`sampleFloatRuns`: SAMPLE_RUNS runs of SAMPLE_RUN_LENGTH values spread evenly over it, a few
 * positioned reads), and the line says so: "… · std 0.102 (sampled)". Reading every value of a
 * 400 MB layer took seconds on each open; the sample takes about a millisecond and is the same
 * on every print, so the text (whose digest identifies the editor's model states) is stable.
 * Its mean and std are estimates; its min and max are the sample's, inside the true range.
 */
import { formatCount } from '../format';
import { isFloatType } from '../onnx/dtype';
import type { ExternalData } from '../onnx/externalData';
import {
  elementCount,
  forEachFloatChunk,
  sampleFloatRuns,
  tensorNumbers,
} from '../onnx/tensorData';
import type { Tensor } from '../onnx/types';

/** Integer tensors above this size are only counted: their values rarely tell a user much. */
const MAX_INTEGER_STATS = 1 << 16;
/** Float tensors of more values than this are summarised from a sample. */
export const SAMPLE_ABOVE = 1 << 20;
const SAMPLE_RUNS = 256;
const SAMPLE_RUN_LENGTH = 256;

interface Stats {
  min: number;
  max: number;
  sum: number;
  sumSquares: number;
}

/** Adds `values` to `s`; locals in the loop (captured variables written in a hot loop are slow in V8). */
function accumulate(s: Stats, values: ArrayLike<number>): void {
  let { min, max, sum, sumSquares } = s;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    sumSquares += v * v;
  }
  s.min = min;
  s.max = max;
  s.sum = sum;
  s.sumSquares = sumSquares;
}

export function summarizeTensor(t: Tensor, ext?: ExternalData): string {
  const n = elementCount(t.dims);
  const count = `${formatCount(n)} value${n === 1 ? '' : 's'}`;
  if (n === 0) return count;
  const s: Stats = { min: Infinity, max: -Infinity, sum: 0, sumSquares: 0 };
  let seen = n;
  let sampled = false;
  try {
    const float = isFloatType(t.dataType);
    const sample =
      float && n > SAMPLE_ABOVE
        ? sampleFloatRuns(t, ext, SAMPLE_RUNS, SAMPLE_RUN_LENGTH)
        : undefined;
    if (sample) {
      accumulate(s, sample);
      seen = sample.length;
      sampled = true;
    } else if (float) forEachFloatChunk(t, ext, (chunk) => accumulate(s, chunk));
    else if (n <= MAX_INTEGER_STATS) accumulate(s, tensorNumbers(t, ext));
    else return count;
  } catch {
    return `${count} (unreadable)`;
  }
  const mean = s.sum / seen;
  const std = Math.sqrt(Math.max(0, s.sumSquares / seen - mean * mean));
  return (
    `${count} · min ${short(s.min)} · max ${short(s.max)} · mean ${short(mean)} · std ${short(std)}` +
    (sampled ? ' (sampled)' : '')
  );
}

function short(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}
