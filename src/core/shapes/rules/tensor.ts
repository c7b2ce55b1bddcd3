/**
 * Tensor-manipulation ops: shape queries, reshaping, slicing, gathering, scattering, padding and
 * casts. The rules fold small constant values (Shape, Gather, Concat, Slice, Reshape …) so that
 * exporter shape chains such as `Shape → Gather → Unsqueeze → Concat → Reshape` resolve, with
 * symbolic entries where the input shape is symbolic.
 *
 * Also home of the small context helpers (constant int lists, axes arguments) the other rule
 * files of this family share.
 */
import { DataType } from '../../onnx/types';
import { isFloatType } from '../../onnx/dtype';
import {
  addDim,
  allKnown,
  broadcastIndex,
  broadcastShapes,
  ceilDivDim,
  divDim,
  divideProducts,
  foldByIndex,
  isKnown,
  maxDim,
  minDim,
  mulDim,
  normalizeAxis,
  productDims,
  simplifyProduct,
  stridesOf,
  subDim,
  tensorType,
} from '../dims';
import {
  ShapeError,
  type ConstValue,
  type Dim,
  type InferContext,
  type InferResult,
  type ShapeRule,
  type TensorType,
} from '../types';
import { constDims, constInts, constScalar } from './constInputs';

// ---------------------------------------------------------------- shared helpers

/** A number converted to element type `to`, as Cast does: ints truncate, bool is 0/1. */
export function castNumber(v: number, to: DataType): number {
  if (to === DataType.BOOL) return v !== 0 && !Number.isNaN(v) ? 1 : 0;
  if (to === DataType.UNDEFINED) return v;
  if (isFloatType(to)) return to === DataType.FLOAT ? Math.fround(v) : v;
  return Number.isFinite(v) ? Math.trunc(v) : 0;
}

/**
 * An int list given as attribute `attr` before opset `inputSince` and as input `input` from then
 * on (Squeeze/Unsqueeze axes, Split sizes, Pad pads). `present` says whether it was given at all.
 */
export function intsArg(
  ctx: InferContext,
  attr: string,
  input: number,
  inputSince: number,
): { present: boolean; values?: number[] } {
  if (ctx.opset < inputSince) {
    const a = ctx.attrInts(attr);
    return { present: a !== undefined, values: a && [...a] };
  }
  return { present: ctx.hasInput(input), values: constInts(ctx, input) };
}

/** `n` fresh symbols for dims only known at run time, labelled so each node's are distinct. */
export function freshDims(ctx: InferContext, n: number, label: string): Dim[] {
  return Array.from({ length: n }, (_, i) => ctx.newSymbol(`${label}${i}`));
}

function one(t: TensorType | undefined, value?: ConstValue): InferResult {
  return { types: [t], values: [value] };
}

/** The same values re-shaped (Reshape, Flatten, Squeeze, Unsqueeze, Identity). */
function reshaped(v: ConstValue | undefined, shape: readonly Dim[]): ConstValue | undefined {
  return v && allKnown(shape) ? { dims: [...shape], values: v.values } : undefined;
}

const INT64 = DataType.INT64;
/** Slice ends at or beyond this mean "to the end" (exporters write INT64_MAX or INT32_MAX). */
const TO_END = 2 ** 31 - 1;

// ---------------------------------------------------------------- shape queries

/** Shape (opset 15 adds start/end, clamped to [0, rank]). Folds, symbolic dims included. */
const shape: ShapeRule = (ctx) => {
  const s = ctx.inputType(0)?.shape;
  if (!s) return one(tensorType(INT64, [ctx.newSymbol('rank')]));
  const r = s.length;
  const clamp = (v: number): number => Math.min(r, Math.max(0, v < 0 ? v + r : v));
  const start = clamp(ctx.attrInt('start', 0));
  const end = clamp(ctx.attrInt('end', r));
  const dims = s.slice(start, Math.max(start, end));
  return one(tensorType(INT64, [dims.length]), { dims: [dims.length], values: dims });
};

const size: ShapeRule = (ctx) => {
  const s = ctx.inputType(0)?.shape;
  const n = s ? simplifyProduct(s) : ctx.newSymbol('size');
  return one(tensorType(INT64, []), { dims: [], values: [n] });
};

