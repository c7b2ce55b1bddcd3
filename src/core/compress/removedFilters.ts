/**
 * The record structured pruning (pruneStructured.ts) leaves in the model: which output channels
 * (filters) of a layer it removed, numbered as the layer had them before any pruning. The
 * retraining plan (retrainingPlan.ts) reads it from the model alone, so a model pruned, saved and
 * opened again, or pruned by the CLI and then quantized, still lists its removed filters with no
 * original to compare with; and the plan's script masks exactly those filters.
 *
 * One line of the layer node's doc_string: `model-lens:removed-filters=3,7,12;before=64;axis=0`.
 * On the node rather than the weight: quantization, BatchNorm folding and float16 conversion
 * replace a layer's weight tensor but keep its node, doc_string included (the weight's doc_string
 * carries the grid marker, nodeFigures.ts). ONNX Runtime ignores doc strings. Other lines of the
 * doc string (an exporter's notes) are kept.
 */
import type { Node } from '../onnx/types';

export interface RemovedFilters {
  /** The weight's output-channel axis (ONNX layout). */
  readonly axis: number;
  /** Output channels before any pruning. */
  readonly before: number;
  /** Removed channels, ascending, numbered among the `before` channels. */
  readonly removed: readonly number[];
}

const PREFIX = 'model-lens:removed-filters=';
const LINE = /^model-lens:removed-filters=([\d,]*);before=(\d+);axis=(\d+)$/m;

/** The record on `node`, or undefined when it has none (or a malformed one). */
export function removedFiltersOf(node: Node): RemovedFilters | undefined {
  const m = LINE.exec(node.docString);
  if (!m) return undefined;
  const removed = m[1] ? m[1].split(',').map(Number) : [];
  const before = Number(m[2]);
  const valid = removed.every((r, i) => r < before && (i === 0 || r > removed[i - 1]));
  return valid ? { axis: Number(m[3]), before, removed } : undefined;
}

/**
 * `node` recording that of its `channels` output channels along `axis`, only `kept` (ascending,
 * in today's numbering) remain. A record already there is extended, its numbering kept, when it
 * describes the node as it is (its `before − removed` channels, same axis); otherwise today's
 * channels are the original ones.
 */
export function withRemovedFilters(
  node: Node,
  axis: number,
  channels: number,
  kept: readonly number[],
): Node {
  const earlier = removedFiltersOf(node);
  const continues =
    earlier !== undefined &&
    earlier.axis === axis &&
    earlier.before - earlier.removed.length === channels;
  const before = continues ? earlier.before : channels;
  // Today's channel i is original channel survivors[i].
  const gone = new Set(continues ? earlier.removed : []);
  const survivors = Array.from({ length: before }, (_, i) => i).filter((i) => !gone.has(i));
  const keptNow = new Set(kept);
  survivors.forEach((original, i) => {
    if (!keptNow.has(i)) gone.add(original);
  });
  const removed = [...gone].sort((a, b) => a - b);
  const line = `${PREFIX}${removed.join(',')};before=${before};axis=${axis}`;
  const others = node.docString.split('\n').filter((l) => l !== '' && !LINE.test(l));
  // A changed node is re-encoded from its fields, not written back as the bytes it was read from.
  const { raw: _raw, ...rest } = node;
  return { ...rest, docString: [...others, line].join('\n') };
}
