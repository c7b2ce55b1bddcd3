/**
 * `model-lens compress IN -o OUT …`: folds BatchNorm, prunes filters, prunes weights (a sparsity,
 * or N:M), quantizes weights, corrects the biases for the weights' rounding, and quantizes
 * activations, in that order (each step sees the previous one's model; the activations are
 * calibrated on the model with its weights already quantized and biases corrected, so their
 * ranges are the ones the final model produces), then writes OUT atomically. Every figure in the
 * summary comes from the engine's change summaries.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { foldBatchNorm } from '../core/compress/foldBatchNorm';
import { pruneFilters } from '../core/compress/pruneStructured';
import { pruneUnstructured } from '../core/compress/pruneUnstructured';
import { pruneSemiStructured, type NmPruneResult } from '../core/compress/pruneSemiStructured';
import { checkStoredNm, storedNmNote } from '../core/compress/nmPatternCheck';
import { quantizeWeights, type QuantizeOptions } from '../core/compress/quantize';
import { convertFloat } from '../core/compress/convertFloat';
import { withHalfWeightsLifted } from '../core/compress/halfWeights';
import { calibrateActivations } from '../core/compress/calibrate';
import { quantizeCalibrated } from '../core/calibrated/calibratedQuantize';
import { pruneCalibrated } from '../core/calibrated/calibratedPrune';
import { pruneFiltersCalibrated } from '../core/calibrated/filterPruning';
import {
  quantizeActivations,
  type ActivationPrecision,
} from '../core/compress/quantizeActivations';
import { biasCorrect } from '../core/compress/biasCorrection';
import { retrainingPlan } from '../core/compress/retrainingPlan';
import { writePlanFiles } from '../core/compress/planScript';
import { CompressionRefusal, type ChangeSummary } from '../core/compress/summary';
import { inputsDirNotes, inputSpecs, VerifyError, type InputSet } from '../core/verify';
import { formatBytes, formatCount } from '../core/format';
import { loadModelFile, saveModelFile, type LoadedModel } from '../core/onnx/load';
import { isTfliteFile } from '../core/modelFile';
import { encodeModel } from '../core/onnx/encode';
import {
  externalDataBytes,
  hasExternalData,
  inlineExternalData,
  PROTOBUF_LIMIT_BYTES,
  writeWithSideFile,
} from '../core/onnx/relocate';
import type { Model } from '../core/onnx/types';
import { UsageError, type CompressRequest } from './args';
import { BUILTIN_DEVICES, findDevice, type DeviceProfile } from '../core/devices';
import { budgetDevice } from '../core/advisor/effectPlan';
import { effectData, type EffectData } from '../core/advisor/effectRun';
import { behaviourWarningText } from '../core/verify/summary';
import { calibrationSets } from '../core/compress/calibrate';
import {
  fittedWidths,
  measuredPrune,
  suggestedWidths,
  verifyPlans,
  type PlanSession,
} from './planSteps';

const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);

/** The calibration inputs of a step's options, read once (for --quantize suggested's GPTQ). */
function calibrationInputs(
  loaded: LoadedModel,
  calibration: Parameters<typeof calibrationSets>[1] & {
    inputShapes?: ReadonlyMap<string, readonly number[]>;
  },
): InputSet[] {
  return calibrationSets(inputSpecs(loaded, calibration.inputShapes), calibration).map((make) =>
    make(),
  );
}

/**
 * int8 | uint8 | int4 | uint4 | <k>bit (k from 2 to 8, signed) | pow2 | pow2-<N>bit (N from 3 to 8)
 * | ternary | binary.
 */
