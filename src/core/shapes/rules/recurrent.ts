/**
 * RNN, GRU and LSTM: outputs Y, Y_h (and LSTM's Y_c), laid out by the `layout` attribute
 * (opset 14+): 0 is sequence-major [seq, batch, …], 1 is batch-major [batch, seq, …].
 */
import { isKnown, tensorType } from '../dims';
import { ShapeError, type Dim, type ShapeRule } from '../types';
import { checkSameDim, dtypeOf, requireRank, shapeOf } from './nnHelpers';

const DIRECTIONS: Record<string, number> = { forward: 1, reverse: 1, bidirectional: 2 };

/** `gates` is how many weight blocks W stacks: RNN 1, GRU 3, LSTM 4. */
function recurrentRule(gates: number, outputs: number): ShapeRule {
  return (ctx) => {
    const dtype = dtypeOf(ctx, 0);
    const direction = ctx.attrString('direction', 'forward');
    const dirs = DIRECTIONS[direction];
    if (dirs === undefined)
      throw new ShapeError(`direction '${direction}' is not forward, reverse or bidirectional`);
    const layout = ctx.opset >= 14 ? ctx.attrInt('layout', 0) : 0;
    if (layout !== 0 && layout !== 1) throw new ShapeError(`layout ${layout} must be 0 or 1`);
    const x = shapeOf(ctx, 0);
    const w = shapeOf(ctx, 1);
    const r = shapeOf(ctx, 2);
    if (x) requireRank(x, 3, 'X');
    if (w) requireRank(w, 3, 'W');
    if (r) requireRank(r, 3, 'R');
    checkSameDim(w?.[0], dirs, `W dim 0 vs ${direction} directions`);
    checkSameDim(x?.[2], w?.[2], 'X input size vs W dim 2');
    const hidden =
      hiddenSize(ctx.attrInt('hidden_size', 0), gates, w, r) ?? ctx.newSymbol('hidden');
    const [seq, batch] = x
      ? layout === 0
        ? [x[0], x[1]]
        : [x[1], x[0]]
      : [ctx.newSymbol('seq'), ctx.newSymbol('batch')];
    const y = layout === 0 ? [seq, dirs, batch, hidden] : [batch, seq, dirs, hidden];
    const state = layout === 0 ? [dirs, batch, hidden] : [batch, dirs, hidden];
    const types = [tensorType(dtype, y), tensorType(dtype, state), tensorType(dtype, state)];
    return { types: types.slice(0, outputs) };
  };
}

/** hidden_size attribute, else R's last dim, else W's dim 1 / gates; checked against each other. */
function hiddenSize(
  attr: number,
  gates: number,
  w: readonly Dim[] | undefined,
  r: readonly Dim[] | undefined,
): Dim | undefined {
  const fromW = w && isKnown(w[1]) ? w[1] / gates : undefined;
  if (fromW !== undefined && !Number.isInteger(fromW)) {
    throw new ShapeError(`W dim 1 (${String(w?.[1])}) is not a multiple of ${gates} gates`);
  }
  const candidates: (Dim | undefined)[] = [attr > 0 ? attr : undefined, r?.[2], fromW];
  const known = candidates.filter(isKnown);
  if (known.some((h) => h !== known[0])) {
    throw new ShapeError(
      `hidden size disagrees between hidden_size, R and W: ${known.join(' vs ')}`,
    );
  }
  return known[0] ?? candidates.find((c) => c !== undefined);
}

export const recurrentRules: Record<string, ShapeRule> = {
  RNN: recurrentRule(1, 2),
  GRU: recurrentRule(3, 2),
  LSTM: recurrentRule(4, 3),
};