// ---------------------------------------------------------------- reshaping

/** Reshape: 0 copies the input dim (unless allowzero), -1 is inferred from the element count. */
const reshape: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  const dtype = t?.dtype ?? DataType.UNDEFINED;
  const target = ctx.opset < 5 ? ctx.attrInts('shape') : constDims(ctx, 1);
  if (!target) {
    const rank = ctx.inputType(1)?.shape?.[0];
    return one(tensorType(dtype, isKnown(rank) ? freshDims(ctx, rank, 'dim') : undefined));
  }
  if (target.some((d) => isKnown(d) && d < -1) || target.filter((d) => d === -1).length > 1) {
    throw new ShapeError(
      `invalid reshape target [${target.join(',')}]: only one -1 is allowed, and no other negative`,
    );
  }
  const allowzero = ctx.attrInt('allowzero', 0) === 1;
  const out: Dim[] = target.map((d, i) =>
    d === 0 && !allowzero ? (t?.shape?.[i] ?? ctx.newSymbol(`dim${i}`)) : d,
  );
  const infer = out.indexOf(-1);
  if (infer >= 0) {
    const others = out.filter((_, i) => i !== infer);
    out[infer] = t?.shape ? divideProducts(t.shape, others) : ctx.newSymbol('dim');
  }
  if (t?.shape && allKnown(t.shape) && allKnown(out)) {
    const [a, b] = [productDims(t.shape), productDims(out)];
    if (a !== b || out.some((d) => isKnown(d) && d < 0)) {
      throw new ShapeError(
        `cannot reshape [${t.shape.join(',')}] (${a} elements) to [${target.join(',')}]`,
      );
    }
  }
  return one(tensorType(dtype, out), reshaped(ctx.inputValue(0), out));
};

/** Flatten to 2-D around `axis` (negative axes since opset 11). */
const flatten: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  if (!t?.shape)
    return one(t && tensorType(t.dtype, [ctx.newSymbol('rows'), ctx.newSymbol('cols')]));
  const r = t.shape.length;
  const axis = ctx.attrInt('axis', 1);
  const a = axis < 0 ? axis + r : axis;
  if (a < 0 || a > r) throw new ShapeError(`axis ${axis} is out of range for rank ${r}`);
  const out = [simplifyProduct(t.shape.slice(0, a)), simplifyProduct(t.shape.slice(a))];
  return one(tensorType(t.dtype, out), reshaped(ctx.inputValue(0), out));
};

/** Squeeze: given axes must be 1; without axes, every dim known to be 1 goes. */
const squeeze: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  const axes = intsArg(ctx, 'axes', 1, 13);
  if (!t?.shape || (axes.present && !axes.values)) return one(t && tensorType(t.dtype));
  const s = t.shape;
  let drop: Set<number>;
  if (axes.values) {
    drop = new Set(axes.values.map((a) => normalizeAxis(a, s.length)));
    for (const a of drop) {
      if (isKnown(s[a]) && s[a] !== 1)
        throw new ShapeError(`cannot squeeze axis ${a} of size ${s[a]}`);
    }
  } else {
    // A symbolic dim may or may not be 1 at run time: the rank is then unknown.
    if (!allKnown(s)) return one(tensorType(t.dtype));
    drop = new Set(s.flatMap((d, i) => (d === 1 ? [i] : [])));
  }
  const out = s.filter((_, i) => !drop.has(i));
  return one(tensorType(t.dtype, out), reshaped(ctx.inputValue(0), out));
};

/** Unsqueeze: axes refer to the output rank (attribute before opset 13, input since). */
const unsqueeze: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  const axes = intsArg(ctx, 'axes', 1, 13).values;
  if (!t?.shape || !axes) return one(t && tensorType(t.dtype));
  const rank = t.shape.length + axes.length;
  const at = new Set(axes.map((a) => normalizeAxis(a, rank)));
  if (at.size !== axes.length) throw new ShapeError(`repeated axis in [${axes.join(',')}]`);
  const rest = [...t.shape];
  const out = Array.from({ length: rank }, (_, i) => (at.has(i) ? 1 : (rest.shift() as Dim)));
  return one(tensorType(t.dtype, out), reshaped(ctx.inputValue(0), out));
};

