/**
 * Low-rank factorization (conventions.md "Compression formats"): the constant weight W [K, N] of
 * a Gemm or MatMul is replaced by two factors from its truncated SVD,
 *   W ≈ A·B,  A = U_r·diag(√σ) [K, r],  B = diag(√σ)·V_rᵀ [r, N],
 * so x·W becomes (x·A)·B: two MatMuls. By Eckart–Young this is the best rank-r approximation in
 * the Frobenius norm, with ‖W − A·B‖²_F = Σ_{i>r} σ_i²; the notes report the retained energy
 * Σ_{i≤r} σ_i² / Σ σ_i². Parameters go from K·N to r·(K + N) (and MACs per row likewise), so it
 * only pays when r < K·N/(K + N); otherwise the operation is refused. The √σ split balances the
 * two factors' ranges (it matters when they are quantized afterwards).
 *
 * SVD algorithm: the eigendecomposition of the smaller Gram matrix, in float64. With K ≤ N,
 * G = W·Wᵀ (K×K) = U·diag(σ²)·Uᵀ, and B = diag(1/√σ)·U_rᵀ·W; with K > N, G = Wᵀ·W gives V and
 * A = W·V_r·diag(1/√σ). G is reduced to tridiagonal form by Householder reflections and then
 * diagonalised by the implicit QL algorithm with Wilkinson shifts (EISPACK tred2/tql2, as in
 * JAMA's EigenvalueDecomposition), O(n³) for n = min(K, N). Squaring W squares its condition
 * number, which costs accuracy only in singular values below √ε·σ₁, which a useful rank
 * discards anyway.
 */
import { buildGraphView, nodeLabel, type GraphView } from '../graph/graph';
import { makeAttribute, makeTensor } from '../onnx/build';
import { ExternalData } from '../onnx/externalData';
import { elementCount, forEachFloatChunk } from '../onnx/tensorData';
import { DataType, type Model, type Node, type Tensor } from '../onnx/types';
import { GraphEdit, makeNode, withGraph } from './graphEdit';
import { CompressionRefusal, type CompressionResult, compressionResult } from './summary';

export interface FactorizeOptions {
  /** Node name of the Gemm or MatMul. */
  layer: string;
  /** Rank r of the factorization, 1 ≤ r < K·N/(K + N). */
  rank: number;
}

export interface FactorizationCandidate {
  layer: string;
  K: number;
  N: number;
  /** The largest r with r·(K + N) < K·N. */
  maxUsefulRank: number;
}

/** A layer with a factorable weight. */
interface Target {
  readonly node: Node;
  readonly label: string;
  readonly tensor: Tensor;
  /** The Constant node holding the weight, when it is not an initializer. */
  readonly constant?: Node;
  readonly K: number;
  readonly N: number;
}

/** Every Gemm/MatMul whose weight can be factorized with fewer parameters. */
export function factorizationCandidates(model: Model): FactorizationCandidate[] {
  const view = buildGraphView(model.graph);
  const result: FactorizationCandidate[] = [];
  view.order.forEach((node, i) => {
    const target = inspect(node, nodeLabel(node, i), view);
    if (typeof target === 'string') return;
    const maxUsefulRank = maxRank(target.K, target.N);
    if (maxUsefulRank >= 1) {
      result.push({ layer: target.label, K: target.K, N: target.N, maxUsefulRank });
    }
  });
  return result;
}

/** The largest integer r with r < K·N/(K + N). */
function maxRank(K: number, N: number): number {
  return Math.ceil((K * N) / (K + N)) - 1;
}