export function quantizeSpec(text: string): Pick<QuantizeOptions, 'bits' | 'signed' | 'grid'> {
  const named: Record<string, Pick<QuantizeOptions, 'bits' | 'signed' | 'grid'>> = {
    int8: { bits: 8, signed: true },
    uint8: { bits: 8, signed: false },
    int4: { bits: 4, signed: true },
    uint4: { bits: 4, signed: false },
    pow2: { bits: 8, signed: true, grid: 'pow2' },
    ternary: { bits: 2, signed: true, grid: 'ternary' },
    binary: { bits: 2, signed: true, grid: 'binary' },
  };
  const k = /^(\d)bit$/.exec(text);
  const p = /^pow2-(\d)bit$/.exec(text);
  const spec =
    named[text] ??
    (k ? { bits: Number(k[1]), signed: true } : undefined) ??
    (p ? { bits: Number(p[1]), signed: true, grid: 'pow2' as const } : undefined);
  if (!spec || spec.bits < (spec.grid === 'pow2' ? 3 : 2) || spec.bits > 8) {
    throw new UsageError(
      `--quantize expects int8, uint8, int4, uint4, 2bit … 8bit, pow2, pow2-3bit … pow2-8bit, ternary or binary, got '${text}'`,
    );
  }
  return spec;
}

/**
 * Writes the compressed model. A model that keeps weights in side files stays that way next to
 * the original (the untouched side files are shared, as before); written anywhere else it
 * becomes self-contained when it fits in one protobuf, else it gets one side file of its own.
 * Returns a note on what was done with the external data, if any.
 */
function writeCompressed(model: Model, loaded: LoadedModel, output: string): string | undefined {
  const sameFolder =
    loaded.path !== undefined && path.dirname(path.resolve(output)) === path.dirname(loaded.path);
  if (sameFolder || !hasExternalData(model)) {
    saveModelFile(model, output);
    return undefined;
  }
  const external = externalDataBytes(model, loaded.external);
  // The model's own bytes (structure and inline payloads) plus what moves in.
  if (external + encodeModel(model).length < PROTOBUF_LIMIT_BYTES) {
    saveModelFile(inlineExternalData(model, loaded.external), output);
    return `external data (${formatBytes(external)}) written into the model: it is self-contained`;
  }
  writeWithSideFile(model, loaded.external, output);
  return `external data (${formatBytes(external)}) written to ${path.basename(output)}.data next to it`;
}

/** The verifier's messages ("x.npy: …", "ONNX Runtime failed …") say what, not when. */
function calibrationContext(e: unknown): never {
  if (e instanceof VerifyError && !e.message.startsWith('calibration')) {
    throw new VerifyError(`calibration: ${e.message}`);
  }
  throw e;
}

/** What compress takes besides the request: device profiles and the analyzer's error target. */
export interface CompressContext {
  /** Built-ins plus --devices FILE, for --fit DEVICE. */
  readonly profiles?: readonly DeviceProfile[];
  /** --error-target, for --quantize suggested. */
  readonly errorTargetDb?: number;
}