const transpose: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  if (!t?.shape) return one(t && tensorType(t.dtype));
  const s = t.shape;
  const perm = ctx.attrInts('perm') ?? s.map((_, i) => s.length - 1 - i);
  if (perm.length !== s.length || new Set(perm).size !== s.length) {
    throw new ShapeError(`perm [${perm.join(',')}] is not a permutation of rank ${s.length}`);
  }
  const out = perm.map((p) => s[normalizeAxis(p, s.length, 'perm entry')]);
  const v = ctx.inputValue(0);
  let value: ConstValue | undefined;
  if (v && allKnown(out)) {
    const strides = stridesOf(v.dims);
    value = foldByIndex(out, v.values, (idx) =>
      idx.reduce((acc, x, j) => acc + x * strides[perm[j]], 0),
    );
  }
  return one(tensorType(t.dtype, out), value);
};

// ---------------------------------------------------------------- joining and splitting

/** Concatenates known values along `axis` (outer blocks × each input's inner block). */
function concatValues(vals: readonly ConstValue[], axis: number): ConstValue | undefined {
  const dims = [...vals[0].dims];
  dims[axis] = vals.reduce((a, v) => a + v.dims[axis], 0);
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const values: Dim[] = [];
  for (let o = 0; o < outer; o++) {
    for (const v of vals) {
      const block = v.dims.slice(axis).reduce((a, b) => a * b, 1);
      values.push(...v.values.slice(o * block, (o + 1) * block));
    }
  }
  return { dims, values };
}

const concat: ShapeRule = (ctx) => {
  const ids = Array.from({ length: ctx.inputCount }, (_, i) => i).filter((i) => ctx.hasInput(i));
  const types = ids.map((i) => ctx.inputType(i));
  const dtype = types.find((t) => t)?.dtype ?? DataType.UNDEFINED;
  const known = types.filter((t): t is TensorType & { shape: readonly Dim[] } => !!t?.shape);
  if (known.length === 0) return one(tensorType(dtype));
  const rank = known[0].shape.length;
  const axis = normalizeAxis(ctx.attrInt('axis', ctx.opset < 4 ? 1 : 0), rank);
  const out = [...known[0].shape];
  for (const t of known.slice(1)) {
    if (t.shape.length !== rank) throw new ShapeError('Concat inputs have different ranks');
    t.shape.forEach((d, i) => {
      if (i === axis) return;
      if (isKnown(d) && isKnown(out[i]) && d !== out[i]) {
        throw new ShapeError(`Concat inputs differ on axis ${i}: ${out[i]} vs ${d}`);
      }
      if (isKnown(d)) out[i] = d;
    });
  }
  out[axis] =
    known.length === types.length
      ? known.map((t) => t.shape[axis]).reduce((a, b) => addDim(a, b))
      : ctx.newSymbol('concat');
  const vals = ids.map((i) => ctx.inputValue(i));
  const value = vals.every((v) => v) ? concatValues(vals as ConstValue[], axis) : undefined;
  return one(tensorType(dtype, out), value);
};

/** Values of `v` at `start…start+len` along `axis`. */
function sliceAlong(
  v: ConstValue,
  axis: number,
  start: number,
  len: number,
): ConstValue | undefined {
  const dims = [...v.dims];
  dims[axis] = len;
  const strides = stridesOf(v.dims);
  return foldByIndex(dims, v.values, (idx) =>
    idx.reduce((acc, x, j) => acc + (j === axis ? x + start : x) * strides[j], 0),
  );
}

/** Chunk sizes of Split when no explicit sizes are given. */
function evenSplit(ctx: InferContext, dim: Dim, n: number): Dim[] {
  const uneven = ctx.opset >= 18 && ctx.attr('num_outputs') !== undefined;
  if (!uneven) return Array.from({ length: n }, () => divDim(dim, n));
  // Opset 18 num_outputs: chunks of ceil(dim/n), the last one smaller.
  const chunk = ceilDivDim(dim, n);
  return [...Array.from({ length: n - 1 }, () => chunk), subDim(dim, mulDim(chunk, n - 1))];
}

