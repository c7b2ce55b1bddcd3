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
          throw new ShapeError(`shapes [${shapes.map((x) => x.join(',')).join('] and [')}] do not broadcast`);
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
