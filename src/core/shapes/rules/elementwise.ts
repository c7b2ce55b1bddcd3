/**
 * Elementwise ops: broadcasting binary and variadic ops (ONNX Broadcasting.md), Where, and unary
 * math/logic. One broadcasting rule and one unary rule serve them all; folding applies a per-op
 * scalar function to known (possibly symbolic) values, so shape arithmetic such as
 * `Shape → Gather → Mul → Concat` resolves.
 */
import { DataType } from '../../onnx/types';
import { isFloatType } from '../../onnx/dtype';
import {
  addDim,
  broadcastIndex,
  broadcastShapes,
  divDim,
  FOLD_LIMIT,
  forEachIndex,
  mulDim,
  subDim,
  tensorType,
} from '../dims';
import type { ConstValue, Dim, InferContext, InferResult, ShapeRule, TensorType } from '../types';
import { castNumber, isIntegerExpr } from './tensor';

/** A scalar fold: the result, or undefined when it cannot be known (e.g. 'N' > 3). */
type Fold = (values: readonly Dim[], ctx: InferContext, dtype: number) => Dim | undefined;

/** Output dtype: that of input 0 (arithmetic), or bool (comparisons, logic, IsNaN…). */
type OutType = 'same' | 'bool';

const num = (d: Dim | undefined): d is number => typeof d === 'number';
const bool = (b: boolean): number => (b ? 1 : 0);

/** Folds only when every operand is a number. */
function numeric(f: (...xs: number[]) => number): Fold {
  return (vs) => (vs.every(num) ? f(...(vs as number[])) : undefined);
}

function isIntType(dtype: number): boolean {
  return !isFloatType(dtype) && dtype !== DataType.BOOL && dtype !== DataType.STRING;
}

/** ONNX Div: exact for floats, truncation toward zero for integers. */
const divFold: Fold = ([a, b], _ctx, dtype) => {
  if (num(a) && num(b)) {
    if (!isIntType(dtype)) return a / b;
    return b === 0 ? undefined : Math.trunc(a / b);
  }
  // Symbolic operands are dims, non-negative, where truncation equals floor division.
  return divDim(a, b);
};

/** ONNX Mod: fmod=0 takes the divisor's sign (integers), fmod=1 the dividend's (C fmod). */
const modFold: Fold = (vs, ctx) => {
  const [a, b] = vs;
  if (!num(a) || !num(b) || b === 0) return undefined;
  if (ctx.attrInt('fmod', 0) === 1) return a % b;
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
};

const equalFold: Fold = ([a, b]) => (a === b ? 1 : num(a) && num(b) ? 0 : undefined);

function bitShift(vs: readonly Dim[], ctx: InferContext): Dim | undefined {
  const [a, b] = vs;
  if (!num(a) || !num(b)) return undefined;
  // Shift by multiplication so 64-bit-ish values keep their magnitude.
  return ctx.attrString('direction', 'LEFT') === 'RIGHT' ? Math.floor(a / 2 ** b) : a * 2 ** b;
}

/** Pairwise folds for Max/Min where a symbol compares only with itself. */
const pick =
  (f: (a: number, b: number) => number): Fold =>
  (vs) =>
    vs.reduce<Dim | undefined>(
      (acc, v) =>
        acc === undefined
          ? undefined
          : acc === v
            ? acc
            : num(acc) && num(v)
              ? f(acc, v)
              : undefined,
      vs[0],
    );