const split: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  const n = ctx.node.outputs.length;
  if (!t?.shape) return { types: Array.from({ length: n }, () => t && tensorType(t.dtype)) };
  const axis = normalizeAxis(ctx.attrInt('axis', 0), t.shape.length);
  const given = intsArg(ctx, 'split', 1, 13);
  const dim = t.shape[axis];
  let sizes: Dim[];
  if (given.values) sizes = given.values;
  else if (given.present) sizes = freshDims(ctx, n, 'split');
  else sizes = evenSplit(ctx, dim, n);
  if (sizes.length !== n) throw new ShapeError(`${sizes.length} split sizes for ${n} outputs`);
  const total = sizes.reduce<Dim>((a, b) => addDim(a, b), 0);
  if (isKnown(dim) && isKnown(total) && total !== dim) {
    throw new ShapeError(`split sizes [${sizes.join(',')}] do not add up to ${dim}`);
  }
  const v = ctx.inputValue(0);
  let offset = 0;
  const values = sizes.map((len) => {
    if (!v || !isKnown(len)) return undefined;
    const part = sliceAlong(v, axis, offset, len);
    offset += len;
    return part;
  });
  const types = sizes.map((d) =>
    tensorType(
      t.dtype,
      t.shape?.map((x, i) => (i === axis ? d : x)),
    ),
  );
  return { types, values };
};

// ---------------------------------------------------------------- Slice

interface SliceAxis {
  start: number;
  step: number;
  len: Dim;
}

/** Resolves one axis of a Slice per the spec's clamping, for a known dim. */
function sliceKnown(dim: number, start: number, end: number, step: number): SliceAxis {
  if (step === 0) throw new ShapeError('Slice step cannot be 0');
  const s0 = start < 0 ? start + dim : start;
  const e0 = end < 0 ? end + dim : end;
  // Spec: starts clamp to [0, dim] (step > 0) or [0, dim-1] (step < 0), ends to [0, dim] or [-1, dim-1].
  const s = Math.min(Math.max(s0, 0), step > 0 ? dim : dim - 1);
  const e = Math.min(Math.max(e0, step > 0 ? 0 : -1), step > 0 ? dim : dim - 1);
  return { start: s, step, len: Math.max(0, Math.ceil((e - s) / step)) };
}

/**
 * One axis of a Slice over a symbolic dim D: exact expressions for the forms exporters emit
 * (x[a:], x[-k:], x[:k], x[::-1]); anything else gets a fresh symbol rather than a guess.
 */
function sliceSymbolic(
  ctx: InferContext,
  d: string,
  start: number,
  end: number,
  step: number,
): Dim {
  const toEnd = step > 0 ? end >= TO_END : end <= -TO_END;
  if (step === 1 && start >= 0 && end >= 0 && end <= start) return 0;
  if (step === 1 && toEnd && start >= 0) return start === 0 ? d : maxDim(0, subDim(d, start));
  if (step === 1 && toEnd && start < 0) return minDim(d, -start);
  if (step === 1 && start >= 0 && end >= 0) {
    return start === 0 ? minDim(d, end) : maxDim(0, subDim(minDim(d, end), start));
  }
  if (step === -1 && toEnd && (start === -1 || start >= TO_END)) return d;
  return ctx.newSymbol('slice');
}

/** Starts, ends, axes and steps: attributes before opset 10, inputs 1-4 since. */
function sliceArgs(ctx: InferContext): {
  starts?: number[];
  ends?: number[];
  axes?: number[];
  steps?: number[];
} {
  if (ctx.opset < 10) {
    const [starts, ends, axes] = ['starts', 'ends', 'axes'].map((a) => ctx.attrInts(a));
    return { starts: starts && [...starts], ends: ends && [...ends], axes: axes && [...axes] };
  }
  const get = (i: number): number[] | undefined =>
    ctx.hasInput(i) ? constInts(ctx, i) : undefined;
  return { starts: constInts(ctx, 1), ends: constInts(ctx, 2), axes: get(3), steps: get(4) };
}

