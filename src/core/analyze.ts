/**
 * The one entry point every surface calls (CLI, language server, webview data, benchmarks):
 * load → validate → graph → shapes → per-node figures → memory plan → bit-width hints → device fit.
 * Every figure a user sees is computed here or in the module this calls, never in a surface.
 */
import {
  bitHintRequests,
  nodeFigures,
  sum,
  withShares,
  type DraftReport,
  type FigureContext,
} from './cost/nodeFigures';
import { countsSharedWeightsPerUse, DEFAULT_CONVENTION, type Convention } from './cost/conventions';
import type { DeviceProfile } from './devices';
import { fitDevice } from './devices/deviceReport';
import { buildGraphView, nodeLabel, type GraphView } from './graph/graph';
import { planActivations } from './memory/activations';
import { DEFAULT_ERROR_TARGET_DB, prefetchWeightSqnr } from './numerics/weightSqnr';
import { opsetVersions } from './onnx/opsets';
import { loadAnyModel, parseAnyModelBytes } from './modelFile';
import type { LoadedModel } from './onnx/load';
import { outputReport, type AnalysisReport, type Diagnostic } from './report';
import { inferShapes, type ShapeInference } from './shapes/infer';
import { arenaFigures } from './tflite/arenaReport';
import { validateModel } from './validate';

export type { AnalysisReport, DeviceReport, Diagnostic, NodeReport, OutputReport } from './report';
export { bitOperations } from './cost/nodeFigures';

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
  /**
   * Also measure each layer's weight SQNR in fp16 and the pow2/ternary/binary grids
   * (`weightFormatSqnrDb`; the CLI's --json). Off by default: it costs more than the integer
   * widths together.
   */
  readonly weightFormats?: boolean;
  /**
   * Count MACs, weight and feature-map bytes as another tool does (cost/conventions.ts): ST Edge
   * AI Core (`st`) or Arm Vela (`vela`). Default `model-lens`, ours (conventions.md).
   */
  readonly convention?: Convention;
}

export function analyzeFile(file: string, options: AnalyzeOptions = {}): AnalysisReport {
  return analyzeLoaded(loadAnyModel(file), options);
}

export function analyzeBytes(bytes: Uint8Array, options: AnalyzeOptions = {}): AnalysisReport {
  return analyzeLoaded(parseAnyModelBytes(bytes), options);
}

export function analyzeLoaded(loaded: LoadedModel, options: AnalyzeOptions = {}): AnalysisReport {
  return figuresOf(loaded, options, prepare(loaded, options));
}

/**
 * analyzeLoaded with the weights of the bit-width hints read first, several blocks in flight
 * (numerics/channelScan.ts), while the analysis itself stays synchronous: the same report, sooner
 * on a large model (the CLI's analyze and the editor's hint pass use it).
 */
export async function analyzeLoadedAsync(
  loaded: LoadedModel,
  options: AnalyzeOptions = {},
): Promise<AnalysisReport> {
  const prepared = prepare(loaded, options);
  if (!prepared.context.skipBitHints) {
    await prefetchWeightSqnr(bitHintRequests(prepared.context), loaded.external, {
      formats: prepared.context.weightFormats,
    });
  }
  return figuresOf(loaded, options, prepared);
}

/**
 * Reads ahead, with reads in flight, the weights whose bit-width hints analyzeLoaded computes with
 * these options: a later analyzeLoaded finds them measured (the editor's hint pass, which keeps
 * answering requests while the reads run). A model that can't be analysed is left to the analysis
 * to report.
 */
export async function prefetchBitHints(
  loaded: LoadedModel,
  options: AnalyzeOptions = {},
): Promise<void> {
  let prepared: Prepared;
  try {
    prepared = prepare(loaded, options);
  } catch {
    return;
  }
  await prefetchWeightSqnr(bitHintRequests(prepared.context), loaded.external, {
    formats: prepared.context.weightFormats,
  });
}

interface Prepared {
  readonly context: FigureContext;
  readonly view: GraphView;
  readonly shapes: ShapeInference;
  readonly opsets: ReadonlyMap<string, number>;
  readonly symbolicDims: string[];
}

/** Validation, the graph, shapes and the context every node's figures need. */
function prepare(loaded: LoadedModel, options: AnalyzeOptions): Prepared {
  const { model } = loaded;
  const shortPayloads = validateModel(model, loaded.external);
  const view = buildGraphView(model.graph);
  const opsets = opsetVersions(model);
  const shapes = inferShapes(view, {
    opsets,
    inputShapes: options.inputShapes,
    external: loaded.external,
  });
  const diagnostics: Diagnostic[] = shapes.diagnostics.map((d) => ({ ...d, source: 'shapes' }));
  for (const message of shortPayloads) {
    diagnostics.push({ severity: 'error', source: 'analysis', message });
  }
  const errorTargetDb = options.errorTargetDb ?? DEFAULT_ERROR_TARGET_DB;
  const convention = options.convention ?? DEFAULT_CONVENTION;

  const symbolicDims = collectSymbolicInputDims(view, shapes);
  if (symbolicDims.length > 0) {
    diagnostics.push({
      severity: 'info',
      source: 'analysis',
      message: `symbolic input dimension${symbolicDims.length > 1 ? 's' : ''} ${symbolicDims.map((d) => `'${d}'`).join(', ')} counted as 1; fix with --input NAME=DIMS`,
    });
  }

  const context: FigureContext = {
    view,
    shapes,
    external: loaded.external,
    errorTargetDb,
    countBiasFlops: options.countBiasFlops ?? true,
    skipBitHints: options.skipBitHints ?? false,
    weightFormats: options.weightFormats ?? false,
    diagnostics,
    fileIndex: new Map(model.graph.nodes.map((n, i) => [n, i])),
    convention,
  };
  return { context, view, shapes, opsets, symbolicDims };
}