export function factorizeLowRank(
  model: Model,
  options: FactorizeOptions,
  external?: ExternalData,
): CompressionResult {
  const ext = external ?? new ExternalData(undefined);
  const view = buildGraphView(model.graph);
  const index = view.order.findIndex((n, i) => nodeLabel(n, i) === options.layer);
  if (index < 0) throw new CompressionRefusal(`no layer named '${options.layer}'`);
  const target = inspect(view.order[index], options.layer, view);
  if (typeof target === 'string') throw new CompressionRefusal(target);
  const r = options.rank;
  checkRank(target, r);
  const w = effectiveWeight(target, ext);
  const svd = truncatedSvd(w, target.K, target.N, r);
  const edit = new GraphEdit(model.graph);
  replaceLayer(edit, view, target, svd);
  const result = withGraph(model, edit.build());
  const notes = factorNotes(target, r, svd);
  return compressionResult(`factorize low-rank r=${r}`, model, result, ext, [target.label], notes);
}

function attrInt(node: Node, name: string, fallback: number): number {
  return node.attributes.find((a) => a.name === name)?.i ?? fallback;
}

/** The layer's weight as a factorization target, or why it is not one. */
function inspect(node: Node, label: string, view: GraphView): Target | string {
  if (
    !['Gemm', 'MatMul'].includes(node.opType) ||
    !(node.domain === '' || node.domain === 'ai.onnx')
  ) {
    return `layer '${label}' is a ${node.opType}; only Gemm and MatMul weights are factorized`;
  }
  const name = node.inputs[1];
  const initializer = view.graph.initializers.find((t) => t.name === name);
  const producer = view.producer.get(name);
  const constant = producer?.opType === 'Constant' ? producer : undefined;
  const tensor = initializer ?? constant?.attributes.find((a) => a.name === 'value')?.t;
  if (!tensor) return `layer '${label}': its weight '${name}' is not a constant tensor`;
  if (tensor.dataType !== DataType.FLOAT) {
    return `layer '${label}': weight '${name}' is not float32`;
  }
  if (tensor.dims.length !== 2) {
    return `layer '${label}': weight '${name}' has rank ${tensor.dims.length}, not 2`;
  }
  // Gemm computes A'·B' with B' = Bᵀ when transB = 1: the [K, N] matrix is then B transposed.
  const transB = node.opType === 'Gemm' && attrInt(node, 'transB', 0) === 1;
  const [K, N] = transB ? [tensor.dims[1], tensor.dims[0]] : [tensor.dims[0], tensor.dims[1]];
  return { node, label, tensor, constant, K, N };
}

function checkRank(t: Target, r: number): void {
  if (!Number.isInteger(r) || r < 1)
    throw new CompressionRefusal(`rank ${r} is not a positive integer`);
  if (r * (t.K + t.N) >= t.K * t.N) {
    const useful = maxRank(t.K, t.N);
    throw new CompressionRefusal(
      `rank ${r} would not save parameters for '${t.label}' (K=${t.K}, N=${t.N}): r·(K+N) = ${r * (t.K + t.N)} ≥ K·N = ${t.K * t.N}; useful ranks are below K·N/(K+N) = ${((t.K * t.N) / (t.K + t.N)).toFixed(1)}${useful >= 1 ? ` (1 to ${useful})` : ''}`,
    );
  }
}

/** W as a row-major [K, N] float64 matrix, Gemm's transB undone and alpha folded in. */
function effectiveWeight(t: Target, ext: ExternalData): Float64Array {
  const stored = new Float64Array(elementCount(t.tensor.dims));
  forEachFloatChunk(t.tensor, ext, (chunk, start) => stored.set(chunk, start));
  const gemm = t.node.opType === 'Gemm';
  const alpha = gemm ? (t.node.attributes.find((a) => a.name === 'alpha')?.f ?? 1) : 1;
  const transB = gemm && attrInt(t.node, 'transB', 0) === 1;
  const w = new Float64Array(t.K * t.N);
  for (let k = 0; k < t.K; k++) {
    for (let n = 0; n < t.N; n++) {
      w[k * t.N + n] = alpha * (transB ? stored[n * t.K + k] : stored[k * t.N + n]);
    }
  }
  return w;
}

export interface TruncatedSvd {
  /** [K, r], row-major: U_r·diag(√σ). */
  readonly a: Float64Array;
  /** [r, N], row-major: diag(√σ)·V_rᵀ. */
  readonly b: Float64Array;
  /** All min(K, N) singular values, descending. */
  readonly singularValues: Float64Array;
  /** Σ_{i≤r} σ_i² / Σ σ_i² (1 for an all-zero W). */
  readonly retainedEnergy: number;
}

