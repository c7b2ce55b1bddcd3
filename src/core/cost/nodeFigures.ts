/**
 * The figures of one node: MACs, FLOPs, BOPs, its weights (traced to their stored tensors),
 * activation bytes, and the bit-width hint for its main weight. Totals and shares are made from
 * these in analyze.ts; nothing else computes a per-layer figure.
 */
import type { GraphView } from '../graph/graph';
import { buildGraphView, nodeLabel } from '../graph/graph';
import { dtypeBits, isFloatType, storageBytes } from '../onnx/dtype';
import type { ExternalData } from '../onnx/externalData';
import { elementCount } from '../onnx/tensorData';
import type { DataType, Graph, Node, Tensor } from '../onnx/types';
import type { WeightGrid } from '../numerics/gridLevels';
import { suggestBits, weightSqnr, type SqnrRequest } from '../numerics/weightSqnr';
import { loopIterations } from '../shapes/rules/control';
import { concreteShape, type ShapeInference } from '../shapes/infer';
import type { TensorType } from '../shapes/types';
import {
  outputReport,
  tensorBytes,
  type AnalysisReport,
  type Diagnostic,
  type NodeReport,
} from '../report';
import {
  countsQuantParams,
  DEFAULT_CONVENTION,
  featureMapBytes,
  recountMacs,
  type Convention,
} from './conventions';
import { nodeCompute, type CostShapes } from './opCosts';
import { isSymmetricQuantized } from '../tflite/quantization';
import { sparseStorageOf, sparseStorageText, storedSparseBytes } from '../tflite/sparse';
import { sparseInitializerBytes } from '../onnx/sparse';
import { formatNm } from '../numerics/nmSparsity';
import { weightOrigin, type WeightOrigin } from './weightOrigin';
import { hasSparseMacs, mainWeightSparsity, type WeightSparsity } from './weightSparsity';
import { mainWeight, weightInputIndices } from './weights';

/** What every node's figures depend on, gathered once per analysis. */
export interface FigureContext {
  readonly view: GraphView;
  readonly shapes: ShapeInference;
  readonly external?: ExternalData;
  readonly errorTargetDb: number;
  readonly countBiasFlops: boolean;
  readonly skipBitHints: boolean;
  /** Also the weight SQNR of fp16 and the pow2/ternary/binary grids (AnalyzeOptions). */
  readonly weightFormats: boolean;
  readonly diagnostics: Diagnostic[];
  /** Position of each node in its graph's node list, as printed. */
  readonly fileIndex: ReadonlyMap<Node, number>;
  /** Whose counting the MACs, weight and feature-map bytes follow (conventions.ts); ours if unset. */
  readonly convention?: Convention;
}

export function sum<T>(items: readonly T[], f: (t: T) => number): number {
  let s = 0;
  for (const i of items) s += f(i);
  return s;
}

export interface NodeWeight {
  readonly source: string;
  readonly elements: number;
  readonly bytes: number;
  /** Bytes as the file stores the weight (a sparse_initializer's values and indices). */
  readonly storedBytes: number;
}

export type DraftReport = Omit<NodeReport, 'share'> & { share?: NodeReport['share'] };

