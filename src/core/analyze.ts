/**
 * The one entry point every surface calls (CLI, language server, webview data, benchmarks):
 * load → validate → graph → shapes → per-node figures → memory plan → bit-width hints → device fit.
 * Every figure a user sees is computed here or in the module this calls, never in a surface.
 */
import { suggestBits, weightSqnr, DEFAULT_ERROR_TARGET_DB } from './advisor/weightBits';
import { nodeCompute } from './cost/opCosts';
import { mainWeight, weightInputIndices } from './cost/weights';
import { weightOrigin, type WeightOrigin } from './cost/weightOrigin';
import { checkFit, estimateLayer, type DeviceProfile, type LayerFigures } from './devices';
import { buildGraphView, nodeLabel, type GraphView } from './graph/graph';
import { planMemory } from './memory';
import { dtypeBits, dtypeName, isFloatType, storageBytes } from './onnx/dtype';
import { loadModelFile, parseModelBytes, type LoadedModel } from './onnx/load';
import { elementCount } from './onnx/tensorData';
import type { Node } from './onnx/types';
import { concreteShape, inferShapes, type ShapeInference } from './shapes/infer';
import type { Dim, TensorType } from './shapes/types';
import { validateModel } from './validate';

export interface AnalyzeOptions {
  /** Fixed dims for graph inputs (the CLI's --input NAME=DIMS). */
  readonly inputShapes?: ReadonlyMap<string, readonly number[]>;
  /** Device to check the fit rules against and estimate latency and energy on. */
  readonly device?: DeviceProfile;
  /** Weight SQNR (dB) a suggested bit-width must keep. */
  readonly errorTargetDb?: number;
  /** Whether bias additions count in FLOPs (default true). */
  readonly countBiasFlops?: boolean;
  /** Skip the weight SQNR pass (reading every weight); suggestions are then null. */
  readonly skipBitHints?: boolean;
}

export interface Diagnostic {
  readonly severity: 'error' | 'warning' | 'info';
  readonly node?: string;
  readonly message: string;
  /** Which stage raised it: shapes, analysis (figures), or device (fit rules). */
  readonly source: 'shapes' | 'analysis' | 'device';
}

export interface OutputReport {
  readonly name: string;
  readonly dtype: string;
  /** null when unknown; a string entry is a symbolic dimension. */
  readonly shape: Dim[] | null;
}

export interface NodeReport {
  readonly index: number;
  readonly name: string;
  readonly op: string;
  readonly domain: string;
  readonly inputs: string[];
  readonly outputs: OutputReport[];
  readonly macs: number;
  readonly flops: number;
  readonly bops: number;
  readonly params: number;
  readonly weightBytes: number;
  readonly activationBytes: number;
  /** The layer's share (0–1) of each model total. */
  readonly share: { macs: number; flops: number; params: number; weightBytes: number };
  /** Stored precision of the main weight, when the layer has one. */
  readonly weightBits: number | null;
  readonly activationBits: number;
  readonly suggestedWeightBits: number | null;
  /** Weight SQNR in dB per candidate width (8, 6, 5, 4, 3, 2), the reason for the suggestion. */
  readonly weightSqnrDb: Record<string, number> | null;
  readonly latencySeconds?: number;
  readonly energyJoules?: number;
}

export interface DeviceReport {
  readonly id: string;
  readonly name: string;
  readonly fits: boolean;
  readonly weightBytesLimit: number;
  readonly ramBytesLimit: number;
  /** Fractions of the limits in use (1.4 = 140%). */
  readonly weightUse: number;
  readonly ramUse: number;
  readonly latencySeconds: number;
  readonly energyJoules: number;
  readonly diagnostics: {
    severity: 'error' | 'warning' | 'info';
    node?: string;
    message: string;
  }[];
}

export interface AnalysisReport {
  readonly model: {
    path: string;
    irVersion: number;
    opset: number;
    producer: string;
    fileBytes: number;
  };
  readonly totals: {
    macs: number;
    flops: number;
    bops: number;
    params: number;
    weightBytes: number;
    peakActivationBytes: number;
    naiveActivationBytes: number;
    activationLowerBoundBytes: number;
  };
  readonly memory: {
    /** The node running when the most activation bytes are alive, and what is alive then. */
    peakNode: string | null;
    peakStep: number;
    liveAtPeak: { name: string; bytes: number }[];
    liveBytesPerStep: number[];
  };
  readonly nodes: NodeReport[];
  readonly inputs: OutputReport[];
  readonly outputs: OutputReport[];
  /** Symbolic input dimensions that were counted as 1. */
  readonly symbolicDims: string[];
  readonly errorTargetDb: number;
  readonly diagnostics: Diagnostic[];
  readonly device?: DeviceReport;
}