/** The rank-r truncated SVD of the row-major [K, N] matrix w, as balanced factors. */
export function truncatedSvd(w: Float64Array, K: number, N: number, r: number): TruncatedSvd {
  const tall = K > N;
  const n = tall ? N : K;
  const gram = gramMatrix(w, K, N, tall);
  const { values, vectors } = symmetricEigen(gram, n);
  const singularValues = values.map((v) => Math.sqrt(Math.max(0, v)));
  const a = new Float64Array(K * r);
  const b = new Float64Array(r * N);
  for (let j = 0; j < r; j++) {
    const s = singularValues[j];
    const root = Math.sqrt(s);
    const inv = s > 0 ? 1 / root : 0;
    if (tall) {
      // V known: B row j = √σ_j·v_jᵀ; A column j = W·v_j / √σ_j (= u_j·√σ_j).
      for (let c = 0; c < N; c++) b[j * N + c] = root * vectors[c * n + j];
      for (let k = 0; k < K; k++) {
        let dot = 0;
        for (let c = 0; c < N; c++) dot += w[k * N + c] * vectors[c * n + j];
        a[k * r + j] = dot * inv;
      }
    } else {
      // U known: A column j = √σ_j·u_j; B row j = u_jᵀ·W / √σ_j (= √σ_j·v_jᵀ).
      for (let k = 0; k < K; k++) a[k * r + j] = root * vectors[k * n + j];
      for (let c = 0; c < N; c++) {
        let dot = 0;
        for (let k = 0; k < K; k++) dot += vectors[k * n + j] * w[k * N + c];
        b[j * N + c] = dot * inv;
      }
    }
  }
  let kept = 0;
  let all = 0;
  singularValues.forEach((s, i) => {
    all += s * s;
    if (i < r) kept += s * s;
  });
  return { a, b, singularValues, retainedEnergy: all > 0 ? kept / all : 1 };
}

/** W·Wᵀ (K×K), or Wᵀ·W (N×N) when `tall`, row-major. */
function gramMatrix(w: Float64Array, K: number, N: number, tall: boolean): Float64Array {
  const n = tall ? N : K;
  const g = new Float64Array(n * n);
  if (!tall) {
    for (let i = 0; i < K; i++) {
      for (let j = i; j < K; j++) {
        let dot = 0;
        for (let c = 0; c < N; c++) dot += w[i * N + c] * w[j * N + c];
        g[i * n + j] = g[j * n + i] = dot;
      }
    }
    return g;
  }
  // Wᵀ·W as a sum of outer products of W's rows (row-major friendly).
  for (let k = 0; k < K; k++) {
    const row = k * N;
    for (let i = 0; i < N; i++) {
      const wi = w[row + i];
      if (wi === 0) continue;
      for (let j = i; j < N; j++) g[i * n + j] += wi * w[row + j];
    }
  }
  for (let i = 0; i < N; i++) for (let j = 0; j < i; j++) g[i * n + j] = g[j * n + i];
  return g;
}

/**
 * Eigenvalues (descending) and eigenvectors (the columns of `vectors`, row-major n×n) of the
 * symmetric row-major matrix `a`: Householder tridiagonalisation then implicit QL (tred2/tql2).
 */
export function symmetricEigen(
  a: Float64Array,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  const v = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { values: d, vectors: v };
  tred2(v, d, e, n);
  tql2(v, d, e, n);
  // Descending order, vectors permuted with their values.
  const order = Array.from(d.keys()).sort((i, j) => d[j] - d[i]);
  const values = Float64Array.from(order, (i) => d[i]);
  const vectors = new Float64Array(n * n);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) vectors[row * n + col] = v[row * n + order[col]];
  }
  return { values, vectors };
}