const BINARY: Record<string, [OutType, Fold | undefined]> = {
  Add: ['same', ([a, b]) => addDim(a, b)],
  Sub: ['same', ([a, b]) => subDim(a, b)],
  Mul: ['same', ([a, b]) => mulDim(a, b)],
  Div: ['same', divFold],
  Pow: ['same', ([a, b]) => (b === 1 ? a : num(a) && num(b) ? a ** b : undefined)],
  Mod: ['same', modFold],
  BitShift: ['same', bitShift],
  BitwiseAnd: ['same', numeric((a, b) => Number(BigInt(a) & BigInt(b)))],
  BitwiseOr: ['same', numeric((a, b) => Number(BigInt(a) | BigInt(b)))],
  BitwiseXor: ['same', numeric((a, b) => Number(BigInt(a) ^ BigInt(b)))],
  And: ['bool', numeric((a, b) => bool(a !== 0 && b !== 0))],
  Or: ['bool', numeric((a, b) => bool(a !== 0 || b !== 0))],
  Xor: ['bool', numeric((a, b) => bool((a !== 0) !== (b !== 0)))],
  Equal: ['bool', equalFold],
  Greater: ['bool', numeric((a, b) => bool(a > b))],
  GreaterOrEqual: ['bool', numeric((a, b) => bool(a >= b))],
  Less: ['bool', numeric((a, b) => bool(a < b))],
  LessOrEqual: ['bool', numeric((a, b) => bool(a <= b))],
};

const VARIADIC: Record<string, Fold> = {
  Max: pick(Math.max),
  Min: pick(Math.min),
  Sum: (vs) => vs.reduce((a, b) => addDim(a, b)),
  Mean: numeric((...xs) => xs.reduce((a, b) => a + b, 0) / xs.length),
};

/** Symbolic floor/ceil/round: an integer expression of dims is left as it is. */
function symbolicRound(fn: string, f: (x: number) => number): Fold {
  return ([a]) => (num(a) ? f(a) : isIntegerExpr(a) ? a : `${fn}(${a})`);
}

const UNARY: Record<string, [OutType, Fold | undefined]> = {
  Abs: ['same', numeric(Math.abs)],
  Neg: ['same', ([a]) => (num(a) ? -a : subDim(0, a))],
  Floor: ['same', symbolicRound('floor', Math.floor)],
  Ceil: ['same', symbolicRound('ceil', Math.ceil)],
  // ONNX Round is round-half-to-even.
  Round: ['same', symbolicRound('round', roundHalfEven)],
  Sqrt: ['same', numeric(Math.sqrt)],
  Reciprocal: ['same', numeric((a) => 1 / a)],
  Exp: ['same', numeric(Math.exp)],
  Log: ['same', numeric(Math.log)],
  Sign: ['same', numeric(Math.sign)],
  Not: ['bool', numeric((a) => bool(a === 0))],
  BitwiseNot: ['same', numeric((a) => ~a)],
  Erf: ['same', undefined],
  Sin: ['same', numeric(Math.sin)],
  Cos: ['same', numeric(Math.cos)],
  Tan: ['same', numeric(Math.tan)],
  Asin: ['same', numeric(Math.asin)],
  Acos: ['same', numeric(Math.acos)],
  Atan: ['same', numeric(Math.atan)],
  Sinh: ['same', numeric(Math.sinh)],
  Cosh: ['same', numeric(Math.cosh)],
  Asinh: ['same', numeric(Math.asinh)],
  Acosh: ['same', numeric(Math.acosh)],
  Atanh: ['same', numeric(Math.atanh)],
  IsNaN: ['bool', numeric((a) => bool(Number.isNaN(a)))],
  IsInf: ['bool', isInfFold],
};

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function isInfFold(vs: readonly Dim[], ctx: InferContext): Dim | undefined {
  const [a] = vs;
  if (!num(a)) return undefined;
  const pos = ctx.attrInt('detect_positive', 1) === 1 && a === Infinity;
  const neg = ctx.attrInt('detect_negative', 1) === 1 && a === -Infinity;
  return bool(pos || neg);
}

/**
 * Applies `fold` elementwise over broadcast operands. Every operand must be folded; one unknown
 * element drops the whole value (never a partial guess).
 */
