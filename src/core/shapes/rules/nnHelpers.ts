/**
 * Helpers shared by the neural-network rule families: reading input types, sliding-window
 * (conv/pool) output-size arithmetic on possibly symbolic dims, and small consistency checks.
 */
import { DataType } from '../../onnx/types';
import { addDim, ceilDivDim, divDim, mulDim, normalizeAxis, subDim, tensorType } from '../dims';
import {
  ShapeError,
  type Dim,
  type InferContext,
  type InferResult,
  type TensorType,
} from '../types';

export function shapeOf(ctx: InferContext, i: number): readonly Dim[] | undefined {
  return ctx.inputType(i)?.shape;
}

export function dtypeOf(
  ctx: InferContext,
  i: number,
  fallback: DataType = DataType.FLOAT,
): DataType {
  const t = ctx.inputType(i);
  return t && t.dtype !== DataType.UNDEFINED ? t.dtype : fallback;
}

/** Output 0 has input `i`'s type (every shape-preserving op). */
export function sameAsInput(ctx: InferContext, i = 0): TensorType {
  return tensorType(dtypeOf(ctx, i), shapeOf(ctx, i));
}

export function single(t: TensorType | undefined): InferResult {
  return { types: [t] };
}

/** `d + c` for a constant c, keeping symbolic dims readable ('H-2' rather than 'H+-2'). */
export function offsetDim(d: Dim, c: number): Dim {
  return c >= 0 ? addDim(d, c) : subDim(d, -c);
}

/** `count` fresh symbols for dims only known at run time, named `<label>0`, `<label>1` … */
export function freshDims(ctx: InferContext, label: string, count: number): Dim[] {
  return Array.from({ length: count }, (_, i) => ctx.newSymbol(`${label}${i}`));
}

/** Throws when two dims are both known and differ. `what` names them in the message. */
export function checkSameDim(a: Dim | undefined, b: Dim | undefined, what: string): void {
  if (typeof a === 'number' && typeof b === 'number' && a !== b) {
    throw new ShapeError(`${what}: ${a} vs ${b}`);
  }
}

/** Of two dims that must agree, the one that says most (known beats symbolic beats absent). */
export function pickDim(a: Dim | undefined, b: Dim | undefined, fallback: () => Dim): Dim {
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return a ?? b ?? fallback();
}

export function requireRank(
  shape: readonly Dim[],
  rank: number | readonly number[],
  what: string,
): void {
  const ranks = typeof rank === 'number' ? [rank] : rank;
  if (!ranks.includes(shape.length)) {
    throw new ShapeError(`${what} must have rank ${ranks.join(' or ')}, got rank ${shape.length}`);
  }
}

export function requireMinRank(shape: readonly Dim[], rank: number, what: string): void {
  if (shape.length < rank) {
    throw new ShapeError(`${what} must have rank ≥ ${rank}, got rank ${shape.length}`);
  }
}

/** Unique, normalized axes; throws on duplicates (ReduceX, Einsum-free ops). */
export function normalizeAxes(axes: readonly number[], rank: number, what = 'axes'): number[] {
  const out = axes.map((a) => normalizeAxis(a, rank, what));
  if (new Set(out).size !== out.length)
    throw new ShapeError(`${what} [${axes.join(', ')}] repeat an axis`);
  return out;
}

/** Checks that `from` broadcasts one way onto `to` (PRelu slope, Gemm C, …). */
export function checkUnidirectional(from: readonly Dim[], to: readonly Dim[], what: string): void {
  if (from.length > to.length) {
    throw new ShapeError(`${what} of rank ${from.length} cannot broadcast to rank ${to.length}`);
  }
  from.forEach((d, i) => {
    const t = to[to.length - from.length + i];
    if (typeof d === 'number' && typeof t === 'number' && d !== 1 && d !== t) {
      throw new ShapeError(`${what} [${from.join(', ')}] does not broadcast to [${to.join(', ')}]`);
    }
  });
}

// ---- Sliding windows (Conv, pooling): ONNX Operators.md, MaxPool/Conv "output_spatial_shape". ----

export type AutoPad = 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';

export interface Window {
  readonly kernel: readonly Dim[];
  readonly strides: readonly number[];
  readonly dilations: readonly number[];
  /** [x1_begin, x2_begin, …, x1_end, x2_end, …] */
  readonly pads: readonly number[];
  readonly autoPad: AutoPad;
  readonly ceilMode: boolean;
}

