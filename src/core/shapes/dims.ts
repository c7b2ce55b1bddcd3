/** Arithmetic on possibly symbolic dimensions, shared by the shape rules. */
import { ShapeError, type Dim, type TensorType } from './types';
import type { DataType } from '../onnx/types';

export function isKnown(d: Dim | undefined): d is number {
  return typeof d === 'number';
}

export function allKnown(shape: readonly Dim[] | undefined): shape is readonly number[] {
  return shape !== undefined && shape.every((d) => typeof d === 'number');
}

/** Wraps a symbolic term in parentheses when it is compound, so products stay readable. */
function term(d: Dim): string {
  return typeof d === 'number' || /^[\w.]+$/.test(d) ? String(d) : `(${d})`;
}

export function mulDim(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  if (a === 1) return b;
  if (b === 1) return a;
  if (a === 0 || b === 0) return 0;
  return `${term(a)}*${term(b)}`;
}

export function addDim(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  return `${term(a)}+${term(b)}`;
}

export function subDim(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (b === 0) return a;
  if (a === b) return 0;
  return `${term(a)}-${term(b)}`;
}

/** Floor division; symbolic when either side is symbolic. */
export function divDim(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') {
    if (b === 0) throw new ShapeError('division by zero in a shape computation');
    return Math.floor(a / b);
  }
  if (b === 1) return a;
  if (a === b) return 1;
  return `${term(a)}/${term(b)}`;
}

export function ceilDivDim(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return Math.ceil(a / b);
  if (b === 1) return a;
  return `ceil(${term(a)}/${term(b)})`;
}

export function productDims(dims: readonly Dim[]): Dim {
  let p: Dim = 1;
  for (const d of dims) p = mulDim(p, d);
  return p;
}

/** Resolves a possibly negative axis against a rank, with a clear error when out of range. */
export function normalizeAxis(axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ShapeError(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Numpy-style multidirectional broadcasting (ONNX Broadcasting.md). */
export function broadcastShapes(shapes: readonly (readonly Dim[])[]): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let dim: Dim = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (dim === 1) dim = d;
      else if (dim !== d) {
        if (typeof dim === 'number' && typeof d === 'number') {
          throw new ShapeError(
            `shapes [${shapes.map((x) => x.join(',')).join('] and [')}] do not broadcast`,
          );
        }
        // Symbolic vs other: a symbolic dim broadcasting with a known one must equal it.
        if (typeof d === 'number') dim = d;
      }
    }
    out.push(dim);
  }
  return out;
}

export function tensorType(dtype: DataType, shape?: readonly Dim[]): TensorType {
  return shape ? { dtype, shape: [...shape] } : { dtype };
}

// ---- Helpers for constant folding and symbolic products (appended; shared by the rules). ----

/** Folding bound for values a rule materialises; same bound as infer.ts MAX_FOLDED_ELEMENTS. */
export const FOLD_LIMIT = 1 << 16;

export function minDim(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return Math.min(a, b);
  return a === b ? a : `min(${a},${b})`;
}

export function maxDim(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return Math.max(a, b);
  return a === b ? a : `max(${a},${b})`;
}

/** Row-major strides of a known shape. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

/** Calls `visit` with every multi-index of a known shape, in row-major order. */
export function forEachIndex(
  dims: readonly number[],
  visit: (idx: readonly number[]) => void,
): void {
  const n = dims.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(dims.length).fill(0);
  for (let k = 0; k < n; k++) {
    visit(idx);
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
}

/**
 * Builds a folded value of shape `outDims` whose element at multi-index `idx` is
 * `source[at(idx)]`: the one gather loop behind Transpose, Slice, Expand, Tile and Gather.
 */
export function foldByIndex(
  outDims: readonly number[],
  source: readonly Dim[],
  at: (idx: readonly number[]) => number,
): { dims: number[]; values: Dim[] } | undefined {
  if (outDims.reduce((a, b) => a * b, 1) > FOLD_LIMIT) return undefined;
  const values: Dim[] = [];
  forEachIndex(outDims, (idx) => values.push(source[at(idx)]));
  return { dims: [...outDims], values };
}

/** Flat index into `dims` of a multi-index aligned to the right (numpy broadcasting). */
export function broadcastIndex(idx: readonly number[], dims: readonly number[]): number {
  const offset = idx.length - dims.length;
  let flat = 0;
  for (let d = 0; d < dims.length; d++)
    flat = flat * dims[d] + (dims[d] === 1 ? 0 : idx[d + offset]);
  return flat;
}

/** Splits a dim into a numeric factor and symbolic factors, for cancelling products. */
function factors(d: Dim): { coef: number; syms: string[] } {
  if (typeof d === 'number') return { coef: d, syms: [] };
  return { coef: 1, syms: d.split('*').every((p) => /^[\w.]+$/.test(p)) ? d.split('*') : [d] };
}

/**
 * product(numer) / product(denom), cancelling common symbolic factors, so Reshape's -1 against
 * ['N', 3, 224, 224] with target ['N', -1] is 150528 rather than '(N*3*224*224)/N'. Falls back to
 * a symbolic quotient when the factors do not cancel exactly.
 */
export function divideProducts(numer: readonly Dim[], denom: readonly Dim[]): Dim {
  let coefN = 1;
  let coefD = 1;
  const syms: string[] = [];
  for (const d of numer) {
    const f = factors(d);
    coefN *= f.coef;
    syms.push(...f.syms);
  }
  const leftover: string[] = [];
  for (const d of denom) {
    const f = factors(d);
    coefD *= f.coef;
    for (const s of f.syms) {
      const i = syms.indexOf(s);
      if (i >= 0) syms.splice(i, 1);
      else leftover.push(s);
    }
  }
  if (coefD === 0) throw new ShapeError('cannot infer a dimension from a shape containing 0');
  if (leftover.length === 0 && coefN % coefD === 0) return productDims([...syms, coefN / coefD]);
  return divDim(productDims([...syms, coefN]), productDims([...leftover, coefD]));
}

/** Merges two dims from alternative paths (If branches, loop iterations). */
export function mergeDim(a: Dim, b: Dim, fresh: () => string): Dim {
  return a === b ? a : fresh();
}

/**
 * Merges two tensor types from alternative paths: equal dims kept, different dims become a
 * fresh symbol, different ranks give an unknown rank.
 */
export function mergeTypes(
  a: TensorType | undefined,
  b: TensorType | undefined,
  fresh: () => string,
): TensorType | undefined {
  if (!a || !b) return a ?? b;
  const dtype = a.dtype || b.dtype;
  if (!a.shape || !b.shape || a.shape.length !== b.shape.length) return { dtype };
  const bs = b.shape;
  return { dtype, shape: a.shape.map((d, i) => mergeDim(d, bs[i], fresh)) };
}

/** The shape as plain numbers when every dim is known (a mutable copy), else undefined. */
export function knownDims(shape: readonly Dim[] | undefined): number[] | undefined {
  return shape && allKnown(shape) ? shape.map(Number) : undefined;
}

/** A product with its numeric factors gathered last: ['N', 3, 4] → 'N*12', not '(N*3)*4'. */
export function simplifyProduct(dims: readonly Dim[]): Dim {
  return divideProducts(dims, []);
}
