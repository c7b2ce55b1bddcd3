/**
 * Control flow (If, Loop, Scan), optionals and sequences.
 *
 * Sub-graphs are inferred through ctx.inferSubgraph. Where paths disagree (two If branches, a
 * loop-carried value before and after an iteration), equal dims are kept and different dims
 * become a fresh symbol; different ranks give an unknown rank.
 *
 * Sequences and optionals: the analysis is about tensors, so a sequence-typed (or optional)
 * value is represented by the TensorType of its elements, merged over the elements when they
 * differ. Sequence lengths are not tracked.
 */
import { DataType, type Graph, type Node, type TypeInfo } from '../../onnx/types';
import { mergeTypes, normalizeAxis, tensorType } from '../dims';
import type { ConstValue, Dim, InferContext, InferResult, ShapeRule, TensorType } from '../types';
import { constInts, constScalar } from './constInputs';

const INT64 = DataType.INT64;

/** A source of fresh symbols for one node, each with a distinct label. */
function symbols(ctx: InferContext, label: string): () => string {
  let k = 0;
  return () => ctx.newSymbol(`${label}${k++}`);
}

/**
 * Merges two alternatives. Unlike mergeTypes, an unknown side makes the shape unknown (the
 * known side is only one possibility).
 */
function mergeBoth(
  a: TensorType | undefined,
  b: TensorType | undefined,
  fresh: () => string,
): TensorType | undefined {
  if (a && b) return mergeTypes(a, b, fresh);
  const dtype = (a ?? b)?.dtype;
  return dtype === undefined ? undefined : { dtype };
}

function graphAttr(ctx: InferContext, name: string): Graph | undefined {
  return ctx.attr(name)?.g;
}

function unknownOutputs(ctx: InferContext): InferResult {
  return { types: ctx.node.outputs.map(() => undefined) };
}

// ---------------------------------------------------------------- If

/**
 * If: a known condition selects its branch, whose folded values pass through (ONNX's expanded
 * functions branch on the input rank, then compute shapes in the branch); otherwise both
 * branches are inferred and merged.
 */
const ifRule: ShapeRule = (ctx) => {
  const thenG = graphAttr(ctx, 'then_branch');
  const elseG = graphAttr(ctx, 'else_branch');
  if (!thenG || !elseG) return unknownOutputs(ctx);
  const cond = constScalar(ctx, 0);
  if (typeof cond === 'number') {
    const branch = cond !== 0 ? thenG : elseG;
    const types = ctx.inferSubgraph(branch, []);
    return { types, values: branch.outputs.map((o) => ctx.valueOf(o.name)) };
  }
  const a = ctx.inferSubgraph(thenG, []);
  const b = ctx.inferSubgraph(elseG, []);
  const fresh = symbols(ctx, 'if_dim');
  return { types: ctx.node.outputs.map((_, i) => mergeBoth(a[i], b[i], fresh)) };
};

// ---------------------------------------------------------------- Loop

/** Adds a leading dim (the iteration count) to a per-iteration scan output. */
function stacked(t: TensorType | undefined, count: Dim, axis = 0): TensorType | undefined {
  if (!t?.shape) return t && tensorType(t.dtype);
  const shape = [...t.shape];
  shape.splice(normalizeAxis(axis, shape.length + 1, 'scan output axis'), 0, count);
  return tensorType(t.dtype, shape);
}

/**
 * True when the body's condition output is the condition input passed through (directly or by
 * an Identity), or a constant true (torch.onnx emits `cond_out = Identity(true)`): the loop then
 * runs exactly M iterations when the initial condition holds.
 */
function conditionPassesThrough(body: Graph, valueOf: ValueLookup): boolean {
  const condIn = body.inputs[1]?.name;
  const condOut = body.outputs[0]?.name;
  if (!condIn || !condOut) return false;
  if (condIn === condOut) return true;
  const folded = valueOf(condOut);
  if (folded && folded.values.length === 1 && folded.values[0] === 1) return true;
  const producer = body.nodes.find((n) => n.outputs.includes(condOut));
  return producer?.opType === 'Identity' && producer.inputs[0] === condIn;
}

type ValueLookup = (name: string) => ConstValue | undefined;

/**
 * How many times a Loop runs: M when it is a known constant and the condition cannot stop it
 * early; undefined when that depends on run-time data. The cost model multiplies the body by it.
 */
export function loopIterations(node: Node, body: Graph, valueOf: ValueLookup): number | undefined {
  const scalar = (i: number): Dim | undefined => {
    const v = node.inputs[i] ? valueOf(node.inputs[i]) : undefined;
    return v && v.values.length === 1 ? v.values[0] : undefined;
  };
  const m = scalar(0);
  const cond = node.inputs[1] ? scalar(1) : 1;
  if (cond === 0) return 0;
  if (typeof m === 'number' && cond === 1 && conditionPassesThrough(body, valueOf)) return m;
  return undefined;
}

