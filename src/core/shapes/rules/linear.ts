/**
 * Linear algebra: Gemm, MatMul (numpy semantics) and its integer/quantized forms, Einsum, and the
 * attention family of opset 23+ (Attention, RotaryEmbedding, LinearAttention).
 */
import { DataType } from '../../onnx/types';
import { addDim, broadcastShapes, divDim, isKnown, mulDim, tensorType } from '../dims';
import { ShapeError, type Dim, type InferContext, type ShapeRule } from '../types';
import {
  checkSameDim,
  checkUnidirectional,
  dtypeOf,
  pickDim,
  requireRank,
  sameAsInput,
  shapeOf,
} from './nnHelpers';

/** Gemm: A' [M, K] × B' [K, N] (+ C broadcast to [M, N]). */
const gemm: ShapeRule = (ctx) => {
  const a = shapeOf(ctx, 0);
  const b = shapeOf(ctx, 1);
  const dtype = dtypeOf(ctx, 0);
  if (a) requireRank(a, 2, 'A');
  if (b) requireRank(b, 2, 'B');
  const [m, ka] = a
    ? ctx.attrInt('transA', 0)
      ? [a[1], a[0]]
      : [a[0], a[1]]
    : [undefined, undefined];
  const [kb, n] = b
    ? ctx.attrInt('transB', 0)
      ? [b[1], b[0]]
      : [b[0], b[1]]
    : [undefined, undefined];
  checkSameDim(ka, kb, 'Gemm inner dimensions (K of A vs K of B)');
  const out = [m ?? ctx.newSymbol('M'), n ?? ctx.newSymbol('N')];
  const c = shapeOf(ctx, 2);
  if (c) checkUnidirectional(c, out, 'C');
  return { types: [tensorType(dtype, out)] };
};

/**
 * numpy matmul: 1-D operands are promoted (a leading / trailing 1, removed again), batch dims
 * broadcast. Shared with FusedMatMul, which transposes operands first.
 */
export function matmulShape(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  if (a.length === 0 || b.length === 0) throw new ShapeError('MatMul operands must not be scalars');
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const k1 = a2[a2.length - 1];
  const k2 = b2[b2.length - 2];
  if (isKnown(k1) && isKnown(k2) && k1 !== k2) {
    throw new ShapeError(
      `inner dimensions differ: [${a.join(', ')}] × [${b.join(', ')}] (${k1} vs ${k2})`,
    );
  }
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]);
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]);
  if (b.length > 1) out.push(b2[b2.length - 1]);
  return out;
}

function matmulRule(x: number, y: number, dtype: (ctx: InferContext) => DataType): ShapeRule {
  return (ctx) => {
    const a = shapeOf(ctx, x);
    const b = shapeOf(ctx, y);
    return { types: [tensorType(dtype(ctx), a && b ? matmulShape(a, b) : undefined)] };
  };
}

// ---- Einsum ----

interface EinsumTerm {
  readonly labels: string[];
  /** Position of '...' among the labels, or -1. */
  readonly ellipsisAt: number;
}

function parseTerm(raw: string): EinsumTerm {
  const t = raw.trim();
  const at = t.indexOf('...');
  if (at !== t.lastIndexOf('...'))
    throw new ShapeError(`einsum term '${t}' has more than one ellipsis`);
  const letters = t.replace('...', '');
  if (!/^[A-Za-z]*$/.test(letters))
    throw new ShapeError(`einsum term '${t}' has characters other than letters`);
  return { labels: [...letters], ellipsisAt: at < 0 ? -1 : [...t.slice(0, at)].length };
}

