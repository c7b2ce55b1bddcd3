/**
 * The calibration and evaluation parts of a data folder, for a plan that is chosen on data and
 * then judged on data (advisor/effectPlan.ts): chosen and judged on the same samples, a plan
 * looks better than it is.
 *
 * - Two folders given: the first calibrates, the second evaluates.
 * - One folder of at least MIN_SPLIT_SAMPLES samples: a seeded split (split.ts, stratified by
 *   label), the calibration part min(half, MAX_CALIBRATION_PART). The calibration part only
 *   needs enough samples for the layers' input statistics and a few dozen for measuring effects;
 *   every further sample is worth more in the evaluation part, where it narrows the accuracy's
 *   error bar.
 * - A smaller folder: all of it for both, and the note says so. Below MIN_SPLIT_SAMPLES an
 *   evaluation half would be too small to judge a one-point accuracy change (100 samples at 90%
 *   accuracy: ±3 points standard error), so the split would buy nothing but fewer samples to
 *   calibrate on.
 *
 * A folder whose samples each hold a batch (one .npy of [1000, 1, 28, 28] for a model input
 * [N, 1, 28, 28]) is first cut into one sample per row (unbatchFolder), so that it can be split
 * and so that its labels (one per row) follow the rows.
 */
import type { FolderInputs, InputSet, InputSpec, TensorArray } from '../verify/inputs';
import { readInputsDir } from '../verify/inputs';
import { VerifyError } from '../verify/npy';
import { splitFolderInputs } from './split';

export const MIN_SPLIT_SAMPLES = 200;
export const MAX_CALIBRATION_PART = 256;

export interface DataParts {
  readonly calibration: FolderInputs;
  readonly evaluation: FolderInputs;
  /** No sample is in both parts. */
  readonly disjoint: boolean;
  /** Where each part comes from, one sentence for the user. */
  readonly note: string;
}

export interface DataPartOptions {
  /** A folder of its own for the evaluation part. */
  readonly evaluationDir?: string;
  /** The split's seed (default 0). */
  readonly seed?: number;
}

export function readDataParts(
  calibrationDir: string,
  specs: readonly InputSpec[],
  options: DataPartOptions = {},
): DataParts {
  const all = unbatchFolder(readInputsDir(calibrationDir, specs), specs);
  const count = all.sets.length;
  if (options.evaluationDir !== undefined) {
    const evaluation = unbatchFolder(readInputsDir(options.evaluationDir, specs), specs);
    return {
      calibration: all,
      evaluation,
      disjoint: true,
      note: `calibration: ${calibrationDir} (${samplesText(count)}); evaluation: ${options.evaluationDir} (${samplesText(evaluation.sets.length)})`,
    };
  }
  if (count >= MIN_SPLIT_SAMPLES) {
    const wanted = Math.min(Math.floor(count / 2), MAX_CALIBRATION_PART);
    try {
      const { calibration, evaluation } = splitFolderInputs(all, {
        calibration: wanted,
        seed: options.seed,
      });
      return {
        calibration,
        evaluation,
        disjoint: true,
        note: `${calibrationDir}: ${samplesText(count)} split (seed ${options.seed ?? 0}${all.labels ? ', stratified by label' : ''}) into ${calibration.sets.length} for calibration and ${evaluation.sets.length} for evaluation`,
      };
    } catch (e) {
      if (!(e instanceof VerifyError)) throw e;
      return whole(all, calibrationDir, `it cannot be split (${e.message})`);
    }
  }
  return whole(
    all,
    calibrationDir,
    `too few to split (fewer than ${MIN_SPLIT_SAMPLES}); the verification is optimistic: give a separate evaluation folder to judge the plan on unseen samples`,
  );
}

function whole(all: FolderInputs, dir: string, why: string): DataParts {
  return {
    calibration: all,
    evaluation: all,
    disjoint: false,
    note: `${dir}: all ${samplesText(all.sets.length)} used for both calibration and evaluation: ${why}`,
  };
}

function samplesText(n: number): string {
  return `${n.toLocaleString('en-US')} sample${n === 1 ? '' : 's'}`;
}

/**
 * One sample per row when every sample's inputs hold a batch along a dimension the model leaves
 * symbolic (axis 0 of every input, the same size across a sample's inputs); the folder as it is
 * otherwise. Labels are one per row of the first output already, so they stay as they are.
 */
export function unbatchFolder(folder: FolderInputs, specs: readonly InputSpec[]): FolderInputs {
  const symbolicBatch = specs.every(
    (s) => s.declared !== undefined && s.declared.length > 0 && typeof s.declared[0] !== 'number',
  );
  if (!symbolicBatch || specs.length === 0) return folder;
  const batches = folder.sets.map((set) => {
    const sizes = new Set(Object.values(set).map((t) => t.dims[0]));
    return sizes.size === 1 ? [...sizes][0] : undefined;
  });
  if (batches.some((b) => b === undefined) || batches.every((b) => b === 1)) return folder;
  const sets: InputSet[] = [];
  const sampleNames: string[] = [];
  folder.sets.forEach((set, i) => {
    const rows = batches[i]!;
    for (let r = 0; r < rows; r++) {
      const one: InputSet = {};
      for (const [name, t] of Object.entries(set)) {
        const size = t.data.length / rows;
        one[name] = {
          data: t.data.slice(r * size, (r + 1) * size) as TensorArray,
          dims: [1, ...t.dims.slice(1)],
          dtype: t.dtype,
        };
      }
      sets.push(one);
      sampleNames.push(rows === 1 ? folder.sampleNames[i] : `${folder.sampleNames[i]}[${r}]`);
    }
  });
  return {
    sets,
    sampleNames,
    ...(folder.labels ? { labels: folder.labels } : {}),
    ...(folder.notes ? { notes: folder.notes } : {}),
  };
}