/**
 * Loop(M, cond, v_initial…): body (iter_num, cond, v…) → (cond, v…, scan…). Outputs are the
 * final loop-carried values (merged with their initial types) and the scan outputs stacked over
 * the iterations.
 */
const loop: ShapeRule = (ctx) => {
  const body = graphAttr(ctx, 'body');
  if (!body) return unknownOutputs(ctx);
  const carried: (TensorType | undefined)[] = [];
  for (let i = 2; i < ctx.inputCount; i++) carried.push(ctx.inputType(i));
  const bodyOut = ctx.inferSubgraph(body, [
    tensorType(INT64, []),
    tensorType(DataType.BOOL, []),
    ...carried,
  ]);
  const fresh = symbols(ctx, 'loop_dim');
  const finals = carried.map((t, i) => mergeBoth(t, bodyOut[1 + i], fresh));
  const count = loopIterations(ctx.node, body, ctx.valueOf) ?? ctx.newSymbol('trip_count');
  const scans = bodyOut.slice(1 + carried.length).map((t) => stacked(t, count));
  return { types: [...finals, ...scans] };
};

// ---------------------------------------------------------------- Scan

/** A shape without the listed axes (the body sees one slice of each scan input). */
function without(t: TensorType | undefined, axes: readonly number[]): TensorType | undefined {
  if (!t?.shape) return t && tensorType(t.dtype);
  const s = t.shape;
  const drop = new Set(axes.map((a) => normalizeAxis(a, s.length)));
  return tensorType(
    t.dtype,
    s.filter((_, i) => !drop.has(i)),
  );
}

/**
 * Scan (opset 9+): N state inputs then M scan inputs; the body gets the states and one slice of
 * each scan input (scan_input_axes removed); scan outputs are the per-iteration outputs stacked
 * along scan_output_axes, as long as the scanned axis of the first scan input.
 */
function scan9(ctx: InferContext, body: Graph): InferResult {
  const m = ctx.attrInt('num_scan_inputs', 0);
  const n = ctx.inputCount - m;
  const inputs = Array.from({ length: ctx.inputCount }, (_, i) => ctx.inputType(i));
  const inAxes = ctx.attrInts('scan_input_axes') ?? new Array<number>(m).fill(0);
  const scanIn = inputs.slice(n).map((t, j) => without(t, [inAxes[j]]));
  const bodyOut = ctx.inferSubgraph(body, [...inputs.slice(0, n), ...scanIn]);
  const first = inputs[n]?.shape;
  const seqLen = first
    ? first[normalizeAxis(inAxes[0] ?? 0, first.length)]
    : ctx.newSymbol('scan_length');
  const fresh = symbols(ctx, 'scan_dim');
  const states = inputs.slice(0, n).map((t, i) => mergeBoth(t, bodyOut[i], fresh));
  const outAxes = ctx.attrInts('scan_output_axes') ?? [];
  const scans = bodyOut.slice(n).map((t, k) => stacked(t, seqLen, outAxes[k] ?? 0));
  return { types: [...states, ...scans] };
}

/**
 * Scan opset 8: an optional sequence_lens input first, and a batch axis 0 on every input and
 * output; the sequence axis of scan inputs and outputs is 1.
 */
function scan8(ctx: InferContext, body: Graph): InferResult {
  const m = ctx.attrInt('num_scan_inputs', 0);
  const inputs = Array.from({ length: ctx.inputCount - 1 }, (_, i) => ctx.inputType(i + 1));
  const n = inputs.length - m;
  const bodyIn = inputs.map((t, i) => without(t, i < n ? [0] : [0, 1]));
  const bodyOut = ctx.inferSubgraph(body, bodyIn);
  const first = inputs[n]?.shape;
  const batch = first?.[0] ?? ctx.newSymbol('batch');
  const seqLen = first?.[1] ?? ctx.newSymbol('scan_length');
  const fresh = symbols(ctx, 'scan_dim');
  const states = inputs.slice(0, n).map((t, i) => mergeBoth(t, stacked(bodyOut[i], batch), fresh));
  const scans = bodyOut.slice(n).map((t) => stacked(stacked(t, seqLen), batch));
  return { types: [...states, ...scans] };
}

const scanRule: ShapeRule = (ctx) => {
  const body = graphAttr(ctx, 'body');
  if (!body) return unknownOutputs(ctx);
  return ctx.opset < 9 ? scan8(ctx, body) : scan9(ctx, body);
};

// ---------------------------------------------------------------- optionals

/** The tensor type inside a TypeProto (through sequence/optional wrappers). */
function innerTensor(tp: TypeInfo | undefined): TensorType | undefined {
  let t = tp;
  while (t && t.kind !== 'tensor' && t.inner) t = t.inner;
  if (!t || t.kind !== 'tensor') return undefined;
  return tensorType(t.elemType, t.shape?.some((d) => d === '') ? undefined : t.shape);
}