export function analyzeFile(file: string, options: AnalyzeOptions = {}): AnalysisReport {
  return analyzeLoaded(loadModelFile(file), options);
}

export function analyzeBytes(bytes: Uint8Array, options: AnalyzeOptions = {}): AnalysisReport {
  return analyzeLoaded(parseModelBytes(bytes), options);
}

export function analyzeLoaded(loaded: LoadedModel, options: AnalyzeOptions = {}): AnalysisReport {
  const { model } = loaded;
  validateModel(model, loaded.external);
  const view = buildGraphView(model.graph);
  const opsets = new Map<string, number>();
  for (const o of model.opsetImport) opsets.set(o.domain === 'ai.onnx' ? '' : o.domain, o.version);
  const shapes = inferShapes(view, {
    opsets,
    inputShapes: options.inputShapes,
    external: loaded.external,
  });
  const diagnostics: Diagnostic[] = shapes.diagnostics.map((d) => ({ ...d, source: 'shapes' }));
  const errorTargetDb = options.errorTargetDb ?? DEFAULT_ERROR_TARGET_DB;

  const symbolicDims = collectSymbolicInputDims(view, shapes);
  if (symbolicDims.length > 0) {
    diagnostics.push({
      severity: 'info',
      source: 'analysis',
      message: `symbolic input dimension${symbolicDims.length > 1 ? 's' : ''} ${symbolicDims.map((d) => `'${d}'`).join(', ')} counted as 1; fix with --input NAME=DIMS`,
    });
  }

  const nodes = view.order.map((node, index) =>
    nodeFigures(node, index, view, shapes, loaded, options, errorTargetDb, diagnostics),
  );
  const uniqueWeights = new Map<string, { params: number; bytes: number }>();
  for (const n of nodes)
    for (const w of n.weights) uniqueWeights.set(w.source, { params: w.elements, bytes: w.bytes });

  const memory = planActivations(view, shapes, diagnostics);
  const totals = {
    macs: sum(nodes, (n) => n.report.macs),
    flops: sum(nodes, (n) => n.report.flops),
    bops: sum(nodes, (n) => n.report.bops),
    params: sum([...uniqueWeights.values()], (w) => w.params),
    weightBytes: sum([...uniqueWeights.values()], (w) => w.bytes),
    peakActivationBytes: memory.peakActivationBytes,
    naiveActivationBytes: memory.naiveActivationBytes,
    activationLowerBoundBytes: memory.lowerBoundBytes,
  };
  const reports = nodes.map((n) => withShares(n.report, totals));
  const device = options.device
    ? fitDevice(options.device, reports, totals, diagnostics)
    : undefined;
  const deviceReports = device ? device.nodes : reports;

  return {
    model: {
      path: loaded.path ?? '',
      irVersion: model.irVersion,
      opset: opsets.get('') ?? 0,
      producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
      fileBytes: loaded.fileBytes,
    },
    totals,
    memory: {
      peakNode: memory.peakNode,
      peakStep: memory.peakStep,
      liveAtPeak: memory.liveAtPeak,
      liveBytesPerStep: memory.liveBytesPerStep,
    },
    nodes: deviceReports,
    inputs: view.inputNames.map((n) => outputReport(n, shapes.types.get(n))),
    outputs: view.outputNames.map((n) => outputReport(n, shapes.types.get(n))),
    symbolicDims,
    errorTargetDb,
    diagnostics,
    device: device?.report,
  };
}

function sum<T>(items: readonly T[], f: (t: T) => number): number {
  let s = 0;
  for (const i of items) s += f(i);
  return s;
}

function outputReport(name: string, t: TensorType | undefined): OutputReport {
  return { name, dtype: t ? dtypeName(t.dtype) : 'unknown', shape: t?.shape ? [...t.shape] : null };
}

function collectSymbolicInputDims(view: GraphView, shapes: ShapeInference): string[] {
  const dims = new Set<string>();
  for (const name of view.inputNames) {
    for (const d of shapes.types.get(name)?.shape ?? []) if (typeof d === 'string') dims.add(d);
  }
  return [...dims];
}