export async function compressCommand(
  input: string,
  request: CompressRequest,
  json: boolean,
  context: CompressContext = {},
): Promise<number> {
  if (isTfliteFile(input)) {
    throw new UsageError(
      `${path.basename(input)} is a TensorFlow Lite model: compression is ONNX-only for now`,
    );
  }
  const planFolder = request.exportPlan && path.dirname(path.resolve(request.exportPlan));
  if (planFolder && !fs.existsSync(planFolder)) {
    throw new UsageError(`--export-plan: folder ${planFolder} does not exist`);
  }
  const loaded = loadModelFile(input);
  const ext = loaded.external;
  if (request.calibrationDir !== undefined) {
    // What reading an image folder assumed, on stderr (the summary goes to stdout).
    try {
      const specs = inputSpecs(loaded, request.inputShapes);
      for (const note of inputsDirNotes(request.calibrationDir, specs)) {
        process.stderr.write(`model-lens: calibration: ${request.calibrationDir}: ${note}\n`);
      }
    } catch (e) {
      calibrationContext(e);
    }
  }
  const layers = request.layers;
  // A plan (--fit…, measured --prune) is chosen on the calibration part and judged on the
  // evaluation part: every step then calibrates on that part only (advisor/effectRun.ts).
  const fitDevice =
    request.fitDevice !== undefined
      ? findDevice(request.fitDevice, context.profiles ?? BUILTIN_DEVICES)
      : request.fitWeightBytes !== undefined
        ? budgetDevice(request.fitWeightBytes)
        : undefined;
  const planned = fitDevice !== undefined || request.pruneAllocation === 'measured';
  let session: PlanSession | undefined;
  if (planned) {
    let data: EffectData;
    try {
      data = effectData(loaded, {
        calibrationDir: request.calibrationDir,
        evaluationDir: request.evaluationDir,
        calibrationSamples: request.calibrationSamples,
        inputShapes: request.inputShapes,
      });
    } catch (e) {
      calibrationContext(e);
    }
    session = {
      original: loaded,
      data,
      rounding: request.rounding === 'gptq' ? 'gptq' : 'nearest',
      inputShapes: request.inputShapes,
      layers,
      reports: [],
    };
  }
  type Step = (m: Model) => { model: Model; summary: ChangeSummary };
  const steps: ((m: Model) => ReturnType<Step> | Promise<ReturnType<Step>>)[] = [];
  if (request.foldBn)
    steps.push((m) => withHalfWeightsLifted(m, ext, (l) => foldBatchNorm(l, { layers }, ext)));
  // With --calibration, pruning is chosen on the data (src/core/calibrated/); else by magnitude.
  const calibration =
    session?.data.fromFolder === true
      ? { sets: session.data.calibration, inputShapes: request.inputShapes }
      : request.calibrationDir
        ? {
            inputsDir: request.calibrationDir,
            samples: request.calibrationSamples,
            inputShapes: request.inputShapes,
          }
        : undefined;
  const current = (m: Model): LoadedModel => ({ model: m, external: ext, fileBytes: 0 });
  if (request.structured !== undefined) {
    const fraction = request.structured;
    steps.push((m) =>
      calibration
        ? pruneFiltersCalibrated(current(m), { fraction, layers }, calibration).catch(
            calibrationContext,
          )
        : pruneFilters(m, { fraction, layers }, ext),
    );
  }
  if (request.prune !== undefined) {
    const sparsity = request.prune;
    steps.push((m) =>
      session && request.pruneAllocation === 'measured'
        ? measuredPrune(current(m), sparsity, session).catch(calibrationContext)
        : calibration
          ? pruneCalibrated(current(m), { pattern: sparsity, layers }, calibration).catch(
              calibrationContext,
            )
          : pruneUnstructured(m, { sparsity, scope: 'layer', layers }, ext),
    );
  }
  // The N:M layers, by first output (kept by later steps), to check the pattern again at the end.
  let nmOutputs: Set<string> | undefined;
  if (request.pruneNm) {
    const pattern = request.pruneNm;
    steps.push(async (m) => {
      const r = calibration
        ? ((await pruneCalibrated(current(m), { pattern, layers }, calibration).catch(
            calibrationContext,
          )) as NmPruneResult)
        : pruneSemiStructured(m, { pattern, layers }, ext);
      nmOutputs = new Set(r.prunedOutputs);
      return r;
    });
  }
  const nmStep = steps.length;
  if (fitDevice && session) {
    const s = session;
    steps.push((m) => fittedWidths(current(m), fitDevice, s).catch(calibrationContext));
  } else if (request.quantize === 'suggested') {
    steps.push((m) =>
      suggestedWidths(current(m), context.errorTargetDb, {
        rounding: request.rounding === 'gptq' ? 'gptq' : 'nearest',
        layers,
        inputShapes: request.inputShapes,
        calibration: calibration ? calibrationInputs(loaded, calibration) : undefined,
      }).catch(calibrationContext),
    );
  } else if (request.quantize === 'fp16' || request.quantize === 'bf16') {
    const format = request.quantize;
    if (layers)
      throw new UsageError(`--quantize ${format} converts the whole model; drop --layers`);
    steps.push((m) => convertFloat(m, { format }, ext));
  } else if (request.quantize) {
    const spec = quantizeSpec(request.quantize);
    // The model the weight step started from, for bias correction.
    let unquantized: Model | undefined;
    // Reduced range: 7 bits in 8-bit storage, so that x86 u8s8 kernels without VNNI (16-bit
    // pairwise sums of u8·s8 products) cannot saturate: 2·255·63 < 2^15.
    const bits = request.reduceRange ? 7 : spec.bits;
    steps.push(async (m) => {
      // pow2/ternary/binary grids are per output channel by definition (TWN, XNOR-Net).
      const perChannel = spec.grid ? true : request.perChannel;
      const options = { ...spec, bits, perChannel, layers };
      const r =
        request.rounding === 'gptq'
          ? await quantizeCalibrated(current(m), options, calibration!).catch(calibrationContext)
          : quantizeWeights(m, options, ext);
      if (request.reduceRange) {
        r.summary.notes.push(
          "reduced range: ONNX Runtime's u8s8 kernels on x86 without VNNI cannot saturate",
        );
      }
      unquantized = m;
      return r;
    });
    if (request.biasCorrection && calibration) {
      // Input means are measured on the model as it was before its weights were rounded.
      steps.push((m) =>
        biasCorrect(current(m), current(unquantized!), calibration).catch(calibrationContext),
      );
    }
  }
  if (request.activations) {
    const mode = request.activations;
    const rangeMethod =
      request.rangeMethod ?? (request.calibrationDir !== undefined ? 'mse' : 'minmax');
    const precision = new Map<string, ActivationPrecision>([
      ...(request.keepFloatActivations ?? []).map((n) => [n, 'float'] as const),
      ...(request.int16Activations ?? []).map((n) => [n, 16] as const),
    ]);
    steps.push(async (m) => {
      const calibration = await calibrateActivations(
        { model: m, external: ext, fileBytes: 0 },
        {
          layers,
          inputsDir: request.calibrationDir,
          samples: request.calibrationSamples,
          inputShapes: request.inputShapes,
          histograms: rangeMethod !== 'minmax',
        },
      ).catch(calibrationContext);
      return quantizeActivations(
        m,
        calibration,
        { mode, layers, rangeMethod, percentile: request.percentile, precision },
        ext,
      );
    });
  }
  let model = loaded.model;
  const summaries: ChangeSummary[] = [];
  for (const step of steps) {
    const result = await step(model);
    model = result.model;
    summaries.push(result.summary);
  }
  if (request.pruneNm && nmOutputs && steps.length > nmStep) {
    // Quantization (or float conversion) rewrote the pruned weights: check what will be written.
    const check = checkStoredNm(model, ext, nmOutputs, request.pruneNm);
    const last = summaries[summaries.length - 1];
    const note = storedNmNote(check, request.pruneNm, ` after ${last.operation}`);
    if (check.failures.length > 0) throw new CompressionRefusal(note);
    last.notes.push(note);
  }
  const written = writeCompressed(model, loaded, request.output);
  if (written) summaries[summaries.length - 1]?.notes.push(written);
  // The measured plans, judged by a real run of the written model against the original.
  const check =
    session && session.reports.length > 0 ? await verifyPlans(session, model) : undefined;
  // The plan is read from the written model, compared with the input for removed filters.
  const plan = request.exportPlan
    ? {
        json: request.exportPlan,
        script: writePlanFiles(retrainingPlan(model, ext, loaded.model), request.exportPlan),
      }
    : undefined;
  if (json) {
    const planFiles = plan
      ? { plan: path.resolve(plan.json), planScript: path.resolve(plan.script) }
      : {};
    const plans = session?.reports.length
      ? { plans: session.reports.map((r) => r.json), verification: check?.json }
      : {};
    process.stdout.write(
      `${JSON.stringify({ output: path.resolve(request.output), steps: summaries, ...planFiles, ...plans })}\n`,
    );
    return 0;
  }
  for (const r of session?.reports ?? []) process.stdout.write(`${r.lines.join('\n')}\n`);
  for (const s of summaries) {
    process.stdout.write(
      `${s.operation}: weights ${formatBytes(s.bytesBefore)} → ${formatBytes(s.bytesAfter)}, MACs ${formatCount(s.macsBefore)} → ${formatCount(s.macsAfter)}, ${s.layersTouched.length} layers\n`,
    );
    for (const note of s.notes) process.stdout.write(`  · ${note}\n`);
  }
  process.stdout.write(`wrote ${request.output}\n`);
  if (plan) process.stdout.write(`wrote retraining plan ${plan.json} and ${plan.script}\n`);
  if (check) {
    process.stdout.write(`${check.lines.join('\n')}\n`);
    const warning = behaviourWarningText(check.evaluation, 'cli');
    if (warning) process.stderr.write(`model-lens: ${lowerFirst(warning)}\n`);
  }
  return 0;
}
