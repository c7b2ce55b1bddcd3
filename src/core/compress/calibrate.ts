/**
 * Calibration for static activation quantization: runs the model in ONNX Runtime over
 * calibration inputs and records the min and max of each activation quantizeActivations will
 * quantize (activationTargets.ts).
 *
 * ONNX Runtime only returns graph outputs, so the model is run as a copy whose graph also lists
 * the observed tensors as outputs (GraphEdit.addOutput: the nodes and tensors keep their bytes,
 * nothing else changes). Graph inputs are measured from the fed tensors directly. Each sample's
 * outputs are folded into the running min/max and dropped before the next run, so memory stays
 * at one sample's activations whatever the number of samples.
 *
 * Inputs are the verifier's (src/core/verify/inputs.ts): the user's folder of .npy / .pb files,
 * or seeded random tensors. The default seed is 1, not the verifier's 0, so that `verify` after
 * `compress` measures the model on inputs it was not calibrated on.
 */
import { encodeModel } from '../onnx/encode';
import type { LoadedModel } from '../onnx/load';
import { valueInfo } from '../onnx/build';
import { DataType, type Model } from '../onnx/types';
import {
  inputSpecs,
  ModelRunner,
  randomInputsFor,
  readInputsDir,
  VerifyError,
  type InputSet,
  type InputSpec,
  type TensorArray,
} from '../verify';
import { activationTargets } from './activationTargets';
import { GraphEdit, withGraph } from './graphEdit';

export interface TensorRange {
  readonly min: number;
  readonly max: number;
}

export interface ActivationCalibration {
  /** Observed range per tensor; a tensor that only held non-finite values (or none) is absent. */
  readonly ranges: ReadonlyMap<string, TensorRange>;
  readonly samples: number;
  readonly source: 'random' | 'folder';
  /** The random seed, when the inputs were random. */
  readonly seed?: number;
}

export interface CalibrationOptions {
  /** float32 tensors to observe; default the activations quantizeActivations would quantize. */
  tensors?: readonly string[];
  /** Limits the default tensors to those these layers read (as quantizeActivations' `layers`). */
  layers?: readonly string[];
  /** The user's inputs: a folder of .npy / .pb files, or of sample subfolders. */
  inputsDir?: string;
  /**
   * Input sets already read (the calibration part of a split folder, data/split.ts), instead of
   * `inputsDir`; `samples` still takes the first N of them.
   */
  sets?: readonly InputSet[];
  /** Random input sets (default 8); with `inputsDir`, the first N of its samples (default all). */
  samples?: number;
  /** Random inputs' seed, default 1 (see the header). */
  seed?: number;
  /** Whole shapes for inputs; otherwise a symbolic dim becomes 1. */
  inputShapes?: ReadonlyMap<string, readonly number[]>;
  /** Called after each sample. */
  onProgress?: (done: number, total: number) => void;
  /** Checked between samples; an aborted signal throws an error named 'AbortError'. */
  signal?: AbortSignal;
}

export const DEFAULT_CALIBRATION_SAMPLES = 8;
export const DEFAULT_CALIBRATION_SEED = 1;

function abortError(): Error {
  return new DOMException('calibration cancelled', 'AbortError');
}