/** Bytes of a tensor at its dtype, symbolic dims counted as 1; undefined when unknown. */
function tensorBytes(t: TensorType | undefined): number | undefined {
  if (!t?.shape || t.dtype === 0) return undefined;
  return storageBytes(t.dtype, elementCount(concreteShape(t.shape)));
}

interface NodeWeight {
  readonly source: string;
  readonly elements: number;
  readonly bytes: number;
}

type DraftReport = Omit<NodeReport, 'share'> & { share?: NodeReport['share'] };

function nodeFigures(
  node: Node,
  index: number,
  view: GraphView,
  shapes: ShapeInference,
  loaded: LoadedModel,
  options: AnalyzeOptions,
  errorTargetDb: number,
  diagnostics: Diagnostic[],
): { report: DraftReport; weights: NodeWeight[] } {
  const name = nodeLabel(node, index);
  const typeOf = (n: string): TensorType | undefined => (n ? shapes.types.get(n) : undefined);
  const concrete = (n: string): number[] | undefined => {
    const s = typeOf(n)?.shape;
    return s ? concreteShape(s) : undefined;
  };
  const compute = nodeCompute(node, {
    inputs: node.inputs.map(concrete),
    outputs: node.outputs.map(concrete),
  });

  // Weights: constant inputs in weight slots, traced to their stored tensor.
  const isConstant = (n: string): boolean => shapes.constants.has(n);
  const elementsOf = (n: string): number => {
    const s = concrete(n);
    return s ? elementCount(s) : 0;
  };
  const weightSlots = weightInputIndices(node, isConstant, elementsOf);
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
    weights.push({
      source: o.source,
      elements: o.elements,
      bytes: storageBytes(o.dtype, o.elements) + o.quantParamBytes,
    });
  }

  // Activations: non-constant inputs and all outputs, at their dtype.
  let activationBytes = 0;
  for (const n of node.inputs)
    if (n && !isConstant(n)) activationBytes += tensorBytes(typeOf(n)) ?? 0;
  for (const n of node.outputs) if (n) activationBytes += tensorBytes(typeOf(n)) ?? 0;
  const firstActivation = node.inputs.find((n) => n && !isConstant(n));
  const activationBits =
    dtypeBits(typeOf(firstActivation ?? node.outputs[0] ?? '')?.dtype ?? 1) || 32;

  // The main weight: precision now, and the bit-width hint.
  const main = mainWeight(node, (i) => typeOf(node.inputs[i] ?? '')?.shape?.length);
  const mainOrigin = main ? origins.get(main.input) : undefined;
  const weightBits = mainOrigin ? dtypeBits(mainOrigin.dtype) : null;
  let suggestedWeightBits: number | null = null;
  let weightSqnrDb: Record<string, number> | null = null;
  if (main && mainOrigin?.tensor && isFloatType(mainOrigin.dtype) && !options.skipBitHints) {
    try {
      const sqnr = weightSqnr(mainOrigin.tensor, main.channelAxis, loaded.external);
      weightSqnrDb = Object.fromEntries(
        Object.entries(sqnr.sqnrDb).map(([b, db]) => [b, round2(db)]),
      );
      suggestedWeightBits = suggestBits(sqnr, errorTargetDb, dtypeBits(mainOrigin.dtype));
    } catch (e) {
      diagnostics.push({
        severity: 'warning',
        node: name,
        source: 'analysis',
        message: `weights unreadable for bit-width hints (${(e as Error).message})`,
      });
    }
  } else if (mainOrigin && !isFloatType(mainOrigin.dtype)) {
    suggestedWeightBits = weightBits;
  }

  const countBias = options.countBiasFlops ?? true;
  const flops = 2 * compute.macs + compute.elementwiseFlops + (countBias ? compute.biasFlops : 0);
  const bops = bitOperations(
    compute.macs,
    compute.accumulationDepth,
    weightBits ?? activationBits,
    activationBits,
  );
  return {
    report: {
      index,
      name,
      op: node.opType,
      domain: node.domain,
      inputs: [...node.inputs],
      outputs: node.outputs.filter(Boolean).map((o) => outputReport(o, typeOf(o))),
      macs: compute.macs,
      flops,
      bops,
      params: sum(weights, (w) => w.elements),
      weightBytes: sum(weights, (w) => w.bytes),
      activationBytes,
      weightBits,
      activationBits,
      suggestedWeightBits,
      weightSqnrDb,
    },
    weights,
  };
}

