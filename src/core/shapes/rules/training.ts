/**
 * The optimizers of the ai.onnx.preview.training domain. Each takes R (learning rate), T (step),
 * then n tensors of each kind in blocks — X (weights), G (gradients), then one or two
 * accumulators — and outputs the updated X and accumulators, each shaped as the input it
 * updates: outputs in block b (0 = X, then the accumulators) take input block b + 1 past G.
 */
import { ShapeError, type InferContext, type ShapeRule, type TensorType } from '../types';

/** `blocks` = number of input tensors per optimized weight (X, G and accumulators). */
function optimizer(blocks: number): ShapeRule {
  return (ctx: InferContext) => {
    const tensors = ctx.inputCount - 2;
    if (tensors < blocks || tensors % blocks !== 0) {
      throw new ShapeError(
        `expected R, T and ${blocks} inputs per weight, got ${ctx.inputCount} inputs`,
      );
    }
    const n = tensors / blocks;
    const types: (TensorType | undefined)[] = ctx.node.outputs.map((_, j) => {
      const block = Math.floor(j / n);
      const input = block === 0 ? 0 : block + 1;
      return ctx.inputType(2 + input * n + (j % n));
    });
    return { types };
  };
}

export const trainingRules: Record<string, ShapeRule> = {
  // X, G, H → X_new, H_new
  Adagrad: optimizer(3),
  // X, G, V → X_new, V_new
  Momentum: optimizer(3),
  // X, G, V, H → X_new, V_new, H_new
  Adam: optimizer(4),
};