export async function calibrateActivations(
  loaded: LoadedModel,
  options: CalibrationOptions = {},
): Promise<ActivationCalibration> {
  const { signal } = options;
  if (signal?.aborted) throw abortError();
  const limit = options.samples;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new VerifyError(`calibration samples must be a positive integer, not ${limit}`);
  }
  if (loaded.model.graph.initializers.some((t) => t.external)) {
    // The observing copy is handed to ONNX Runtime as bytes, which cannot resolve side files.
    throw new VerifyError('calibration of a model with external data is not supported yet');
  }
  const tensors =
    options.tensors ??
    activationTargets(loaded.model, options.layers, loaded.external).targets.map((t) => t.name);
  checkObservable(loaded.model, tensors);
  const specs = inputSpecs(loaded, options.inputShapes);
  const fed = new Set(specs.map((s) => s.name));
  const seed = options.seed ?? DEFAULT_CALIBRATION_SEED;
  const sets = calibrationSets(specs, options);

  const observed = tensors.filter((t) => !fed.has(t));
  // Nothing computed to observe (graph inputs only, or nothing at all): no need for the runtime.
  const runner =
    observed.length > 0
      ? await ModelRunner.create(
          encodeModel(observingModel(loaded.model, observed)),
          'calibration model',
        )
      : undefined;
  const folds = new Map<string, RangeFold>(tensors.map((t) => [t, new RangeFold()]));
  try {
    for (let i = 0; i < sets.length; i++) {
      if (signal?.aborted) throw abortError();
      const set = sets[i]();
      for (const name of tensors) {
        if (fed.has(name)) folds.get(name)!.add(set[name].data);
      }
      if (runner) {
        const outputs = await runner.run(set);
        for (const name of observed) folds.get(name)!.add(outputs[name].data);
      }
      options.onProgress?.(i + 1, sets.length);
    }
  } finally {
    await runner?.release();
  }
  const ranges = new Map<string, TensorRange>();
  for (const [name, fold] of folds) {
    const range = fold.range();
    if (range) ranges.set(name, range);
  }
  return {
    ranges,
    samples: sets.length,
    source: options.inputsDir !== undefined || options.sets !== undefined ? 'folder' : 'random',
    ...(options.inputsDir === undefined && options.sets === undefined ? { seed } : {}),
  };
}

/**
 * The user's samples (the first `samples` of them), or `samples` seeded random sets, each made
 * when it is run (a random set is as large as the model's inputs; there is no need to hold all).
 */
export function calibrationSets(
  specs: readonly InputSpec[],
  options: Pick<CalibrationOptions, 'inputsDir' | 'sets' | 'samples' | 'seed'>,
): (() => InputSet)[] {
  const seed = options.seed ?? DEFAULT_CALIBRATION_SEED;
  if (options.sets !== undefined) {
    return options.sets.slice(0, options.samples).map((set) => () => set);
  }
  if (options.inputsDir !== undefined) {
    const sets = readInputsDir(options.inputsDir, specs).sets.slice(0, options.samples);
    return sets.map((set) => () => set);
  }
  const count = options.samples ?? DEFAULT_CALIBRATION_SAMPLES;
  return Array.from(
    { length: count },
    (_, sample) => () => randomInputsFor(specs, { seed, sample }),
  );
}

/** An unknown name would only surface as ONNX Runtime failing to load the observing copy. */
function checkObservable(model: Model, tensors: readonly string[]): void {
  const known = new Set([
    ...model.graph.inputs.map((i) => i.name),
    ...model.graph.nodes.flatMap((n) => n.outputs),
  ]);
  const unknown = tensors.find((t) => !known.has(t));
  if (unknown !== undefined) {
    throw new VerifyError(`calibration: no graph input or node output is named '${unknown}'`);
  }
}

/**
 * A copy of the model that also outputs `tensors` (float32; the shape is left to the runtime).
 * Tensors already among the outputs are not listed twice.
 */
export function observingModel(model: Model, tensors: readonly string[]): Model {
  const outputs = new Set(model.graph.outputs.map((o) => o.name));
  const edit = new GraphEdit(model.graph);
  for (const name of tensors) {
    if (outputs.has(name)) continue;
    outputs.add(name);
    edit.addOutput(valueInfo(name, DataType.FLOAT));
  }
  return withGraph(model, edit.build());
}

/** Running min and max of finite values (NaN and ±Infinity would make every scale useless). */
class RangeFold {
  private min = Infinity;
  private max = -Infinity;

  add(data: TensorArray | Float32Array): void {
    let lo = this.min;
    let hi = this.max;
    for (let i = 0; i < data.length; i++) {
      const v = Number(data[i]);
      if (v < lo && v !== -Infinity) lo = v;
      if (v > hi && v !== Infinity) hi = v;
    }
    this.min = lo;
    this.max = hi;
  }

  range(): TensorRange | undefined {
    return this.min <= this.max ? { min: this.min, max: this.max } : undefined;
  }
}