export function nodeFigures(
  node: Node,
  index: number,
  context: FigureContext,
): { report: DraftReport; weights: NodeWeight[] } {
  const { view, shapes, diagnostics } = context;
  const name = nodeLabel(node, index);
  const typeOf = (n: string): TensorType | undefined => (n ? shapes.types.get(n) : undefined);
  const concrete = (n: string): number[] | undefined => {
    const s = typeOf(n)?.shape;
    return s ? concreteShape(s) : undefined;
  };
  const convention = context.convention ?? DEFAULT_CONVENTION;
  const costShapes: CostShapes = {
    inputs: node.inputs.map(concrete),
    outputs: node.outputs.map(concrete),
  };
  const compute = nodeCompute(node, costShapes);

  // Weights: constant inputs in weight slots, traced to their stored tensor.
  const isConstant = (n: string): boolean => shapes.constants.has(n);
  const weightSlots = weightSlotsOf(node, shapes);
  const origins = new Map<number, WeightOrigin>();
  for (const i of weightSlots) {
    const o = weightOrigin(node.inputs[i], view, shapes);
    if (o) origins.set(i, o);
  }
  const weights: NodeWeight[] = [];
  const seen = new Set<string>();
  for (const o of origins.values()) {
    if (seen.has(o.source)) continue;
    seen.add(o.source);
    // A weight on a low-bit grid (ternary in int4…) counts at its logical width; a sparse TFLite
    // weight at what the file stores, values and index arrays (tflite/sparse.ts), while its
    // params stay the dense elements the kernels multiply.
    const recorded = recordedWeightBits(o.tensor?.docString, o.dtype);
    const sparse = sparseStorageOf(o.tensor);
    const stored = sparse
      ? storedSparseBytes(sparse)
      : recorded
        ? Math.ceil((o.elements * recorded) / 8)
        : storageBytes(o.dtype, o.elements);
    if (sparse) {
      diagnostics.push(
        sparse.unreadable
          ? {
              severity: 'warning',
              node: name,
              source: 'analysis',
              message: `weight '${o.source}' is sparse but its sparsity metadata is unreadable (${sparse.unreadable}): its values are unknown, so it gets no bit-width hint`,
            }
          : {
              severity: 'info',
              node: name,
              source: 'analysis',
              message: `weight '${o.source}' is stored ${sparseStorageText(sparse)}; params count its ${sparse.denseElements} dense elements`,
            },
      );
    }
    const quantParams = countsQuantParams(convention) ? o.quantParamBytes : 0;
    // An ONNX sparse_initializer: ONNX Runtime holds it dense (weightBytes), the file its values
    // and indices (storedWeightBytes).
    const sparseInit = sparseInitializerBytes(o.tensor);
    const bytes = stored + quantParams;
    weights.push({
      source: o.source,
      elements: o.elements,
      bytes,
      storedBytes: sparseInit ? sparseInit.valueBytes + sparseInit.indexBytes + quantParams : bytes,
    });
  }

  // Activations: non-constant inputs and all outputs, at their dtype (or as the convention
  // stores them: Vela's NHCWB16 bricks between layers).
  const boundary = (n: string): boolean =>
    view.inputNames.includes(n) || view.outputNames.includes(n);
  const mapBytes = (n: string): number =>
    (convention === DEFAULT_CONVENTION
      ? undefined
      : featureMapBytes(convention, node, typeOf(n), boundary(n))) ??
    tensorBytes(typeOf(n)) ??
    0;
  let activationBytes = 0;
  for (const n of node.inputs) if (n && !isConstant(n)) activationBytes += mapBytes(n);
  // A constant output (Identity of a weight, a folded shape) is no feature map.
  for (const n of node.outputs) if (n && !isConstant(n)) activationBytes += mapBytes(n);
  const firstActivation = node.inputs.find((n) => n && !isConstant(n));
  const activationBits =
    dtypeBits(typeOf(firstActivation ?? node.outputs[0] ?? '')?.dtype ?? 1) || 32;

  // The main weight: precision now, and the bit-width hint.
  const main = mainWeightOf(node, shapes);
  const mainOrigin = main ? origins.get(main.input) : undefined;
  const mainGrid = weightGridOf(mainOrigin?.tensor?.docString);
  const weightBits = mainOrigin
    ? (recordedWeightBits(mainOrigin.tensor?.docString, mainOrigin.dtype) ??
      dtypeBits(mainOrigin.dtype))
    : null;
  let suggestedWeightBits: number | null = null;
  let weightSqnrDb: Record<string, number> | null = null;
  let weightFormatSqnrDb: NodeReport['weightFormatSqnrDb'] = null;
  let sampleZeros: number | undefined;
  // Float weights, and integer ones stored symmetric per channel (TFLite's int8 kernels), whose
  // SQNR is measured on the stored integers (tflite/quantization.ts says why that is the same).
  // Integer values are read a chunk at a time (numerics/weightSqnr.ts), never copied as floats.
  const sqnrTensor = main && mainOrigin ? measuredWeight(main.channelAxis, mainOrigin) : undefined;
  if (main && mainOrigin && sqnrTensor && !context.skipBitHints) {
    try {
      const sqnr = weightSqnr(sqnrTensor, main.channelAxis, context.external, {
        formats: context.weightFormats,
      });
      weightSqnrDb = Object.fromEntries(
        Object.entries(sqnr.sqnrDb).map(([b, db]) => [b, round2(db)]),
      );
      const f = sqnr.formats;
      weightFormatSqnrDb = f
        ? {
            fp16: round2(f.fp16),
            pow2: round2(f.pow2),
            ternary: round2(f.ternary),
            binary: round2(f.binary),
          }
        : null;
      suggestedWeightBits = suggestBits(sqnr, context.errorTargetDb, dtypeBits(mainOrigin.dtype));
      sampleZeros = sqnr.sampleZeros;
    } catch (e) {
      diagnostics.push({
        severity: 'warning',
        node: name,
        source: 'analysis',
        message: `weights unreadable for bit-width hints (${(e as Error).message})`,
      });
    }
  } else if (mainOrigin && !sqnrTensor && !sparseStorageOf(mainOrigin.tensor)?.unreadable) {
    suggestedWeightBits = weightBits;
  }

  const suggestedWeightBytes =
    mainOrigin && suggestedWeightBits !== null && main
      ? weightBytesAt(weights, mainOrigin, suggestedWeightBits, main.channelAxis)
      : null;
  // A float weight whose SQNR sample holds no zero is taken as dense (weightSparsity.ts says why);
  // an integer one behind DequantizeLinear, which the SQNR pass does not read, is counted.
  const sparsity =
    main &&
    mainOrigin?.tensor &&
    !context.skipBitHints &&
    !compute.unknown &&
    compute.macs > 0 &&
    sampleZeros !== 0
      ? sparsityOf(node, main.input, mainOrigin, context)
      : undefined;
  const body = bodyFigures(node, context);
  for (const w of body.weights) {
    if (seen.has(w.source)) continue;
    seen.add(w.source);
    weights.push(w);
  }
  const flops =
    2 * compute.macs +
    compute.elementwiseFlops +
    (context.countBiasFlops ? compute.biasFlops : 0) +
    body.flops;
  const bops =
    bitOperations(
      compute.macs,
      compute.accumulationDepth,
      weightBits ?? activationBits,
      activationBits,
      mainGrid?.grid === 'pow2',
    ) + body.bops;
  const macs =
    (compute.unknown ? compute.macs : recountMacs(convention, node, costShapes, compute.macs)) +
    body.macs;
  const storedWeightBytes = sum(weights, (w) => w.storedBytes);
  const weightBytes = sum(weights, (w) => w.bytes);
  return {
    report: {
      index,
      fileIndex: context.fileIndex.get(node) ?? index,
      name,
      op: node.opType,
      domain: node.domain,
      inputs: [...node.inputs],
      outputs: node.outputs.filter(Boolean).map((o) => outputReport(o, typeOf(o))),
      // Under another tool's convention its count (conventions.ts); an unknown count stays 0.
      macs,
      flops,
      bops,
      params: sum(weights, (w) => w.elements),
      weightBytes,
      ...(storedWeightBytes !== weightBytes ? { storedWeightBytes } : {}),
      ...(sparsity ? sparseFigures(sparsity, macs, compute.macs) : {}),
      activationBytes,
      weightBits,
      activationBits,
      suggestedWeightBits,
      suggestedWeightBytes,
      weightSqnrDb,
      weightFormatSqnrDb,
      ...(mainGrid ? { weightGrid: mainGrid.grid } : {}),
      ...(compute.unknown ? { macsUnknown: compute.unknown } : {}),
    },
    weights,
  };
}