const slice: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  if (!t?.shape) return one(t && tensorType(t.dtype));
  const s = t.shape;
  const { starts, ends, axes: givenAxes, steps } = sliceArgs(ctx);
  const axesUnknown = ctx.opset >= 10 && ctx.hasInput(3) && !givenAxes;
  const stepsUnknown = ctx.opset >= 10 && ctx.hasInput(4) && !steps;
  if (!starts || !ends || axesUnknown || stepsUnknown) {
    return one(tensorType(t.dtype, freshDims(ctx, s.length, 'slice')));
  }
  const axes = givenAxes ?? starts.map((_, i) => i);
  const per: SliceAxis[] = s.map((d) => ({ start: 0, step: 1, len: d }));
  axes.forEach((ax, i) => {
    const a = normalizeAxis(ax, s.length);
    const step = steps?.[i] ?? 1;
    const d = s[a];
    per[a] = isKnown(d)
      ? sliceKnown(d, starts[i], ends[i], step)
      : { start: 0, step, len: sliceSymbolic(ctx, d, starts[i], ends[i], step) };
  });
  const out = per.map((p) => p.len);
  const v = ctx.inputValue(0);
  let value: ConstValue | undefined;
  if (v && allKnown(out)) {
    const strides = stridesOf(v.dims);
    value = foldByIndex(out, v.values, (idx) =>
      idx.reduce((acc, x, j) => acc + (per[j].start + x * per[j].step) * strides[j], 0),
    );
  }
  return one(tensorType(t.dtype, out), value);
};

// ---------------------------------------------------------------- gather and scatter

/** Gather: data.shape[:axis] + indices.shape + data.shape[axis+1:]; folds on known values. */
const gather: ShapeRule = (ctx) => {
  const data = ctx.inputType(0);
  const idx = ctx.inputType(1);
  if (!data?.shape || !idx?.shape) return one(data && tensorType(data.dtype));
  const r = data.shape.length;
  const axis = normalizeAxis(ctx.attrInt('axis', 0), r);
  const out = [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)];
  const dv = ctx.inputValue(0);
  const iv = constInts(ctx, 1);
  let value: ConstValue | undefined;
  if (dv && iv && allKnown(out)) {
    const strides = stridesOf(dv.dims);
    const k = idx.shape.length;
    const iStrides = stridesOf(ctx.inputValue(1)?.dims ?? []);
    const axisDim = dv.dims[axis];
    value = foldByIndex(out, dv.values, (o) => {
      const flat = o.slice(axis, axis + k).reduce((acc, x, j) => acc + x * iStrides[j], 0);
      const g = iv[flat] < 0 ? iv[flat] + axisDim : iv[flat];
      if (g < 0 || g >= axisDim)
        throw new ShapeError(`Gather index ${iv[flat]} is out of range for ${axisDim}`);
      const src = [...o.slice(0, axis), g, ...o.slice(axis + k)];
      return src.reduce((acc, x, j) => acc + x * strides[j], 0);
    });
  }
  return one(tensorType(data.dtype, out), value);
};

/** GatherElements: the indices' shape with the data's dtype. */
const gatherElements: ShapeRule = (ctx) => {
  const data = ctx.inputType(0);
  return one(data && tensorType(data.dtype, ctx.inputType(1)?.shape));
};

/** GatherND: indices.shape[:-1] + data.shape[batch_dims + k:], k = indices.shape[-1]. */
const gatherND: ShapeRule = (ctx) => {
  const data = ctx.inputType(0);
  const idx = ctx.inputType(1)?.shape;
  if (!data) return one(undefined);
  const k = idx?.[idx.length - 1];
  if (!data.shape || !idx || !isKnown(k)) return one(tensorType(data.dtype));
  const b = ctx.attrInt('batch_dims', 0);
  if (b + k > data.shape.length)
    throw new ShapeError(`batch_dims ${b} + index depth ${k} exceed rank ${data.shape.length}`);
  return one(tensorType(data.dtype, [...idx.slice(0, -1), ...data.shape.slice(b + k)]));
};

/** Scatter, ScatterElements, ScatterND, TensorScatter, Trilu, ReverseSequence: data's type. */
const likeInput: ShapeRule = (ctx) => one(ctx.inputType(0));

// ---------------------------------------------------------------- broadcasting copies