/**
 * Householder reduction of the symmetric matrix in `v` to tridiagonal form (diagonal `d`,
 * sub-diagonal `e`), with the orthogonal transform accumulated in `v`. EISPACK tred2.
 */
function tred2(v: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = v[(n - 1) * n + j];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = v[(i - 1) * n + j];
        v[i * n + j] = 0;
        v[j * n + i] = 0;
      }
    } else {
      h = householderStep(v, d, e, n, i, scale);
    }
    d[i] = h;
  }
  accumulateTransforms(v, d, e, n);
}

/** One Householder reflection zeroing row i left of the sub-diagonal; returns h = ‖u‖²/2. */
function householderStep(
  v: Float64Array,
  d: Float64Array,
  e: Float64Array,
  n: number,
  i: number,
  scale: number,
): number {
  let h = 0;
  for (let k = 0; k < i; k++) {
    d[k] /= scale;
    h += d[k] * d[k];
  }
  let f = d[i - 1];
  let g = Math.sqrt(h);
  if (f > 0) g = -g;
  e[i] = scale * g;
  h -= f * g;
  d[i - 1] = f - g;
  for (let j = 0; j < i; j++) e[j] = 0;
  for (let j = 0; j < i; j++) {
    f = d[j];
    v[j * n + i] = f;
    g = e[j] + v[j * n + j] * f;
    for (let k = j + 1; k <= i - 1; k++) {
      g += v[k * n + j] * d[k];
      e[k] += v[k * n + j] * f;
    }
    e[j] = g;
  }
  f = 0;
  for (let j = 0; j < i; j++) {
    e[j] /= h;
    f += e[j] * d[j];
  }
  const hh = f / (h + h);
  for (let j = 0; j < i; j++) e[j] -= hh * d[j];
  for (let j = 0; j < i; j++) {
    f = d[j];
    g = e[j];
    for (let k = j; k <= i - 1; k++) v[k * n + j] -= f * e[k] + g * d[k];
    d[j] = v[(i - 1) * n + j];
    v[i * n + j] = 0;
  }
  return h;
}

/** Builds the orthogonal matrix of tred2's reflections in `v`; leaves the diagonal in `d`. */
function accumulateTransforms(v: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 0; i < n - 1; i++) {
    v[(n - 1) * n + i] = v[i * n + i];
    v[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = v[k * n + i + 1] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += v[k * n + i + 1] * v[k * n + j];
        for (let k = 0; k <= i; k++) v[k * n + j] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) v[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = v[(n - 1) * n + j];
    v[(n - 1) * n + j] = 0;
  }
  v[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/**
 * Implicit QL iterations with Wilkinson-style shifts on the tridiagonal (d, e), rotating the
 * columns of `v` along, until every sub-diagonal element is negligible. EISPACK tql2.
 */
function tql2(v: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n && Math.abs(e[m]) > eps * tst1) m++;
    if (m > l) {
      for (let iter = 0; iter < 60 * n && Math.abs(e[l]) > eps * tst1; iter++) {
        f += qlStep(v, d, e, n, l, m);
      }
    }
    d[l] += f;
    e[l] = 0;
  }
}

/** One shifted implicit QL sweep over rows l..m; returns the shift applied. */
function qlStep(
  v: Float64Array,
  d: Float64Array,
  e: Float64Array,
  n: number,
  l: number,
  m: number,
): number {
  let g = d[l];
  let p = (d[l + 1] - g) / (2 * e[l]);
  let r = Math.hypot(p, 1);
  if (p < 0) r = -r;
  d[l] = e[l] / (p + r);
  d[l + 1] = e[l] * (p + r);
  const dl1 = d[l + 1];
  let h = g - d[l];
  for (let i = l + 2; i < n; i++) d[i] -= h;
  const shift = h;
  p = d[m];
  let c = 1;
  let c2 = c;
  let c3 = c;
  const el1 = e[l + 1];
  let s = 0;
  let s2 = 0;
  for (let i = m - 1; i >= l; i--) {
    c3 = c2;
    c2 = c;
    s2 = s;
    g = c * e[i];
    h = c * p;
    r = Math.hypot(p, e[i]);
    e[i + 1] = s * r;
    s = e[i] / r;
    c = p / r;
    p = c * d[i] - s * g;
    d[i + 1] = h + s * (c * g + s * d[i]);
    for (let k = 0; k < n; k++) {
      const vk = v[k * n + i + 1];
      v[k * n + i + 1] = s * v[k * n + i] + c * vk;
      v[k * n + i] = c * v[k * n + i] - s * vk;
    }
  }
  p = (-s * s2 * c3 * el1 * e[l]) / dl1;
  e[l] = s * p;
  d[l] = c * p;
  return shift;
}