/** Binds each letter to a dim and gathers the broadcast ellipsis dims over all inputs. */
function bindEinsum(terms: readonly EinsumTerm[], shapes: readonly (readonly Dim[])[]) {
  const dims = new Map<string, Dim>();
  const ellipses: Dim[][] = [];
  terms.forEach((term, i) => {
    const shape = shapes[i];
    const named = term.labels.length;
    if (term.ellipsisAt < 0 ? shape.length !== named : shape.length < named) {
      throw new ShapeError(
        `einsum input ${i} has rank ${shape.length}, its term names ${named} axes`,
      );
    }
    const ell = shape.length - named;
    const ellStart = term.ellipsisAt < 0 ? shape.length : term.ellipsisAt;
    if (term.ellipsisAt >= 0) ellipses.push(shape.slice(ellStart, ellStart + ell));
    term.labels.forEach((label, j) => {
      const d = shape[j < ellStart ? j : j + ell];
      const prev = dims.get(label);
      if (isKnown(prev) && isKnown(d) && prev !== d && prev !== 1 && d !== 1) {
        throw new ShapeError(`einsum label '${label}' is ${prev} in one input and ${d} in another`);
      }
      if (prev === undefined || prev === 1 || (!isKnown(prev) && isKnown(d))) dims.set(label, d);
    });
  });
  return { dims, ellipsis: broadcastShapes(ellipses) };
}

/** Implicit output (no '->'): the letters used once, alphabetically, after the ellipsis dims. */
function implicitOutput(terms: readonly EinsumTerm[]): EinsumTerm {
  const count = new Map<string, number>();
  for (const t of terms) for (const l of t.labels) count.set(l, (count.get(l) ?? 0) + 1);
  const labels = [...count]
    .filter(([, c]) => c === 1)
    .map(([l]) => l)
    .sort();
  return { labels, ellipsisAt: terms.some((t) => t.ellipsisAt >= 0) ? 0 : -1 };
}

const einsum: ShapeRule = (ctx) => {
  const equation = ctx.attrString('equation', '').replace(/\s+/g, '');
  if (!equation) throw new ShapeError('equation attribute is required');
  const [lhs, rhs] = equation.split('->');
  const terms = lhs.split(',').map(parseTerm);
  if (terms.length !== ctx.inputCount) {
    throw new ShapeError(
      `equation '${equation}' has ${terms.length} operands but the node has ${ctx.inputCount} inputs`,
    );
  }
  const dtype = dtypeOf(ctx, 0);
  const shapes = terms.map((_, i) => shapeOf(ctx, i));
  const output = rhs === undefined ? implicitOutput(terms) : parseTerm(rhs);
  if (shapes.some((s) => s === undefined)) return { types: [tensorType(dtype)] };
  const { dims, ellipsis } = bindEinsum(terms, shapes as (readonly Dim[])[]);
  const out: Dim[] = output.labels.map((l) => {
    const d = dims.get(l);
    if (d === undefined) throw new ShapeError(`output label '${l}' does not appear in any input`);
    return d;
  });
  if (output.ellipsisAt >= 0) out.splice(output.ellipsisAt, 0, ...ellipsis);
  return { types: [tensorType(dtype, out)] };
};

// ---- Attention family (opset 23+) ----

/** Divides a packed hidden size by a head count, checking divisibility when known. */
function perHead(hidden: Dim, heads: number, what: string): Dim {
  if (heads < 1) throw new ShapeError(`${what}: the number of heads must be given for 3-D inputs`);
  if (isKnown(hidden) && hidden % heads !== 0) {
    throw new ShapeError(`${what} ${hidden} is not divisible by ${heads} heads`);
  }
  return divDim(hidden, heads);
}

interface HeadView {
  readonly batch: Dim;
  readonly heads: Dim;
  readonly seq: Dim;
  readonly headSize: Dim;
}

/** Reads a [B, H, S, D] or packed [B, S, H·D] tensor as its head view. */
function headView(shape: readonly Dim[], heads: number, what: string): HeadView {
  requireRank(shape, [3, 4], what);
  if (shape.length === 4) {
    if (heads > 0) checkSameDim(shape[1], heads, `${what} heads vs attribute`);
    return { batch: shape[0], heads: shape[1], seq: shape[2], headSize: shape[3] };
  }
  return {
    batch: shape[0],
    heads,
    seq: shape[1],
    headSize: perHead(shape[2], heads, `${what} hidden size`),
  };
}

