/**
 * The data a compression quick fix runs on when `modelLens.dataFolder` is set: the folder's
 * samples split, seeded and stratified by class (src/core/data/split.ts), into a calibration part
 * that the calibrated engines (GPTQ, SparseGPT, calibrated filter pruning) fit the weights to and
 * an evaluation part the verification scores the fix on. A fix scored on the samples it was fitted
 * to looks better than it is, so the two parts never share a sample, unless the folder is too
 * small to spare any: then both are the whole folder, and the report says so.
 *
 * The split is a function of the folder and the model's inputs only, so the verification, a
 * separate request, finds the same evaluation part by splitting again instead of the server
 * holding every sample in memory between the two requests.
 */
import * as path from 'node:path';
import { splitFolderInputs } from '../core/data/split';
import type { LoadedModel } from '../core/onnx/load';
import {
  inputSpecs,
  readInputsDir,
  VerifyError,
  type FolderInputs,
  type InputSet,
  type InputSpec,
  type InputTensor,
} from '../core/verify';

/**
 * Below this many samples the folder is not split. An evaluation part of a few dozen samples
 * can't tell a 1-point accuracy change from chance (McNemar's test needs the disagreements), and
 * taking a calibration part out of it would leave even fewer; so a small folder calibrates and
 * verifies on all of its samples, and says the figures are optimistic.
 */
export const MIN_SAMPLES_TO_SPLIT = 100;

/**
 * The calibration part: a quarter of the folder, at most 128 samples. GPTQ and SparseGPT
 * calibrate on 128 samples in their papers; each sample of a conv gives a row per output pixel,
 * so more mostly costs time (one ONNX Runtime run and one im2col per sample), while every sample
 * left to the evaluation part narrows its accuracy figure.
 */
export const MAX_CALIBRATION_SAMPLES = 128;
const CALIBRATION_SHARE = 0.25;

/** The split's seed: the same folder always splits the same way (the CLI's default too). */
const SPLIT_SEED = 0;

/** The folder's samples do not fit the model (the message names the file) or can't be read. */
export class DataFolderError extends Error {
  constructor(
    message: string,
    readonly folder: string,
  ) {
    super(message);
    this.name = 'DataFolderError';
  }
}

export interface DataParts {
  readonly folder: string;
  readonly calibration: FolderInputs;
  readonly evaluation: FolderInputs;
  /** False when both parts are the whole folder (too few samples, or labels per row). */
  readonly split: boolean;
  readonly total: number;
  /** Why the folder was not split, as a clause ("fewer than 100 samples"). */
  readonly unsplitReason?: string;
}

/** How many of `total` samples calibrate a fix (the rest verify it). */
export function calibrationCount(total: number): number {
  return Math.min(MAX_CALIBRATION_SAMPLES, Math.round(total * CALIBRATION_SHARE));
}

/**
 * Reads the folder for the model's inputs and splits it. Throws DataFolderError when a sample
 * does not fit the model (shape, channels, a mix of image sizes) or can't be read.
 */
export function dataParts(
  loaded: LoadedModel,
  folder: string,
  inputShapes?: ReadonlyMap<string, readonly number[]>,
): DataParts {
  const specs = inputSpecs(loaded, inputShapes);
  let read: FolderInputs;
  try {
    read = readInputsDir(folder, specs);
  } catch (e) {
    if (e instanceof VerifyError) throw new DataFolderError(e.message, folder);
    throw e;
  }
  const all = samplesByRow(read, specs) ?? read;
  const total = all.sets.length;
  const whole = (unsplitReason: string): DataParts => ({
    folder,
    calibration: all,
    evaluation: all,
    split: false,
    total,
    unsplitReason,
  });
  if (total < MIN_SAMPLES_TO_SPLIT) {
    return whole(`fewer than ${MIN_SAMPLES_TO_SPLIT} samples`);
  }
  // Labels per row of samples whose rows can't run alone can't follow a split of the samples.
  if (all.labels && all.labels.length !== total) {
    return whole(`it has ${all.labels.length} labels for ${total} samples`);
  }
  const { calibration, evaluation } = splitFolderInputs(all, {
    calibration: calibrationCount(total),
    seed: SPLIT_SEED,
  });
  return { folder, calibration, evaluation, split: true, total };
}

/**
 * The rows of batched samples as samples of their own (views, not copies), when the labels are
 * one per row: a single `input.npy` of [1000, 1, 28, 28] with 1,000 labels is 1,000 samples to
 * split, not one. Only for inputs whose batch dimension is symbolic (so a row runs alone) and
 * rows the inputs agree on; otherwise undefined, and the samples stay as read.
 */
function samplesByRow(folder: FolderInputs, specs: readonly InputSpec[]): FolderInputs | undefined {
  const labels = folder.labels;
  if (!labels || labels.length === folder.sets.length) return undefined;
  if (specs.some((s) => !s.declared?.length || typeof s.declared[0] === 'number')) {
    return undefined;
  }
  const rowsOf = folder.sets.map((set) => {
    const rows = specs.map((s) => set[s.name]?.dims[0]);
    return rows.every((r) => r !== undefined && r > 0 && r === rows[0]) ? rows[0]! : 0;
  });
  if (rowsOf.includes(0) || rowsOf.reduce((a, b) => a + b, 0) !== labels.length) {
    return undefined;
  }
  const sets: InputSet[] = [];
  const sampleNames: string[] = [];
  folder.sets.forEach((set, i) => {
    for (let r = 0; r < rowsOf[i]; r++) {
      sets.push(Object.fromEntries(Object.entries(set).map(([name, t]) => [name, rowOf(t, r)])));
      sampleNames.push(`${folder.sampleNames[i]}, row ${r}`);
    }
  });
  return { sets, sampleNames, labels, ...(folder.notes ? { notes: folder.notes } : {}) };
}

function rowOf(t: InputTensor, r: number): InputTensor {
  const size = t.data.length / t.dims[0];
  return {
    data: t.data.subarray(r * size, (r + 1) * size),
    dims: [1, ...t.dims.slice(1)],
    dtype: t.dtype,
  };
}

/** "128 calibration samples of val (verified on the other 872)", for the notification. */
export function calibrationText(parts: DataParts): string {
  const name = path.basename(parts.folder);
  const n = (count: number): string => count.toLocaleString('en-US');
  return parts.split
    ? `${n(parts.calibration.sets.length)} calibration samples of ${name} (verified on the other ${n(parts.evaluation.sets.length)})`
    : `all ${n(parts.total)} samples of ${name} (not split, ${parts.unsplitReason}: verified on the same samples)`;
}

/** What the full report says about the samples the verification ran on. */
export function evaluationNote(parts: DataParts): string {
  const n = (count: number): string => count.toLocaleString('en-US');
  return parts.split
    ? `Verified on the evaluation part of ${parts.folder}: ${n(parts.evaluation.sets.length)} of its ${n(parts.total)} samples. The other ${n(parts.calibration.sets.length)} calibrated the fix (seeded split, stratified by class), so none of these figures comes from a sample the fix was fitted to.`
    : `Verified on all ${n(parts.total)} samples of ${parts.folder}, which also calibrated the fix: the folder is not split (${parts.unsplitReason}), so these figures are optimistic. Add samples (${MIN_SAMPLES_TO_SPLIT} or more) to verify on samples the fix never saw.`;
}