function foldBroadcast(
  ctx: InferContext,
  inputs: readonly (ConstValue | undefined)[],
  outShape: readonly Dim[] | undefined,
  fold: Fold | undefined,
  dtype: number,
): ConstValue | undefined {
  if (!fold || !outShape || !outShape.every(num) || inputs.some((v) => v === undefined)) {
    return undefined;
  }
  if (outShape.reduce((a, b) => a * b, 1) > FOLD_LIMIT) return undefined;
  const vals = inputs as ConstValue[];
  const out: Dim[] = [];
  let failed = false;
  forEachIndex(outShape, (idx) => {
    if (failed) return;
    const r = fold(
      vals.map((v) => v.values[broadcastIndex(idx, v.dims)]),
      ctx,
      dtype,
    );
    if (r === undefined) failed = true;
    else out.push(typeof r === 'number' ? castNumber(r, dtype) : r);
  });
  return failed ? undefined : { dims: [...outShape], values: out };
}

/** Shapes of all present inputs, or undefined when any rank is unknown. */
function shapesOf(types: readonly (TensorType | undefined)[]): (readonly Dim[])[] | undefined {
  const shapes: (readonly Dim[])[] = [];
  for (const t of types) {
    if (!t?.shape) return undefined;
    shapes.push(t.shape);
  }
  return shapes;
}

function inputsOf(ctx: InferContext, from = 0): number[] {
  const ids: number[] = [];
  for (let i = from; i < ctx.inputCount; i++) if (ctx.hasInput(i)) ids.push(i);
  return ids;
}

/**
 * The broadcasting rule: output shape is the numpy broadcast of the inputs (before opset 7,
 * Add/Mul… with `broadcast=1` broadcast B onto A, so the output is A's shape).
 */
function broadcastRule(out: OutType, fold: Fold | undefined, dtypeFrom = 0): ShapeRule {
  return (ctx): InferResult => {
    const ids = inputsOf(ctx);
    const types = ids.map((i) => ctx.inputType(i));
    const dtypeSource = types.slice(dtypeFrom).find((t) => t && t.dtype !== DataType.UNDEFINED);
    const dtype = out === 'bool' ? DataType.BOOL : (dtypeSource?.dtype ?? DataType.UNDEFINED);
    const shapes = shapesOf(types);
    let shape: Dim[] | undefined;
    if (ctx.opset < 7 && ctx.attrInt('broadcast', 0) === 1)
      shape = types[0]?.shape && [...types[0].shape];
    else if (shapes) shape = broadcastShapes(shapes);
    const value = foldBroadcast(
      ctx,
      ids.map((i) => ctx.inputValue(i)),
      shape,
      fold,
      dtype,
    );
    return { types: [tensorType(dtype, shape)], values: [value] };
  };
}

/** Where(cond, X, Y): broadcast of all three with X's dtype; folds when all three are known. */
const where = broadcastRule('same', ([c, x, y]) => (num(c) ? (c !== 0 ? x : y) : undefined), 1);

function unaryRule(out: OutType, fold: Fold | undefined): ShapeRule {
  return (ctx) => {
    const t = ctx.inputType(0);
    if (!t) return { types: [] };
    const dtype = out === 'bool' ? DataType.BOOL : t.dtype;
    const value = foldBroadcast(ctx, [ctx.inputValue(0)], t.shape, fold, dtype);
    return { types: [tensorType(dtype, t.shape)], values: [value] };
  };
}

function table(
  entries: Record<string, [OutType, Fold | undefined]>,
  make: (out: OutType, fold: Fold | undefined) => ShapeRule,
): Record<string, ShapeRule> {
  return Object.fromEntries(
    Object.entries(entries).map(([op, [out, fold]]) => [op, make(out, fold)]),
  );
}

export const elementwiseRules: Record<string, ShapeRule> = {
  ...table(BINARY, broadcastRule),
  ...Object.fromEntries(Object.entries(VARIADIC).map(([op, f]) => [op, broadcastRule('same', f)])),
  ...table(UNARY, unaryRule),
  Where: where,
};
