/**
 * Runs the original and the compressed model in ONNX Runtime (CPU) on the same inputs and
 * measures how far the outputs drift (metrics.ts). Each model gets one session for all samples,
 * released at the end, so the cost is one load per model plus the inference itself.
 *
 * onnxruntime-node is loaded on first use, not at import: the analyzer and the editor import the
 * core without ever paying for (or needing) the native runtime.
 */
import type * as OrtTypes from 'onnxruntime-node';
import type { LoadedModel } from '../onnx/load';
import type { Graph } from '../onnx/types';
import { halfToFloat } from '../onnx/tensorData';
import {
  coerceInput,
  graphInputNames,
  inputSpecs,
  openModel,
  randomInputsFor,
  readInputsDir,
  type FolderInputs,
  type InputSet,
  type InputTensor,
} from './inputs';
import {
  argmaxRows,
  ErrorAccumulator,
  labelledMetrics,
  TOP5_MIN_CLASSES,
  TOP_K,
  topKRows,
  type LabelledMetrics,
} from './metrics';
import { VerifyError } from './npy';
import { KlAccumulator, rowKind } from './divergence';

export interface VerifyOptions {
  /** Whole shapes for inputs; otherwise a symbolic dim becomes 1. */
  inputShapes?: ReadonlyMap<string, readonly number[]>;
  /** Random input sets, default 8. Ignored when `inputsDir` is given. */
  samples?: number;
  /** Default 0; the same seed gives the same inputs. */
  seed?: number;
  /** The user's inputs: a folder of .npy / .pb files, or of sample subfolders (inputs.ts). */
  inputsDir?: string;
  /**
   * Samples already read, instead of `inputsDir` or random ones: a part of a data folder
   * (src/core/data/split.ts), e.g. the evaluation part that a calibrated fix never saw. Their
   * labels are used unless `labels` is given.
   */
  inputs?: Pick<FolderInputs, 'sets' | 'labels'>;
  /**
   * Class labels, one per row of the first output across all samples (one per sample at batch
   * 1). Overrides labels.json / labels.txt in `inputsDir`.
   */
  labels?: readonly number[];
  /**
   * Also run a quantized compressed model on ONNX Runtime's optimised CPU kernels (the second,
   * host-dependent figure). Default true; skipped when no activation is quantized.
   */
  hostKernels?: boolean;
  /**
   * Also measure the mean KL divergence of the first output's class distributions
   * (divergence.ts), into `klDivergence`. Default false.
   */
  klDivergence?: boolean;
}

export interface VerifyResult {
  /** 10·log10(Σ ref² / Σ (ref − test)²) over all outputs and samples; Infinity when identical. */
  sqnrDb: number;
  maxAbsError: number;
  /** Cosine similarity of all outputs flattened. */
  cosine: number;
  /** Fraction of rows whose argmax over the last axis of the first output agrees. */
  top1Agreement: number;
  samples: number;
  outputs: string[];
  // The fields below were added after the first API; optional so that hand-made results still fit.
  /** SQNR of each output separately (same order as `outputs`). */
  perOutput?: { name: string; sqnrDb: number; maxAbsError: number; cosine: number }[];
  /** Where the inputs came from. */
  inputSource?: 'random' | 'folder';
  /** Wall time of the whole verification, model loading included. */
  seconds?: number;
  /** Mean KL(P_original ‖ P_compressed) per row of the first output, in nats, when asked for. */
  klDivergence?: number;
  labelled?: LabelledMetrics;
  /**
   * The compressed model on ONNX Runtime's optimised CPU kernels of this machine (QDQ fused into
   * integer kernels): a second figure, for deployment on ORT. Only when activations are quantized.
   */
  hostKernels?: HostKernelFigures;
  /**
   * Set when the compressed model no longer behaves like the original (behaviourWarning): top-1
   * agreement below MIN_TOP1_AGREEMENT, or labelled accuracy down by more than MAX_ACCURACY_DROP.
   */
  warning?: string;
}

export interface HostKernelFigures {
  sqnrDb: number;
  top1Agreement: number;
  /** With labels: the compressed model's accuracy on these kernels. */
  accuracyCompressed?: number;
  /** Set when these figures differ from the as-written ones by more than the tolerance. */
  warning?: string;
}