/** Optional(input) or Optional() with a `type` attribute: the element type. */
const optional: ShapeRule = (ctx) => ({
  types: [ctx.hasInput(0) ? ctx.inputType(0) : innerTensor(ctx.attr('type')?.tp)],
});

const passThrough: ShapeRule = (ctx) => ({ types: [ctx.inputType(0)] });

const hasElement: ShapeRule = () => ({ types: [tensorType(DataType.BOOL, [])] });

// ---------------------------------------------------------------- sequences

const sequenceEmpty: ShapeRule = (ctx) => ({
  types: [{ dtype: ctx.attrInt('dtype', DataType.FLOAT) as DataType }],
});

/** SequenceConstruct / SequenceInsert: the element types merged. */
function mergedElements(ctx: InferContext, from: number, to: number): TensorType | undefined {
  const fresh = symbols(ctx, 'elem_dim');
  let t: TensorType | undefined;
  for (let i = from; i < to; i++) {
    const next = ctx.inputType(i);
    t = i === from ? next : mergeBoth(t, next, fresh);
  }
  return t;
}

const sequenceConstruct: ShapeRule = (ctx) => ({ types: [mergedElements(ctx, 0, ctx.inputCount)] });

/** SequenceInsert: an empty sequence (no shape yet) takes the inserted tensor's type. */
const sequenceInsert: ShapeRule = (ctx) => {
  const seq = ctx.inputType(0);
  const tensor = ctx.inputType(1);
  if (!seq?.shape && tensor) return { types: [tensor] };
  return { types: [mergedElements(ctx, 0, 2)] };
};

const sequenceLength: ShapeRule = () => ({ types: [tensorType(INT64, [])] });

/**
 * SplitToSequence: chunks along `axis` — of size 1 without `split` (the axis dropped unless
 * keepdims), of the scalar `split` size, or of the listed sizes (a fresh symbol when they differ).
 */
const splitToSequence: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  if (!t?.shape) return { types: [t && tensorType(t.dtype)] };
  const s = t.shape;
  const axis = normalizeAxis(ctx.attrInt('axis', 0), s.length);
  if (!ctx.hasInput(1)) {
    const keep = ctx.attrInt('keepdims', 1) === 1;
    return {
      types: [
        tensorType(
          t.dtype,
          keep ? s.map((d, i) => (i === axis ? 1 : d)) : s.filter((_, i) => i !== axis),
        ),
      ],
    };
  }
  const sizes = constInts(ctx, 1);
  const isScalar = ctx.inputType(1)?.shape?.length === 0;
  const d = s[axis];
  let chunk: Dim;
  // A scalar split that does not divide the axis leaves a smaller last chunk.
  if (sizes && isScalar && typeof d === 'number' && d % sizes[0] === 0) chunk = sizes[0];
  else if (sizes && !isScalar && sizes.length > 0 && sizes.every((x) => x === sizes[0]))
    chunk = sizes[0];
  else chunk = ctx.newSymbol('chunk');
  return {
    types: [
      tensorType(
        t.dtype,
        s.map((x, i) => (i === axis ? chunk : x)),
      ),
    ],
  };
};

/** ConcatFromSequence: concatenated along `axis`, or stacked on a new axis (new_axis=1). */
const concatFromSequence: ShapeRule = (ctx) => {
  const t = ctx.inputType(0);
  if (!t?.shape) return { types: [t && tensorType(t.dtype)] };
  const newAxis = ctx.attrInt('new_axis', 0) === 1;
  const s = [...t.shape];
  const axis = normalizeAxis(ctx.attrInt('axis', 0), s.length + (newAxis ? 1 : 0));
  // The sequence length is not tracked, so the joined dim is a symbol.
  const joined = ctx.newSymbol('seq_concat');
  if (newAxis) s.splice(axis, 0, joined);
  else s[axis] = joined;
  return { types: [tensorType(t.dtype, s)] };
};

/** SequenceMap: the body runs per element; outputs are sequences of the body's outputs. */
const sequenceMap: ShapeRule = (ctx) => {
  const body = graphAttr(ctx, 'body');
  if (!body) return unknownOutputs(ctx);
  const inputs = Array.from({ length: ctx.inputCount }, (_, i) => ctx.inputType(i));
  return { types: ctx.inferSubgraph(body, inputs) };
};

export const controlRules: Record<string, ShapeRule> = {
  If: ifRule,
  Loop: loop,
  Scan: scanRule,
  Optional: optional,
  OptionalGetElement: passThrough,
  OptionalHasElement: hasElement,
  SequenceEmpty: sequenceEmpty,
  SequenceConstruct: sequenceConstruct,
  SequenceInsert: sequenceInsert,
  SequenceAt: passThrough,
  SequenceErase: passThrough,
  SequenceLength: sequenceLength,
  SplitToSequence: splitToSequence,
  ConcatFromSequence: concatFromSequence,
  SequenceMap: sequenceMap,
};