/** Expand: broadcast of the input shape and the (possibly symbolic) target shape. */
const expand: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  const dtype = t?.dtype ?? DataType.UNDEFINED;
  const target = constDims(ctx, 1);
  if (!t?.shape || !target) {
    const k = ctx.inputType(1)?.shape?.[0];
    const rank = isKnown(k) && t?.shape ? Math.max(k, t.shape.length) : undefined;
    return one(tensorType(dtype, rank === undefined ? undefined : freshDims(ctx, rank, 'expand')));
  }
  const out = broadcastShapes([t.shape, target]);
  const v = ctx.inputValue(0);
  const value =
    v && allKnown(out) ? foldByIndex(out, v.values, (i) => broadcastIndex(i, v.dims)) : undefined;
  return one(tensorType(dtype, out), value);
};

/** Tile: dim × repeat (opset 1 took a scalar `tiles` and an `axis` input instead). */
const tile: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  if (!t?.shape) return one(t && tensorType(t.dtype));
  const s = t.shape;
  let repeats: Dim[] | undefined = constDims(ctx, 1);
  if (ctx.opset < 6) {
    const axis = constScalar(ctx, 2);
    const tiles = constScalar(ctx, 1);
    repeats =
      isKnown(axis) && tiles !== undefined ? s.map((_, i) => (i === axis ? tiles : 1)) : undefined;
  }
  if (!repeats) return one(tensorType(t.dtype, freshDims(ctx, s.length, 'tile')));
  if (repeats.length !== s.length)
    throw new ShapeError(`${repeats.length} repeats for rank ${s.length}`);
  const reps = repeats;
  const out = s.map((d, i) => mulDim(d, reps[i]));
  const v = ctx.inputValue(0);
  let value: ConstValue | undefined;
  if (v && allKnown(out)) {
    const strides = stridesOf(v.dims);
    value = foldByIndex(out, v.values, (idx) =>
      idx.reduce((acc, x, j) => acc + (x % v.dims[j]) * strides[j], 0),
    );
  }
  return one(tensorType(t.dtype, out), value);
};

// ---------------------------------------------------------------- padding and cropping

/** Pad: `paddings`/`pads` attribute before opset 11, `pads` input since, `axes` input since 18. */
const pad: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  if (!t?.shape) return one(t && tensorType(t.dtype));
  const s = t.shape;
  const pads =
    ctx.opset < 11 ? (ctx.attrInts('pads') ?? ctx.attrInts('paddings')) : constInts(ctx, 1);
  const axesGiven = ctx.opset >= 18 && ctx.hasInput(3);
  const axes = axesGiven ? constInts(ctx, 3) : s.map((_, i) => i);
  if (!pads || !axes) return one(tensorType(t.dtype, freshDims(ctx, s.length, 'pad')));
  if (pads.length !== 2 * axes.length)
    throw new ShapeError(`${pads.length} pads for ${axes.length} axes`);
  const out = [...s];
  axes.forEach((ax, i) => {
    const a = normalizeAxis(ax, s.length);
    out[a] = addDim(out[a], pads[i] + pads[i + axes.length]);
    if (isKnown(out[a]) && out[a] < 0)
      throw new ShapeError(`negative pads make axis ${a} negative`);
  });
  return one(tensorType(t.dtype, out));
};

/** CenterCropPad: the given axes take the target sizes. */
const centerCropPad: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  if (!t?.shape) return one(t && tensorType(t.dtype));
  const s = t.shape;
  const sizes = constDims(ctx, 1);
  const axes = ctx.attrInts('axes') ?? s.map((_, i) => i);
  if (!sizes) {
    const crop = new Set(axes.map((a) => normalizeAxis(a, s.length)));
    return one(
      tensorType(
        t.dtype,
        s.map((d, i) => (crop.has(i) ? ctx.newSymbol(`crop${i}`) : d)),
      ),
    );
  }
  if (sizes.length !== axes.length)
    throw new ShapeError(`${sizes.length} sizes for ${axes.length} axes`);
  const out = [...s];
  axes.forEach((a, i) => (out[normalizeAxis(a, s.length)] = sizes[i]));
  return one(tensorType(t.dtype, out));
};

// ---------------------------------------------------------------- casts and copies

/**
 * True when a symbolic value is certainly an integer: symbols are dims, and sums and products
 * of dims and integers are integers; a quotient or a fractional factor may not be.
 */
export function isIntegerExpr(x: string): boolean {
  return !/\/|\d\.\d|\de-/.test(x);
}