/** The stored tensor whose SQNR gives the bit-width hint, when it can be measured. */
function measuredWeight(channelAxis: number, origin: WeightOrigin): Tensor | undefined {
  const t = origin.tensor;
  return t &&
    !sparseStorageOf(t)?.unreadable &&
    (isFloatType(origin.dtype) || isSymmetricQuantized(t, channelAxis))
    ? t
    : undefined;
}

/**
 * The weights whose SQNR nodeFigures will measure, with their channel axes, found the way it finds
 * them: for prefetchWeightSqnr, which reads them all ahead of the analysis with reads in flight.
 */
export function bitHintRequests(context: FigureContext): SqnrRequest[] {
  const { view, shapes } = context;
  const requests: SqnrRequest[] = [];
  for (const node of view.order) {
    const main = mainWeightOf(node, shapes);
    if (!main || !weightSlotsOf(node, shapes).includes(main.input)) continue;
    const origin = weightOrigin(node.inputs[main.input], view, shapes);
    const tensor = origin && measuredWeight(main.channelAxis, origin);
    if (tensor) requests.push({ tensor, channelAxis: main.channelAxis });
  }
  return requests;
}

/** The inputs in weight slots that are constants (weights.ts decides which slots). */
function weightSlotsOf(node: Node, shapes: ShapeInference): number[] {
  return weightInputIndices(
    node,
    (n) => shapes.constants.has(n),
    (n) => {
      const shape = n ? shapes.types.get(n)?.shape : undefined;
      const dims = shape && concreteShape(shape);
      return dims ? elementCount(dims) : 0;
    },
  );
}

/** The weight a node's bit-width hint is for, with its channel axis (weights.ts). */
function mainWeightOf(node: Node, shapes: ShapeInference) {
  return mainWeight(node, (i) => shapes.types.get(node.inputs[i] ?? '')?.shape?.length);
}