function listAttr(ctx: InferContext, name: string, n: number, fallback: number): number[] {
  const v = ctx.attrInts(name);
  if (!v || v.length === 0) return new Array<number>(n).fill(fallback);
  if (v.length !== n) throw new ShapeError(`${name} has ${v.length} values, expected ${n}`);
  return [...v];
}

export function readAutoPad(ctx: InferContext): AutoPad {
  const s = ctx.attrString('auto_pad', 'NOTSET');
  if (s === 'NOTSET' || s === 'SAME_UPPER' || s === 'SAME_LOWER' || s === 'VALID') return s;
  throw new ShapeError(`auto_pad '${s}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
}

/** Reads strides/dilations/pads/auto_pad/ceil_mode for `kernel.length` spatial axes. */
export function readWindow(ctx: InferContext, kernel: readonly Dim[]): Window {
  const n = kernel.length;
  const w: Window = {
    kernel,
    strides: listAttr(ctx, 'strides', n, 1),
    dilations: listAttr(ctx, 'dilations', n, 1),
    pads: listAttr(ctx, 'pads', 2 * n, 0),
    autoPad: readAutoPad(ctx),
    ceilMode: ctx.attrInt('ceil_mode', 0) === 1,
  };
  if (w.strides.some((s) => s < 1))
    throw new ShapeError(`strides [${w.strides.join(', ')}] must be ≥ 1`);
  if (w.dilations.some((s) => s < 1))
    throw new ShapeError(`dilations [${w.dilations.join(', ')}] must be ≥ 1`);
  if (w.pads.some((p) => p < 0)) throw new ShapeError(`pads [${w.pads.join(', ')}] must be ≥ 0`);
  return w;
}

/** (k − 1)·dilation + 1: the span the kernel covers. */
export function effectiveKernel(k: Dim, dilation: number): Dim {
  return addDim(mulDim(subDim(k, 1), dilation), 1);
}

/** Output size of one spatial axis of a convolution or pooling window. */
export function windowOutputDim(w: Window, axis: number, input: Dim): Dim {
  const n = w.kernel.length;
  const stride = w.strides[axis];
  const ek = effectiveKernel(w.kernel[axis], w.dilations[axis]);
  if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') return ceilDivDim(input, stride);
  const padBegin = w.autoPad === 'VALID' ? 0 : w.pads[axis];
  const padSum = w.autoPad === 'VALID' ? 0 : w.pads[axis] + w.pads[axis + n];
  if (typeof input === 'number' && typeof ek === 'number') {
    const span = input + padSum - ek;
    if (span < 0) {
      throw new ShapeError(
        `spatial axis ${axis}: kernel span ${ek} is larger than the padded input ${input + padSum}`,
      );
    }
    if (!w.ceilMode) return Math.floor(span / stride) + 1;
    let out = Math.ceil(span / stride) + 1;
    // "Sliding windows that would start in the right padded region are ignored" (MaxPool spec).
    if ((out - 1) * stride >= input + padBegin) out--;
    return out;
  }
  if (typeof ek !== 'number') {
    const span = subDim(offsetDim(input, padSum), ek);
    return addDim(w.ceilMode ? ceilDivDim(span, stride) : divDim(span, stride), 1);
  }
  // Stride 1 folds the +1 into the offset, so 'H' with a 3-wide kernel and pads 1 stays 'H'.
  if (stride === 1) return offsetDim(input, padSum - ek + 1);
  const span = offsetDim(input, padSum - ek);
  return addDim(w.ceilMode ? ceilDivDim(span, stride) : divDim(span, stride), 1);
}

export function windowOutputDims(w: Window, spatial: readonly Dim[]): Dim[] {
  return spatial.map((d, i) => windowOutputDim(w, i, d));
}

/** Validates an input of shape [N, C, spatial…] against the kernel rank. */
export function requireSpatial(x: readonly Dim[], spatialRank: number, what = 'input'): void {
  if (x.length !== spatialRank + 2) {
    throw new ShapeError(
      `${what} has rank ${x.length}, but the kernel has ${spatialRank} spatial axes (expected rank ${spatialRank + 2})`,
    );
  }
}
