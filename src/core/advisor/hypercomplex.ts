/**
 * Hypercomplex what-if: the weight memory a Conv or Gemm/MatMul would need as a quaternion or a
 * complex layer ("Hypercomplex neural networks", UpStride; Parcollet et al., "Quaternion
 * recurrent neural networks", ICLR 2019; Trabelsi et al., "Deep complex networks", ICLR 2018).
 *
 * Convention: the layer's Cin input and Cout output channels (per group) are split into n
 * components (n = 4 for quaternions, 2 for complex numbers). The weight is n real matrices of
 * (Cout/n) × (Cin/n) × kernel, W = W_r + W_i·i (+ W_j·j + W_k·k), and the layer computes the
 * Hamilton (complex) product W ⊗ x: every real block is reused n times with signs, so the layer
 * stores 1/n of the real layer's parameters at the same MACs (n² block products of
 * (Cout/n)·(Cin/n) each). The bias, when there is one, stays Cout real values and is not counted
 * here. This is a what-if for retraining, not a fix: no quick fix rewrites the layer.
 */
import type { Graph, Node, Tensor } from '../onnx/types';

export interface HypercomplexOption {
  readonly algebra: 'quaternion' | 'complex';
  /** Components per hypercomplex number: 4 or 2. */
  readonly components: 4 | 2;
  readonly params: number;
  /** At the layer's stored weight width. */
  readonly weightBytes: number;
}

export interface HypercomplexWhatIf {
  /** Parameters of the real main weight (bias not included). */
  readonly realParams: number;
  readonly realWeightBytes: number;
  /** Quaternion first when the channels allow it, then complex. */
  readonly options: readonly HypercomplexOption[];
}

export interface LinearWeight {
  readonly op: string;
  /** Dims of the main weight, as stored (Conv: [Cout, Cin/group, k…]; Gemm: [K, N] or [N, K]). */
  readonly weightDims: readonly number[];
  readonly group?: number;
  readonly transB?: boolean;
  /** Stored width of a weight element. */
  readonly weightBits: number;
}

/** Input and output channels per group of the layer, or undefined for other ops or shapes. */
function channels(w: LinearWeight): { cin: number; cout: number } | undefined {
  const d = w.weightDims;
  const group = Math.max(1, w.group ?? 1);
  switch (w.op) {
    case 'Conv':
      if (d.length < 3 || d[0] % group !== 0) return undefined;
      return { cin: d[1], cout: d[0] / group };
    case 'ConvTranspose':
      if (d.length < 3 || d[0] % group !== 0) return undefined;
      return { cin: d[0] / group, cout: d[1] };
    case 'Gemm':
      if (d.length !== 2) return undefined;
      return w.transB ? { cin: d[1], cout: d[0] } : { cin: d[0], cout: d[1] };
    case 'MatMul':
      if (d.length !== 2) return undefined;
      return { cin: d[0], cout: d[1] };
    default:
      return undefined;
  }
}

/**
 * The quaternion and complex versions of a layer, when its channels divide by 4 (or 2); null when
 * neither does (or the op has no such form). Conv 64→128 3×3: 73,728 real parameters; 18,432 as a
 * quaternion layer; 36,864 as a complex one.
 */
export function hypercomplexWhatIf(w: LinearWeight): HypercomplexWhatIf | null {
  const c = channels(w);
  if (!c || c.cin <= 0 || c.cout <= 0) return null;
  const realParams = w.weightDims.reduce((p, x) => p * x, 1);
  const bytes = (params: number) => Math.ceil((params * w.weightBits) / 8);
  const options: HypercomplexOption[] = [];
  for (const [algebra, n] of [
    ['quaternion', 4],
    ['complex', 2],
  ] as const) {
    if (c.cin % n === 0 && c.cout % n === 0) {
      options.push({
        algebra,
        components: n,
        params: realParams / n,
        weightBytes: bytes(realParams / n),
      });
    }
  }
  if (options.length === 0) return null;
  return { realParams, realWeightBytes: bytes(realParams), options };
}

/** Ops whose main weight is input 1 and that have a hypercomplex form. */
const OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/**
 * The what-if for a node of `graph` (by its position in the node list), finding its weight's dims
 * through Identity, Cast and DequantizeLinear to an initializer or a Constant. Undefined when the
 * node has no constant weight.
 */
export function hypercomplexOfNode(
  graph: Graph,
  fileIndex: number,
  weightBits: number | null,
): HypercomplexWhatIf | null {
  const node = graph.nodes[fileIndex];
  if (!node || !OPS.has(node.opType) || (node.domain && node.domain !== 'ai.onnx')) return null;
  const dims = weightDims(graph, node.inputs[1]);
  if (!dims) return null;
  const attr = (name: string) => node.attributes.find((a) => a.name === name)?.i;
  return hypercomplexWhatIf({
    op: node.opType,
    weightDims: dims,
    group: attr('group') ?? 1,
    transB: (attr('transB') ?? 0) !== 0,
    weightBits: weightBits ?? 32,
  });
}

function weightDims(graph: Graph, name: string | undefined): readonly number[] | undefined {
  const initializers = new Map<string, Tensor>(graph.initializers.map((t) => [t.name, t]));
  const producers = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) producers.set(o, n);
  let current = name;
  for (let hops = 0; current && hops < 8; hops++) {
    const t = initializers.get(current);
    if (t) return t.dims;
    const p = producers.get(current);
    if (!p) return undefined;
    if (p.opType === 'Constant') return p.attributes.find((a) => a.name === 'value')?.t?.dims;
    if (p.opType !== 'Identity' && p.opType !== 'Cast' && p.opType !== 'DequantizeLinear')
      return undefined;
    current = p.inputs[0];
  }
  return undefined;
}