/**
 * The zeros of the main weight of a layer whose MACs each multiply one weight element
 * (weightSparsity.ts). A weight that can't be read has had its warning from the SQNR pass: no
 * sparse figure then.
 */
function sparsityOf(
  node: Node,
  input: number,
  origin: WeightOrigin,
  context: FigureContext,
): WeightSparsity | undefined {
  if (!hasSparseMacs(node) || !origin.tensor || sparseStorageOf(origin.tensor)?.unreadable) {
    return undefined;
  }
  try {
    return mainWeightSparsity({
      node,
      input,
      tensor: origin.tensor,
      source: origin.source,
      view: context.view,
      shapes: context.shapes,
      external: context.external,
    });
  } catch {
    return undefined;
  }
}

/**
 * The node's sparse figures: the zero fraction of its main weight, and its MACs less those of the
 * zeros. Every element of the weight takes part in the same number of MACs (`linearMacs` /
 * elements: a Conv's output positions, a MatMul's rows), so skipping the zeros saves that many
 * per zero; MACs a convention adds (ST's bias) are not skipped.
 */
function sparseFigures(
  s: WeightSparsity,
  macs: number,
  linearMacs: number,
): Pick<NodeReport, 'weightSparsity' | 'sparseMacs' | 'nmPattern' | 'nmGroupMaxima'> {
  return {
    weightSparsity: s.zeros / s.elements,
    sparseMacs: macs - Math.round((linearMacs * s.zeros) / s.elements),
    ...(s.nmPattern ? { nmPattern: formatNm(s.nmPattern) } : {}),
    ...(s.nmGroupMaxima ? { nmGroupMaxima: s.nmGroupMaxima } : {}),
  };
}

/**
 * Weight bytes with the main weight at `bits` per element plus one float32 scale per output
 * channel (symmetric, so no zero point), the other weights (bias) as stored: conventions.md
 * "Weight bytes" — bias stays 32-bit because its scale is s_w·s_x.
 */
function weightBytesAt(
  weights: readonly NodeWeight[],
  main: WeightOrigin,
  bits: number,
  channelAxis: number,
): number {
  if (bits >= dtypeBits(main.dtype)) return sum(weights, (w) => w.bytes);
  const channels = main.tensor?.dims[channelAxis] ?? 1;
  const others = sum(
    weights.filter((w) => w.source !== main.source),
    (w) => w.bytes,
  );
  // A sparse weight keeps its pattern: its stored values at `bits`, its index arrays as they are.
  const sparse = sparseStorageOf(main.tensor);
  if (sparse) {
    return quantizedWeightBytes(sparse.storedValues, channels, bits) + sparse.indexBytes + others;
  }
  return quantizedWeightBytes(main.elements, channels, bits) + others;
}

/**
 * Bytes of a weight quantized to `bits` per element, per output channel symmetric: the packed
 * values plus one float32 scale per channel (conventions.md "Weight bytes"). The hover, the
 * fit-to-device plan and the summaries all count a quantized weight with this.
 */
export function quantizedWeightBytes(elements: number, channels: number, bits: number): number {
  return Math.ceil((elements * bits) / 8) + channels * 4;
}

interface BodyFigures {
  readonly macs: number;
  readonly flops: number;
  readonly bops: number;
  readonly weights: NodeWeight[];
}

const NO_BODY: BodyFigures = { macs: 0, flops: 0, bops: 0, weights: [] };

/**
 * The cost of the sub-graphs an If, Loop or Scan runs, charged to that node, per inference:
 * If costs its costlier branch (a worst case: which branch runs is data) but stores the weights
 * of both; Loop and Scan cost
 * their body times the iteration count when it is known, else once, with a diagnostic. Weights
 * that only the body reads are the node's weights.
 */
function bodyFigures(node: Node, context: FigureContext): BodyFigures {
  const graphs = node.attributes.flatMap((a) => (a.g ? [a.g, ...a.graphs] : a.graphs));
  if (graphs.length === 0) return NO_BODY;
  const perGraph = graphs.map((g) => graphFigures(g, context));
  // Every branch's weights are stored (flash), whichever branch runs.
  const weights = perGraph.flatMap((g) => g.weights);
  if (node.opType === 'If') {
    const costlier = perGraph.reduce((a, b) =>
      b.macs > a.macs || (b.macs === a.macs && b.flops > a.flops) ? b : a,
    );
    return { ...costlier, weights };
  }
  const runs = iterations(node, graphs[0], context);
  const total = (f: (g: BodyFigures) => number): number => runs * sum(perGraph, f);
  return {
    macs: total((g) => g.macs),
    flops: total((g) => g.flops),
    bops: total((g) => g.bops),
    weights,
  };
}