/**
 * How a model is executed. `as-written`: ORT's basic graph optimisations only (constant folding,
 * redundant-node removal), so a QDQ graph is evaluated in float exactly as the file says and the
 * figure is the same on every CPU. `host-optimized`: every optimisation, which fuses QDQ into
 * u8s8 integer kernels whose results depend on the CPU (on x86 AVX2 without VNNI their 16-bit
 * intermediate sums saturate: onnxruntime's quantization docs, "reduce_range").
 */
export type Kernels = 'as-written' | 'host-optimized';

export interface OutputTensor {
  data: Float32Array;
  dims: number[];
}

export type Ort = typeof OrtTypes;
let ortModule: Promise<Ort> | undefined;

/** onnxruntime-node, imported on first use (see the header); a VerifyError when it is missing. */
export function ort(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node').catch((e: unknown) => {
    ortModule = undefined;
    throw new VerifyError(
      `ONNX Runtime is not available (${firstLine(e)}); install onnxruntime-node to verify`,
    );
  });
  return ortModule;
}

function firstLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split('\n')[0].trim();
}

/**
 * One model loaded in ONNX Runtime, for running many input sets. For the advisor, which runs a
 * model once per candidate; always `release()` it.
 */
export class ModelRunner {
  private constructor(
    private readonly session: OrtTypes.InferenceSession,
    private readonly ortApi: Ort,
    readonly label: string,
  ) {}

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  /** `label` ("compressed model") starts error messages. */
  static async create(
    model: string | Uint8Array,
    label = 'model',
    kernels: Kernels = 'as-written',
  ): Promise<ModelRunner> {
    const api = await ort();
    const options: OrtTypes.InferenceSession.SessionOptions = {
      // Warnings (e.g. unused initializers) would interleave with our output on stderr.
      logSeverityLevel: 3,
      graphOptimizationLevel: kernels === 'as-written' ? 'basic' : 'all',
    };
    try {
      const session =
        typeof model === 'string'
          ? await api.InferenceSession.create(model, options)
          : await api.InferenceSession.create(model, options);
      return new ModelRunner(session, api, label);
    } catch (e) {
      throw new VerifyError(`${label}: ONNX Runtime cannot load it: ${firstLine(e)}`);
    }
  }

  async run(inputs: InputSet): Promise<Record<string, OutputTensor>> {
    const results = await this.runSession(inputs);
    const out: Record<string, OutputTensor> = {};
    for (const name of this.session.outputNames) {
      const value = results[name];
      if (!(value instanceof this.ortApi.Tensor)) {
        throw new VerifyError(
          `${this.label}: output '${name}' is not a tensor; only tensors compare`,
        );
      }
      out[name] = { data: toFloat32(value, name, this.label), dims: [...value.dims] };
      value.dispose();
    }
    return out;
  }

  /**
   * Runs once and returns `names` (default every output) as ORT gave them, dtype kept (int64
   * shape tensors stay int64): for feeding them to another model (the advisor's suffix runs).
   */
  async runRaw(inputs: InputSet, names?: readonly string[]): Promise<Record<string, InputTensor>> {
    const results = await this.runSession(inputs);
    const out: Record<string, InputTensor> = {};
    for (const name of names ?? this.session.outputNames) {
      const value = results[name];
      if (!(value instanceof this.ortApi.Tensor) || Array.isArray(value.data)) {
        throw new VerifyError(`${this.label}: output '${name}' is not a numeric tensor`);
      }
      out[name] = {
        data: (value.data as InputTensor['data']).slice(),
        dims: [...value.dims],
        dtype: value.type,
      };
    }
    for (const value of Object.values(results)) value.dispose();
    return out;
  }