/**
 * Replaces the layer by x·A (MatMul, or Gemm with transA) then ·B (MatMul, or Gemm with C and
 * beta to keep the bias). The second node keeps the layer's name and output.
 */
function replaceLayer(edit: GraphEdit, view: GraphView, t: Target, svd: TruncatedSvd): void {
  const r = svd.a.length / t.K;
  const base = t.tensor.name;
  const aName = edit.uniqueName(`${base}_lowrank_a`);
  const bName = edit.uniqueName(`${base}_lowrank_b`);
  edit.setInitializer(makeTensor(aName, DataType.FLOAT, [t.K, r], Float32Array.from(svd.a)));
  edit.setInitializer(makeTensor(bName, DataType.FLOAT, [r, t.N], Float32Array.from(svd.b)));
  const hidden = edit.uniqueName(`${t.label}_lowrank_hidden`);
  const node = t.node;
  const gemm = node.opType === 'Gemm';
  const transA = gemm && attrInt(node, 'transA', 0) === 1;
  const first = makeNode({
    name: edit.uniqueName(`${t.label}_lowrank`),
    opType: transA ? 'Gemm' : 'MatMul',
    inputs: [node.inputs[0], aName],
    outputs: [hidden],
    attributes: transA ? [makeAttribute('transA', 1)] : [],
  });
  const bias = gemm && node.inputs[2] ? node.inputs[2] : undefined;
  // alpha is folded into W; beta, and any other attribute, stays with C.
  const kept = node.attributes.filter((a) => !['alpha', 'transA', 'transB'].includes(a.name));
  const second = makeNode({
    name: node.name,
    opType: bias ? 'Gemm' : 'MatMul',
    inputs: bias ? [hidden, bName, bias] : [hidden, bName],
    outputs: node.outputs,
    attributes: bias ? kept : [],
    domain: node.domain,
  });
  edit.replaceNode(node, [first, second]);
  removeIfUnused(edit, view, t);
}

/** Drops the original weight when this layer was its only reader. */
function removeIfUnused(edit: GraphEdit, view: GraphView, t: Target): void {
  const name = t.node.inputs[1];
  const readers = view.consumers.get(name) ?? [];
  if (readers.some((n) => n !== t.node) || view.outputNames.includes(name)) return;
  if (t.constant) edit.replaceNode(t.constant, []);
  else if (!view.graph.inputs.some((i) => i.name === name)) edit.removeInitializer(name);
}

function factorNotes(t: Target, r: number, svd: TruncatedSvd): string[] {
  const e = svd.retainedEnergy;
  const sv = svd.singularValues;
  const notes = [
    `'${t.label}': W [${t.K}×${t.N}] → [${t.K}×${r}]·[${r}×${t.N}], parameters ${t.K * t.N} → ${r * (t.K + t.N)}`,
    `retained energy Σσ²(kept)/Σσ² = ${e.toFixed(6)} (relative Frobenius error √(1−E) = ${Math.sqrt(Math.max(0, 1 - e)).toExponential(2)})`,
  ];
  if (r < sv.length) {
    notes.push(
      `σ_1 = ${sv[0].toPrecision(4)}, σ_${r} = ${sv[r - 1].toPrecision(4)} (smallest kept), σ_${r + 1} = ${sv[r].toPrecision(4)} (largest dropped)`,
    );
  }
  return notes;
}
