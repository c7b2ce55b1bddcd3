/**
 * A seeded split of a data folder's samples into a calibration part and an evaluation part
 * that never share a sample: a quantizer calibrated on the samples it is then scored on looks
 * better than it is. The same count, seed and labels give the same split on every machine.
 *
 * With labels (one per sample) the split is stratified: each class gives the calibration part
 * its share of `calibration` (largest remainders first, ties to the smaller class id), so a
 * small calibration set still sees every class in proportion.
 */
import type { FolderInputs } from '../verify/inputs';
import { seededRandom } from '../verify/inputs';
import { VerifyError } from '../verify/npy';

export interface SplitOptions {
  /** How many samples go to calibration: a count, or a fraction of all when below 1. */
  readonly calibration: number;
  /** Default 0. */
  readonly seed?: number;
  /** One class id per sample: stratify by class. */
  readonly labels?: readonly number[];
}

export interface SampleSplit {
  /** Sample indices, ascending. */
  readonly calibration: number[];
  /** The other sample indices, ascending. */
  readonly evaluation: number[];
}

/** A random stream of its own, so a split never shifts the random inputs' sequences. */
const SPLIT_STREAM = 0x5eed;

export function splitSamples(count: number, options: SplitOptions): SampleSplit {
  if (!Number.isInteger(count) || count < 0) {
    throw new VerifyError(`cannot split ${count} samples`);
  }
  const wanted =
    options.calibration > 0 && options.calibration < 1
      ? Math.round(options.calibration * count)
      : options.calibration;
  if (!Number.isInteger(wanted) || wanted < 0 || wanted > count) {
    throw new VerifyError(
      `calibration part of ${options.calibration}: give a count from 0 to ${count} (the samples) or a fraction below 1`,
    );
  }
  const { labels } = options;
  if (labels && labels.length !== count) {
    throw new VerifyError(
      `${labels.length} labels for ${count} samples: cannot stratify the split`,
    );
  }
  const rand = seededRandom(options.seed ?? 0, SPLIT_STREAM);
  const classes = new Map<number, number[]>();
  for (let i = 0; i < count; i++) {
    const c = labels ? labels[i] : 0;
    let members = classes.get(c);
    if (!members) classes.set(c, (members = []));
    members.push(i);
  }
  const ids = [...classes.keys()].sort((a, b) => a - b);
  const quota = new Map(ids.map((c) => [c, Math.floor((wanted * classes.get(c)!.length) / count)]));
  let left = wanted - [...quota.values()].reduce((a, b) => a + b, 0);
  const byRemainder = [...ids].sort((a, b) => {
    const rest = (c: number): number => (wanted * classes.get(c)!.length) % count;
    return rest(b) - rest(a) || a - b;
  });
  for (const c of byRemainder) {
    if (left === 0) break;
    quota.set(c, quota.get(c)! + 1);
    left--;
  }
  const calibration: number[] = [];
  for (const c of ids) {
    const members = shuffled(classes.get(c)!, rand);
    calibration.push(...members.slice(0, quota.get(c)));
  }
  calibration.sort((a, b) => a - b);
  const chosen = new Set(calibration);
  const evaluation = Array.from({ length: count }, (_, i) => i).filter((i) => !chosen.has(i));
  return { calibration, evaluation };
}

/** Fisher–Yates on a copy. */
function shuffled(items: readonly number[], rand: () => number): number[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * A folder's samples split as splitSamples does, stratified by its labels when it has one per
 * sample (an image folder; a tensor folder with one row per sample). Labels of a folder whose
 * samples hold several rows each cannot follow the split, and the split refuses it.
 */
export function splitFolderInputs(
  folder: FolderInputs,
  options: Omit<SplitOptions, 'labels'>,
): { calibration: FolderInputs; evaluation: FolderInputs; split: SampleSplit } {
  const count = folder.sets.length;
  if (folder.labels && folder.labels.length !== count) {
    throw new VerifyError(
      `${folder.labels.length} labels for ${count} samples: a folder whose samples hold several rows each cannot be split`,
    );
  }
  const split = splitSamples(count, { ...options, labels: folder.labels });
  const part = (indices: number[]): FolderInputs => ({
    sets: indices.map((i) => folder.sets[i]),
    sampleNames: indices.map((i) => folder.sampleNames[i]),
    ...(folder.labels ? { labels: indices.map((i) => folder.labels![i]) } : {}),
    ...(folder.notes ? { notes: folder.notes } : {}),
  });
  return { calibration: part(split.calibration), evaluation: part(split.evaluation), split };
}