/**
 * Folds a cast. A symbolic entry (a dim) stays as it is when certainly an integer; otherwise a
 * float→int cast truncates, which for non-negative dims is the floor.
 */
function castValue(
  v: ConstValue | undefined,
  from: DataType,
  to: DataType,
): ConstValue | undefined {
  if (!v) return undefined;
  const values: Dim[] = [];
  for (const x of v.values) {
    if (typeof x === 'number') values.push(castNumber(x, to));
    else if (to === DataType.BOOL) return undefined;
    else if (isFloatType(from) && !isFloatType(to) && !isIntegerExpr(x)) values.push(`floor(${x})`);
    else values.push(x);
  }
  return { dims: v.dims, values };
}

const cast: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  const to = ctx.attrInt('to', DataType.UNDEFINED) as DataType;
  const from = t?.dtype ?? DataType.UNDEFINED;
  return one(tensorType(to, t?.shape), castValue(ctx.inputValue(0), from, to));
};

const castLike: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  const to = ctx.inputType(1)?.dtype ?? DataType.UNDEFINED;
  const from = t?.dtype ?? DataType.UNDEFINED;
  return one(tensorType(to, t?.shape), castValue(ctx.inputValue(0), from, to));
};

/** BitCast (opset 26): same shape, reinterpreted as `to` (same bit width, so no values). */
const bitCast: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  return one(tensorType(ctx.attrInt('to', DataType.UNDEFINED) as DataType, t?.shape));
};

const identity: ShapeRule = (ctx) => one(ctx.inputType(0), ctx.inputValue(0));

// ---------------------------------------------------------------- layout

/** DepthToSpace [N, C/b², H·b, W·b] and SpaceToDepth [N, C·b², H/b, W/b]. */
function blockRule(toSpace: boolean): ShapeRule {
  return (ctx) => {
    const t = ctx.inputType(0);
    if (!t?.shape) return one(t && tensorType(t.dtype));
    if (t.shape.length !== 4)
      throw new ShapeError(`expects a 4-D input, got rank ${t.shape.length}`);
    const b = ctx.attrInt('blocksize', 1);
    const [n, c, h, w] = t.shape;
    const check = (d: Dim, by: number, what: string): Dim => {
      if (isKnown(d) && d % by !== 0)
        throw new ShapeError(`${what} ${d} is not divisible by ${by}`);
      return divDim(d, by);
    };
    const out = toSpace
      ? [n, check(c, b * b, 'channels'), mulDim(h, b), mulDim(w, b)]
      : [n, mulDim(c, b * b), check(h, b, 'height'), check(w, b, 'width')];
    return one(tensorType(t.dtype, out));
  };
}

/** OneHot: the depth (a constant input) inserted at `axis`; dtype of the `values` input. */
const oneHot: ShapeRule = (ctx) => {
  const idx = ctx.inputType(0)?.shape;
  const dtype = ctx.inputType(2)?.dtype ?? DataType.UNDEFINED;
  if (!idx) return one(tensorType(dtype));
  const depthValue = constScalar(ctx, 1);
  const depth =
    typeof depthValue === 'number'
      ? Math.trunc(depthValue)
      : (depthValue ?? ctx.newSymbol('depth'));
  const axis = normalizeAxis(ctx.attrInt('axis', -1), idx.length + 1);
  const out = [...idx.slice(0, axis), depth, ...idx.slice(axis)];
  return one(tensorType(dtype, out));
};

export const tensorRules: Record<string, ShapeRule> = {
  Shape: shape,
  Size: size,
  Reshape: reshape,
  Flatten: flatten,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Transpose: transpose,
  Concat: concat,
  Split: split,
  Slice: slice,
  Gather: gather,
  GatherElements: gatherElements,
  GatherND: gatherND,
  Scatter: likeInput,
  ScatterElements: likeInput,
  ScatterND: likeInput,
  TensorScatter: likeInput,
  Expand: expand,
  Tile: tile,
  Pad: pad,
  CenterCropPad: centerCropPad,
  Cast: cast,
  CastLike: castLike,
  BitCast: bitCast,
  Identity: identity,
  DepthToSpace: blockRule(true),
  SpaceToDepth: blockRule(false),
  Trilu: likeInput,
  ReverseSequence: likeInput,
  OneHot: oneHot,
};
