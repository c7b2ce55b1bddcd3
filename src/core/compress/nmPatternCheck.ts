/**
 * The N:M pattern check of a written model: for each pruned layer, the weight the file stores
 * (dense, sparse_initializer or Constant; float, or integer behind DequantizeLinear, whose zeros
 * are its zero point) is read back, laid out along the layer's reduction axis
 * (cost/reductionLayout.ts) and checked group by group (numerics/nmSparsity.ts). The pruner runs
 * it on its own output, and the CLI again on the final model when quantization follows, so that
 * the claim "2:4" is about the bytes written, not the arrays the pruner held.
 */
import { reductionLayout, readsInStoredOrder, toReductionMatrix } from '../cost/reductionLayout';
import { forEachStoredValue, storedZero } from '../cost/weightSparsity';
import { weightOrigin } from '../cost/weightOrigin';
import { mainWeight } from '../cost/weights';
import { buildGraphView, nodeLabel } from '../graph/graph';
import { formatCount } from '../format';
import { ExternalData } from '../onnx/externalData';
import { opsetVersions } from '../onnx/opsets';
import { elementCount } from '../onnx/tensorData';
import type { Model } from '../onnx/types';
import { checkNmPattern, formatNm, type NmPattern } from '../numerics/nmSparsity';
import { concreteShape, inferShapes } from '../shapes/infer';

export interface StoredNmCheck {
  /** Layers whose stored weight follows the pattern, and the groups checked over them. */
  readonly passed: string[];
  readonly groups: number;
  /** One line per layer that does not, or whose weight could not be read back. */
  readonly failures: string[];
}

/**
 * Checks the layers whose first output is in `outputs` (an output name survives the graph edits
 * of later steps, a generated node label may not).
 */
export function checkStoredNm(
  model: Model,
  external: ExternalData | undefined,
  outputs: ReadonlySet<string>,
  pattern: NmPattern,
): StoredNmCheck {
  const ext = external ?? new ExternalData(undefined);
  const view = buildGraphView(model.graph);
  const shapes = inferShapes(view, { opsets: opsetVersions(model), external: ext });
  const passed: string[] = [];
  const failures: string[] = [];
  let groups = 0;
  view.order.forEach((node, i) => {
    if (!outputs.has(node.outputs[0] ?? '')) return;
    const label = nodeLabel(node, i);
    const fail = (why: string): void => void failures.push(`${label}: ${why}`);
    const rank = (k: number): number | undefined => shapes.types.get(node.inputs[k])?.shape?.length;
    const main = mainWeight(node, rank);
    const input = main ? node.inputs[main.input] : undefined;
    const origin = input ? weightOrigin(input, view, shapes) : undefined;
    const shape = input ? concreteShape(shapes.types.get(input)?.shape ?? []) : undefined;
    if (!input || !origin?.tensor || !shape) return fail('its weight is no stored tensor');
    const layout = reductionLayout(node, shape);
    if ('reason' in layout) return fail(layout.reason);
    const zeroAt = storedZero(view, shapes, input, origin.source, origin.tensor, ext);
    if (!zeroAt || !readsInStoredOrder(view, input, origin.source)) {
      return fail(`weight '${origin.source}' is not read in stored order with a known zero`);
    }
    // Stored value − what it stores for 0.0: zero exactly where the weight is zero.
    const centred = new Float32Array(elementCount(origin.tensor.dims));
    forEachStoredValue(origin.tensor, ext, (chunk, start) => {
      for (let k = 0; k < chunk.length; k++) centred[start + k] = chunk[k] - zeroAt(start + k);
    });
    const matrix = toReductionMatrix(centred, layout);
    const check = checkNmPattern(matrix, layout.rows, layout.cols, pattern.n, pattern.m);
    if (check.ok) {
      passed.push(label);
      groups += check.groups;
    } else if (check.reason) {
      fail(check.reason);
    } else {
      const f = check.first!;
      fail(
        `${check.violations} of ${check.groups} groups hold more than ${pattern.n} nonzeros (output ${f.row}, inputs ${f.col}…${f.col + pattern.m - 1}: ${f.nonzeros})`,
      );
    }
  });
  return { passed, groups, failures };
}

/** "2:4 pattern check of the stored weights: 5 layers pass (1,234 groups of 4)". */
export function storedNmNote(check: StoredNmCheck, pattern: NmPattern, when = ''): string {
  const head = `${formatNm(pattern)} pattern check of the stored weights${when}`;
  const pass = `${check.passed.length} layer${check.passed.length === 1 ? '' : 's'} pass (${formatCount(check.groups)} groups of ${pattern.m}, each ≤ ${pattern.n} nonzeros)`;
  return check.failures.length === 0
    ? `${head}: ${pass}`
    : `${head}: ${pass}; FAILED: ${check.failures.join('; ')}`;
}