/** Attention (opset 23): Y, present_key, present_value, qk_matmul_output. */
const attention: ShapeRule = (ctx) => {
  const dtype = dtypeOf(ctx, 0);
  const vDtype = dtypeOf(ctx, 2, dtype);
  const [q, k, v] = [shapeOf(ctx, 0), shapeOf(ctx, 1), shapeOf(ctx, 2)];
  if (!q || !k || !v)
    return { types: [tensorType(dtype), tensorType(dtype), tensorType(vDtype), tensorType(dtype)] };
  const qh = headView(q, ctx.attrInt('q_num_heads', 0), 'Q');
  const kvHeads = ctx.attrInt('kv_num_heads', 0);
  const kh = headView(k, kvHeads, 'K');
  const vh = headView(v, kvHeads, 'V');
  checkSameDim(qh.headSize, kh.headSize, 'head size of Q vs K');
  checkSameDim(kh.seq, vh.seq, 'sequence length of K vs V');
  if (isKnown(qh.heads) && isKnown(kh.heads) && qh.heads % kh.heads !== 0) {
    throw new ShapeError(
      `${qh.heads} query heads are not a multiple of ${kh.heads} key/value heads`,
    );
  }
  const past = shapeOf(ctx, 4);
  const total = !ctx.hasInput(4)
    ? kh.seq
    : past
      ? addDim(past[2], kh.seq)
      : ctx.newSymbol('total_seq');
  const y =
    q.length === 4
      ? [qh.batch, qh.heads, qh.seq, vh.headSize]
      : [qh.batch, qh.seq, mulDim(qh.heads, vh.headSize)];
  return {
    types: [
      tensorType(dtype, y),
      tensorType(dtype, [kh.batch, kh.heads, total, kh.headSize]),
      tensorType(vDtype, [vh.batch, vh.heads, total, vh.headSize]),
      tensorType(dtype, [qh.batch, qh.heads, qh.seq, total]),
    ],
  };
};

/** RotaryEmbedding keeps X's shape; a 3-D X needs num_heads dividing its hidden size. */
const rotaryEmbedding: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  if (x) {
    requireRank(x, [3, 4], 'input');
    if (x.length === 3) perHead(x[2], ctx.attrInt('num_heads', 0), 'hidden size');
  }
  return { types: [sameAsInput(ctx)] };
};

/** LinearAttention (opset 27): output [B, T, Hq·d_v], present_state [B, H_kv, d_k, d_v]. */
const linearAttention: ShapeRule = (ctx) => {
  const dtype = dtypeOf(ctx, 0);
  const [q, k, v] = [shapeOf(ctx, 0), shapeOf(ctx, 1), shapeOf(ctx, 2)];
  const qHeads = ctx.attrInt('q_num_heads', 0);
  const kvHeads = ctx.attrInt('kv_num_heads', 0);
  if (!q || !k || !v) return { types: [tensorType(dtype), tensorType(dtypeOf(ctx, 3, dtype))] };
  for (const [s, what] of [
    [q, 'query'],
    [k, 'key'],
    [v, 'value'],
  ] as const)
    requireRank(s, 3, what);
  const dk = perHead(k[2], kvHeads, 'key hidden size');
  const dv = perHead(v[2], kvHeads, 'value hidden size');
  checkSameDim(perHead(q[2], qHeads, 'query hidden size'), dk, 'd_k of query vs key');
  if (qHeads % kvHeads !== 0)
    throw new ShapeError(`q_num_heads ${qHeads} is not a multiple of kv_num_heads ${kvHeads}`);
  const batch = pickDim(q[0], k[0], () => ctx.newSymbol('B'));
  return {
    types: [
      tensorType(dtype, [batch, q[1], mulDim(qHeads, dv)]),
      tensorType(dtypeOf(ctx, 3, dtype), [batch, kvHeads, dk, dv]),
    ],
  };
};

export const linearRules: Record<string, ShapeRule> = {
  Gemm: gemm,
  MatMul: matmulRule(0, 1, (ctx) => dtypeOf(ctx, 0)),
  MatMulInteger: matmulRule(0, 1, () => DataType.INT32),
  // a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point
  QLinearMatMul: matmulRule(0, 3, (ctx) => dtypeOf(ctx, 7, dtypeOf(ctx, 0))),
  Einsum: einsum,
  Attention: attention,
  RotaryEmbedding: rotaryEmbedding,
  LinearAttention: linearAttention,
};

export { gemm, perHead };