/**
 * BOPs = MACs × (b_a·b_w + b_o), accumulator b_o = b_a + b_w + log2(n·k²)
 * (Baskin et al., "UNIQ", 2018), n·k² being the accumulation depth of one output.
 */
export function bitOperations(
  macs: number,
  depth: number | undefined,
  weightBits: number,
  activationBits: number,
): number {
  if (macs === 0) return 0;
  const accumulator = activationBits + weightBits + Math.log2(Math.max(1, depth ?? 1));
  return macs * (activationBits * weightBits + accumulator);
}

function round2(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 100) / 100 : x;
}

function withShares(r: DraftReport, totals: AnalysisReport['totals']): NodeReport {
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

function planActivations(view: GraphView, shapes: ShapeInference, diagnostics: Diagnostic[]) {
  const tensorBytesMap = new Map<string, number>();
  const unknown: string[] = [];
  const consider = (name: string): void => {
    if (!name || shapes.constants.has(name) || tensorBytesMap.has(name)) return;
    const b = tensorBytes(shapes.types.get(name));
    if (b === undefined) unknown.push(name);
    else tensorBytesMap.set(name, b);
  };
  for (const n of view.inputNames) consider(n);
  for (const node of view.order) {
    for (const i of node.inputs) consider(i);
    for (const o of node.outputs) consider(o);
  }
  if (unknown.length > 0) {
    diagnostics.push({
      severity: 'warning',
      source: 'analysis',
      message: `${unknown.length} tensor size${unknown.length > 1 ? 's are' : ' is'} unknown (e.g. '${unknown[0]}'), so activation memory leaves ${unknown.length > 1 ? 'them' : 'it'} out`,
    });
  }
  const plan = planMemory({
    steps: view.order.map((n, i) => ({
      node: nodeLabel(n, i),
      inputs: n.inputs.filter(Boolean),
      outputs: n.outputs.filter(Boolean),
    })),
    tensorBytes: tensorBytesMap,
    graphInputs: view.inputNames,
    graphOutputs: view.outputNames,
  });
  return {
    peakActivationBytes: plan.peakActivationBytes,
    naiveActivationBytes: plan.naiveActivationBytes,
    lowerBoundBytes: plan.lowerBoundBytes,
    peakNode: view.order.length > 0 ? plan.peakNode : null,
    peakStep: plan.peakStep,
    liveAtPeak: plan.liveAtPeak,
    liveBytesPerStep: plan.liveBytesPerStep,
  };
}

function fitDevice(
  device: DeviceProfile,
  nodes: NodeReport[],
  totals: AnalysisReport['totals'],
  diagnostics: Diagnostic[],
): { report: DeviceReport; nodes: NodeReport[] } {
  const layers: LayerFigures[] = nodes.map((n) => ({
    name: n.name,
    op: n.op,
    macs: n.macs,
    weightBytes: n.weightBytes,
    activationBytes: n.activationBytes,
    weightBits: n.weightBits ?? undefined,
    activationBits: n.activationBits,
  }));
  const fit = checkFit(device, {
    weightBytes: totals.weightBytes,
    peakActivationBytes: totals.peakActivationBytes,
    layers,
  });
  for (const d of fit.diagnostics)
    diagnostics.push({ severity: d.severity, node: d.node, message: d.message, source: 'device' });
  let latencySeconds = 0;
  let energyJoules = 0;
  const withEstimates = nodes.map((n, i) => {
    const e = estimateLayer(device, layers[i]);
    latencySeconds += e.latencySeconds;
    energyJoules += e.energyJoules;
    return { ...n, latencySeconds: e.latencySeconds, energyJoules: e.energyJoules };
  });
  return {
    nodes: withEstimates,
    report: {
      id: device.id,
      name: device.name,
      fits: fit.fits,
      weightBytesLimit: fit.weightBytesLimit,
      ramBytesLimit: fit.ramBytesLimit,
      weightUse: fit.weightUse,
      ramUse: fit.ramUse,
      latencySeconds,
      energyJoules,
      diagnostics: fit.diagnostics.map((d) => ({
        severity: d.severity,
        node: d.node,
        message: d.message,
      })),
    },
  };
}