  /** One run; a failure is a VerifyError naming the model. */
  private async runSession(inputs: InputSet): Promise<OrtTypes.InferenceSession.ReturnType> {
    const feeds: Record<string, OrtTypes.Tensor> = {};
    for (const [name, t] of Object.entries(inputs)) {
      // float16 tensors carry their bits in a Uint16Array, which ORT accepts for 'float16'.
      feeds[name] = new this.ortApi.Tensor(
        t.dtype as OrtTypes.Tensor.Type,
        t.data as OrtTypes.Tensor.DataType,
        t.dims,
      );
    }
    try {
      return await this.session.run(feeds);
    } catch (e) {
      throw new VerifyError(`${this.label}: ONNX Runtime failed to run it: ${firstLine(e)}`);
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Any numeric output as float32 (a copy: the ORT buffer is disposed right after). */
function toFloat32(t: OrtTypes.Tensor, name: string, label: string): Float32Array {
  const data = t.data;
  if (data instanceof Float32Array) return new Float32Array(data);
  if (t.type === 'float16' && data instanceof Uint16Array) {
    return Float32Array.from(data, (bits) => halfToFloat(bits));
  }
  if (Array.isArray(data)) {
    throw new VerifyError(`${label}: output '${name}' is ${t.type}; only numeric outputs compare`);
  }
  const n = data.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Number(data[i]);
  return out;
}

/** Runs one model on one input set; outputs by name as float32 + dims. */
export async function runModel(
  model: string | Uint8Array,
  inputs: Record<string, InputTensor>,
): Promise<Record<string, OutputTensor>> {
  const runner = await ModelRunner.create(model);
  try {
    return await runner.run(inputs);
  } finally {
    await runner.release();
  }
}

function describe(model: string | Uint8Array, role: string): string {
  return typeof model === 'string' ? `${role} model ${model}` : `${role} model`;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((n) => sa.has(n));
}

/** Compares the two models' outputs on the same inputs. */
export async function verifyModels(
  original: string | Uint8Array,
  compressed: string | Uint8Array,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const started = performance.now();
  const origLabel = describe(original, 'original');
  const compLabel = describe(compressed, 'compressed');
  // Our loader's messages already name the file, so they only get the role in front.
  const origModel = openModel(original, 'original model');
  const compModel = openModel(compressed, 'compressed model');
  checkInterfaces(origModel, compModel);
  const specs = inputSpecs(origModel, options.inputShapes);
  // The compressed model may take another dtype (a float16 conversion): feed it converted values.
  const compDtypes = new Map(
    inputSpecs(compModel, options.inputShapes).map((s) => [s.name, s.dtype]),
  );

  let sets: InputSet[];
  let labels = options.labels;
  if (options.inputs) {
    if (options.inputs.sets.length === 0) throw new VerifyError('no input sets to verify on');
    sets = options.inputs.sets;
    labels ??= options.inputs.labels;
  } else if (options.inputsDir !== undefined) {
    const folder = readInputsDir(options.inputsDir, specs);
    sets = folder.sets;
    labels ??= folder.labels;
  } else {
    const count = options.samples ?? 8;
    if (!Number.isInteger(count) || count < 1) {
      throw new VerifyError(`samples must be a positive integer, not ${count}`);
    }
    sets = Array.from({ length: count }, (_, sample) =>
      randomInputsFor(specs, { seed: options.seed, sample }),
    );
  }

  const outputs = origModel.model.graph.outputs.map((o) => o.name);
  const withHost = options.hostKernels !== false && hasQuantizationOps(compModel.model.graph);
  const runners = await createAll([
    () => ModelRunner.create(original, origLabel),
    () => ModelRunner.create(compressed, compLabel),
    ...(withHost ? [() => ModelRunner.create(compressed, compLabel, 'host-optimized')] : []),
  ]);
  const [refRunner, testRunner, hostRunner] = runners;
  try {
    const total = new ErrorAccumulator();
    const hostTotal = new ErrorAccumulator();
    const perOutput = outputs.map(() => new ErrorAccumulator());
    let classes = 0;
    const predOriginal: number[] = [];
    const predCompressed: number[] = [];
    const predHost: number[] = [];
    // TOP_K classes per row, only when labels can score them and there are enough classes.
    const top5Original: number[] = [];
    const top5Compressed: number[] = [];
    let top5 = labels !== undefined;
    let kl: KlAccumulator | undefined;
    for (const set of sets) {
      const compSet: InputSet = {};
      for (const [name, t] of Object.entries(set)) {
        compSet[name] = coerceInput(t, compDtypes.get(name) ?? t.dtype);
      }
      const ref = await refRunner.run(set);
      const test = await testRunner.run(compSet);
      outputs.forEach((name, i) => {
        checkSameShape(name, ref[name], test[name]);
        total.add(ref[name].data, test[name].data);
        perOutput[i].add(ref[name].data, test[name].data);
      });
      const first = outputs[0];
      const dims = ref[first].dims;
      classes = Math.max(classes, dims.length === 0 ? 1 : dims[dims.length - 1]);
      predOriginal.push(...argmaxRows(ref[first].data, dims));
      predCompressed.push(...argmaxRows(test[first].data, test[first].dims));
      if (options.klDivergence) {
        kl ??= new KlAccumulator(rowKind(ref[first].data, dims));
        kl.add(ref[first].data, test[first].data, dims);
      }
      if (top5 && (dims.length === 0 ? 1 : dims[dims.length - 1]) < TOP5_MIN_CLASSES) top5 = false;
      if (top5) {
        top5Original.push(...topKRows(ref[first].data, dims, TOP_K));
        top5Compressed.push(...topKRows(test[first].data, test[first].dims, TOP_K));
      }
      if (hostRunner) {
        const host = await hostRunner.run(compSet);
        for (const name of outputs) {
          checkSameShape(name, ref[name], host[name]);
          hostTotal.add(ref[name].data, host[name].data);
        }
        predHost.push(...argmaxRows(host[first].data, host[first].dims));
      }
    }
    const rows = predOriginal.length;
    let labelled: LabelledMetrics | undefined;
    if (labels && labels.length !== rows) {
      throw new VerifyError(
        `${labels.length} labels for ${rows} predictions (one label per row of output '${outputs[0]}')`,
      );
    }
    if (labels) {
      const topK = top5 ? { original: top5Original, compressed: top5Compressed } : undefined;
      labelled = labelledMetrics(labels, predOriginal, predCompressed, classes, topK);
    }
    const result: VerifyResult = {
      sqnrDb: total.sqnrDb,
      maxAbsError: total.maxAbsError,
      cosine: total.cosine,
      top1Agreement: agreement(predOriginal, predCompressed),
      samples: sets.length,
      outputs,
      perOutput: outputs.map((name, i) => ({
        name,
        sqnrDb: perOutput[i].sqnrDb,
        maxAbsError: perOutput[i].maxAbsError,
        cosine: perOutput[i].cosine,
      })),
      inputSource: options.inputs || options.inputsDir !== undefined ? 'folder' : 'random',
      seconds: 0,
      ...(kl ? { klDivergence: kl.mean } : {}),
      ...(labelled ? { labelled } : {}),
    };
    if (hostRunner) {
      const host: HostKernelFigures = {
        sqnrDb: hostTotal.sqnrDb,
        top1Agreement: agreement(predOriginal, predHost),
        ...(labels ? { accuracyCompressed: agreement(labels, predHost) } : {}),
      };
      const warning = hostKernelWarning(result, host);
      result.hostKernels = warning ? { ...host, warning } : host;
    }
    const warning = behaviourWarning(result);
    if (warning) result.warning = warning;
    result.seconds = (performance.now() - started) / 1000;
    return result;
  } finally {
    await Promise.all(runners.map((r) => r.release()));
  }
}

/** Creates every runner, or none: on a failure the ones made are released and it rethrows. */
async function createAll(makers: (() => Promise<ModelRunner>)[]): Promise<ModelRunner[]> {
  const made = await Promise.allSettled(makers.map((m) => m()));
  const failed = made.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (!failed) return made.map((r) => (r as PromiseFulfilledResult<ModelRunner>).value);
  await Promise.all(made.map((r) => (r.status === 'fulfilled' ? r.value.release() : undefined)));
  throw failed.reason;
}

function checkSameShape(name: string, ref: OutputTensor, test: OutputTensor): void {
  if (ref.data.length !== test.data.length || ref.dims.join('x') !== test.dims.join('x')) {
    throw new VerifyError(
      `output '${name}' has shape ${ref.dims.join('x')} in the original model but ${test.dims.join('x')} in the compressed one`,
    );
  }
}

/** Fraction of positions where both lists agree; 1 for empty lists. */
function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length === 0) return 1;
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/**
 * Ops that quantize activations, which is when ORT can fuse a model into integer kernels. A model
 * with quantized weights only (DequantizeLinear of initializers) still computes in float.
 */
const QUANTIZATION_OPS = new Set([
  'QuantizeLinear',
  'DynamicQuantizeLinear',
  'QLinearConv',
  'QLinearMatMul',
  'MatMulInteger',
  'ConvInteger',
]);

function hasQuantizationOps(graph: Graph): boolean {
  return graph.nodes.some(
    (n) =>
      QUANTIZATION_OPS.has(n.opType) ||
      n.attributes.some((a) => [...(a.g ? [a.g] : []), ...a.graphs].some(hasQuantizationOps)),
  );
}

/** The tolerances beyond which the host's kernels are said to change the result. */
export const HOST_TOLERANCE = { sqnrDb: 1, accuracy: 0.005 };

/**
 * Below this top-1 agreement with the original (more than one input in ten answered otherwise)
 * a compressed model is no longer a stand-in for it, whatever its SQNR says.
 */
export const MIN_TOP1_AGREEMENT = 0.9;

/** A labelled top-1 accuracy drop beyond this (5 points) is a warning even at high agreement. */
export const MAX_ACCURACY_DROP = 0.05;

/**
 * The plain-words warning after a compression that changed what the model does: top-1 agreement
 * below MIN_TOP1_AGREEMENT, or labelled accuracy more than MAX_ACCURACY_DROP below the
 * original's. Says what happened, not what to do: the editor offers undo, the CLI a milder
 * setting (summary.ts behaviourWarningText).
 */
export function behaviourWarning(
  r: Pick<VerifyResult, 'top1Agreement' | 'labelled'>,
): string | undefined {
  const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
  const l = r.labelled;
  // Accuracies are rounded fractions: without the slack an exact 5-point drop would warn.
  const drop = l ? l.accuracyOriginal - l.accuracyCompressed : NaN;
  const accuracyFell = drop > MAX_ACCURACY_DROP + 1e-9;
  const disagrees = r.top1Agreement < MIN_TOP1_AGREEMENT;
  const disagreement = `disagrees with the original on ${pct(1 - r.top1Agreement)} of inputs`;
  if (accuracyFell && l) {
    const fell = `the compressed model's top-1 accuracy fell from ${pct(l.accuracyOriginal)} to ${pct(l.accuracyCompressed)} (−${(drop * 100).toFixed(1)} pt)`;
    return disagrees
      ? `${fell} and it ${disagreement} — it no longer behaves like the original`
      : `${fell} — it is markedly worse than the original`;
  }
  if (disagrees)
    return `the compressed model now ${disagreement} — it no longer behaves like the original`;
  return undefined;
}

/**
 * A warning when ORT's optimised kernels on this machine give another result than the graph as
 * written: more than 1 dB of SQNR, or more than half an accuracy point (top-1 agreement without
 * labels). It names the cause and the remedies for deployment on ORT x86.
 */
export function hostKernelWarning(
  asWritten: Pick<VerifyResult, 'sqnrDb' | 'top1Agreement' | 'labelled'>,
  host: HostKernelFigures,
): string | undefined {
  const dbGap = sqnrGap(asWritten.sqnrDb, host.sqnrDb);
  const accuracy = asWritten.labelled?.accuracyCompressed;
  const accGap =
    accuracy !== undefined && host.accuracyCompressed !== undefined
      ? Math.abs(accuracy - host.accuracyCompressed)
      : Math.abs(asWritten.top1Agreement - host.top1Agreement);
  if (!(dbGap > HOST_TOLERANCE.sqnrDb) && !(accGap > HOST_TOLERANCE.accuracy)) return undefined;
  const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
  const figures =
    accuracy !== undefined && host.accuracyCompressed !== undefined
      ? `accuracy ${pct(host.accuracyCompressed)} against ${pct(accuracy)}`
      : `output SQNR ${host.sqnrDb.toFixed(1)} dB against ${asWritten.sqnrDb.toFixed(1)} dB`;
  return (
    `ONNX Runtime's optimised CPU kernels on this machine give ${figures} for the model as written. ` +
    `They fuse QuantizeLinear/DequantizeLinear into u8s8 integer kernels, which saturate on x86 CPUs without VNNI (AVX2); the model itself is right. ` +
    `To deploy on ONNX Runtime x86, quantize with --reduce-range (7-bit weights) or use uint8 weights (u8u8).`
  );
}

/** |a − b| in dB, 0 when both are infinite (identical), Infinity when only one is. */
function sqnrGap(a: number, b: number): number {
  if (a === b) return 0;
  return Math.abs(a - b);
}

function checkInterfaces(original: LoadedModel, compressed: LoadedModel): void {
  const inA = graphInputNames(original);
  const inB = graphInputNames(compressed);
  if (!sameNames(inA, inB)) {
    throw new VerifyError(
      `the models take different inputs: original (${inA.join(', ')}), compressed (${inB.join(', ')})`,
    );
  }
  const outA = original.model.graph.outputs.map((o) => o.name);
  const outB = compressed.model.graph.outputs.map((o) => o.name);
  if (!sameNames(outA, outB)) {
    throw new VerifyError(
      `the models have different outputs: original (${outA.join(', ')}), compressed (${outB.join(', ')})`,
    );
  }
  if (outA.length === 0) throw new VerifyError('the original model declares no outputs');
}
