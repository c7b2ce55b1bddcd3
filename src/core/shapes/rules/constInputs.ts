/**
 * Reading constant (folded) inputs inside shape rules: shapes, axes, sizes and scalars that
 * exporters pass as inputs rather than attributes. One place for every rule family.
 */
import { allKnown } from '../dims';
import type { Dim, InferContext } from '../types';

/** The folded values of input `i`, possibly symbolic (a shape computed from a symbolic Shape). */
export function constDims(ctx: InferContext, i: number): Dim[] | undefined {
  const v = ctx.inputValue(i);
  return v ? [...v.values] : undefined;
}

/** The folded values of input `i` when they are all numbers. */
export function constInts(ctx: InferContext, i: number): number[] | undefined {
  const v = constDims(ctx, i);
  return v && allKnown(v) ? (v as number[]) : undefined;
}

/** A scalar (or one-element) constant input. */
export function constScalar(ctx: InferContext, i: number): Dim | undefined {
  const v = ctx.inputValue(i);
  return v && v.values.length === 1 ? v.values[0] : undefined;
}

/** Folded integer values of input `i`, truncated, symbolic entries kept (e.g. pads, sizes). */
export function constTruncatedDims(ctx: InferContext, i: number): Dim[] | undefined {
  if (!ctx.hasInput(i)) return undefined;
  const v = ctx.inputValue(i);
  return v ? v.values.map((x) => (typeof x === 'number' ? Math.trunc(x) : x)) : undefined;
}

/** A constant scalar (or one-element) integer input, truncated (e.g. DFT's dft_length). */
export function constIntegerScalar(ctx: InferContext, i: number): Dim | undefined {
  const v = constTruncatedDims(ctx, i);
  return v && v.length === 1 ? v[0] : undefined;
}