/** Sum of the figures of every node of a sub-graph (recursively, for nested control flow). */
function graphFigures(graph: Graph, context: FigureContext): BodyFigures {
  const view = buildGraphView(graph, context.view.scopeNames);
  const inner = { ...context, view };
  let macs = 0;
  let flops = 0;
  let bops = 0;
  const weights: NodeWeight[] = [];
  view.order.forEach((n, i) => {
    const f = nodeFigures(n, i, inner);
    macs += f.report.macs;
    flops += f.report.flops;
    bops += f.report.bops;
    weights.push(...f.weights);
  });
  return { macs, flops, bops, weights };
}

/** How many times a Loop or Scan runs its body, from folded constants and shapes. */
function iterations(node: Node, body: Graph, context: FigureContext): number {
  const { shapes } = context;
  let runs: number | undefined;
  if (node.opType === 'Loop') runs = loopIterations(node, body, (n) => shapes.values.get(n));
  if (node.opType === 'Scan') {
    const scanInputs = node.attributes.find((a) => a.name === 'num_scan_inputs')?.i ?? 0;
    const first = node.inputs[node.inputs.length - scanInputs];
    const axes = node.attributes.find((a) => a.name === 'scan_input_axes')?.ints ?? [];
    const shape = first ? shapes.types.get(first)?.shape : undefined;
    const axis = axes[0] ?? 0;
    const length = shape?.[axis < 0 ? axis + shape.length : axis];
    runs = typeof length === 'number' ? length : undefined;
  }
  if (runs !== undefined) return runs;
  context.diagnostics.push({
    severity: 'info',
    source: 'analysis',
    node: node.name || node.opType,
    message: `${node.opType} iteration count depends on run-time data: its body is counted once`,
  });
  return 1;
}

/**
 * BOPs = MACs × (b_a·b_w + b_o), accumulator b_o = b_a + b_w + log2(n·k²)
 * (Baskin et al., "UNIQ", 2018), n·k² being the accumulation depth of one output.
 * `shiftOnly` (power-of-two weights): the multiply is a shift, so only the accumulation counts,
 * MACs × b_o.
 */
export function bitOperations(
  macs: number,
  depth: number | undefined,
  weightBits: number,
  activationBits: number,
  shiftOnly = false,
): number {
  if (macs === 0) return 0;
  const accumulator = activationBits + weightBits + Math.log2(Math.max(1, depth ?? 1));
  return macs * ((shiftOnly ? 0 : activationBits * weightBits) + accumulator);
}

const GRID_DOC = /^model-lens:weight-grid=(pow2|ternary|binary);bits=(\d+)$/;

/**
 * The doc_string a quantized initializer carries when its values lie on a low-bit grid: its
 * logical width (ternary 2 bits in an int4 container), which memory, BOPs and energy count.
 */
export function weightGridDoc(grid: WeightGrid, bits: number): string {
  return `model-lens:weight-grid=${grid};bits=${bits}`;
}

export function weightGridOf(
  docString: string | undefined,
): { grid: WeightGrid; bits: number } | undefined {
  const m = docString ? GRID_DOC.exec(docString) : null;
  return m ? { grid: m[1] as WeightGrid, bits: Number(m[2]) } : undefined;
}

const BITS_DOC = /^model-lens:weight-bits=(\d+)$/;

/**
 * The doc_string of a quantized initializer whose integers use k bits of a wider container
 * (3-bit values in int8): without it a reload would count the container's 8 bits.
 */
export function weightBitsDoc(bits: number): string {
  return `model-lens:weight-bits=${bits}`;
}

/**
 * The logical width recorded on a stored weight (a grid's or a k-bit integer's), when it is
 * narrower than the container; a marker claiming more bits than the type holds is ignored.
 */
export function recordedWeightBits(
  docString: string | undefined,
  dtype: DataType,
): number | undefined {
  if (!docString) return undefined;
  const bits = weightGridOf(docString)?.bits ?? Number(BITS_DOC.exec(docString)?.[1] ?? NaN);
  return bits >= 1 && bits < dtypeBits(dtype) ? bits : undefined;
}

function round2(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 100) / 100 : x;
}

export function withShares(r: DraftReport, totals: AnalysisReport['totals']): NodeReport {
  const frac = (a: number, b: number): number => (b > 0 ? a / b : 0);
  return {
    ...r,
    share: {
      macs: frac(r.macs, totals.macs),
      flops: frac(r.flops, totals.flops),
      params: frac(r.params, totals.params),
      weightBytes: frac(r.weightBytes, totals.weightBytes),
    },
  };
}