function figuresOf(
  loaded: LoadedModel,
  options: AnalyzeOptions,
  { context, view, shapes, opsets, symbolicDims }: Prepared,
): AnalysisReport {
  const { model } = loaded;
  const { diagnostics, errorTargetDb } = context;
  const convention = context.convention ?? DEFAULT_CONVENTION;
  const nodes = view.order.map((node, index) => nodeFigures(node, index, context));
  const uniqueWeights = new Map<string, { params: number; bytes: number; storedBytes: number }>();
  // ST counts a weight that several nodes read once per use; we count it once.
  const perUse = countsSharedWeightsPerUse(convention);
  nodes.forEach((n, i) => {
    for (const w of n.weights) {
      const key = perUse ? `${i}\0${w.source}` : w.source;
      uniqueWeights.set(key, { params: w.elements, bytes: w.bytes, storedBytes: w.storedBytes });
    }
  });

  const planned = planActivations(view, shapes, diagnostics);
  // A TFLite model's arena is what TFLite Micro lays out (tflite/arenaReport.ts), not our plan.
  const arena =
    loaded.tflite &&
    arenaFigures(
      loaded.tflite,
      view.order.map((n, i) => nodeLabel(n, i)),
      diagnostics,
    );
  const memory = arena
    ? {
        ...arena,
        lowerBoundBytes: arena.activationLowerBoundBytes,
        runtimeTensors: planned.runtimeTensors,
      }
    : planned;
  const weightBytes = sum([...uniqueWeights.values()], (w) => w.bytes);
  const storedWeightBytes = sum([...uniqueWeights.values()], (w) => w.storedBytes);
  const totals = {
    macs: sum(nodes, (n) => n.report.macs),
    flops: sum(nodes, (n) => n.report.flops),
    bops: sum(nodes, (n) => n.report.bops),
    params: sum([...uniqueWeights.values()], (w) => w.params),
    weightBytes,
    peakActivationBytes: memory.peakActivationBytes,
    naiveActivationBytes: memory.naiveActivationBytes,
    activationLowerBoundBytes: memory.lowerBoundBytes,
    ...uncounted(nodes.map((n) => n.report)),
    ...sparseTotals(nodes.map((n) => n.report)),
    ...(storedWeightBytes !== weightBytes ? { storedWeightBytes } : {}),
  };
  const reports = nodes.map((n) => withShares(n.report, totals));
  const device = options.device
    ? fitDevice(options.device, reports, totals, diagnostics, memory.runtimeTensors)
    : undefined;
  const deviceReports = device ? device.nodes : reports;

  return {
    model: {
      path: loaded.path ?? '',
      format: loaded.tflite
        ? `TFLite schema ${loaded.tflite.model.version}`
        : `ONNX IR ${model.irVersion}, opset ${opsets.get('') ?? 0}`,
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
      lifetimes: memory.lifetimes,
      ...(arena ? { runtime: arena.runtime } : {}),
    },
    nodes: deviceReports,
    inputs: view.inputNames.map((n) => outputReport(n, shapes.types.get(n))),
    outputs: view.outputNames.map((n) => outputReport(n, shapes.types.get(n))),
    symbolicDims,
    errorTargetDb,
    convention,
    diagnostics,
    device: device?.report,
  };
}

/** The nodes whose MACs are unknown, when there are any (AnalysisReport totals). */
function uncounted(nodes: readonly DraftReport[]): { uncountedNodes?: string[] } {
  const names = nodes.filter((n) => n.macsUnknown).map((n) => n.name);
  return names.length > 0 ? { uncountedNodes: names } : {};
}

/**
 * Σ sparseMacs over the layers, each layer without zeros at its MACs, when some layer has zeros
 * (the figure is absent for a dense model, and before the bit-hint pass that measures it).
 */
function sparseTotals(nodes: readonly DraftReport[]): { sparseMacs?: number } {
  if (!nodes.some((n) => n.sparseMacs !== undefined)) return {};
  return { sparseMacs: sum(nodes, (n) => (n.macsUnknown ? 0 : (n.sparseMacs ?? n.macs))) };
}

function collectSymbolicInputDims(view: GraphView, shapes: ShapeInference): string[] {
  const dims = new Set<string>();
  for (const name of view.inputNames) {
    for (const d of shapes.types.get(name)?.shape ?? []) if (typeof d === 'string') dims.add(d);
  }
  return [...dims];
}
