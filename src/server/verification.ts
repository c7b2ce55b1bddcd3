/**
 * The verification a quick fix shows: both model states run in ONNX Runtime on the same seeded
 * random inputs (the verifier's defaults, as `model-lens verify` uses), or on the samples of
 * `modelLens.dataFolder` when set, summarised in the lead sentence every verification starts
 * with, a warning when the model no longer behaves like the original, and reported in full on
 * demand.
 */
import type { LoadedModel } from '../core/onnx/load';
import { encodeModel } from '../core/onnx/encode';
import { externalDataBytes, inlineExternalData, PROTOBUF_LIMIT_BYTES } from '../core/onnx/relocate';
import { verifyModels, type InputSet } from '../core/verify';
import {
  behaviourWarningText,
  sampleSource,
  verificationLead,
  verificationRows,
} from '../core/verify/summary';
import type { VerifyFixResult } from '../shared/protocol';

/** As `model-lens verify` by default. */
const SAMPLES = 8;

export async function verifyStates(
  before: LoadedModel,
  after: LoadedModel,
  inputShapes?: ReadonlyMap<string, readonly number[]>,
  /** `modelLens.dataFolder` for this model: its samples instead of random ones. */
  dataFolder?: string,
  /**
   * The folder's evaluation part, when the state before the fix had its effects measured on the
   * calibration part (measuredEffects.ts): the fix is judged on samples it was not chosen on.
   */
  evaluation?: { sets: readonly InputSet[]; labels?: readonly number[]; note: string },
): Promise<VerifyFixResult> {
  // ONNX Runtime reads external data relative to a model file, and these states live in memory:
  // hand it self-contained copies, which fit in one protobuf below 2 GiB.
  const tooLarge = [before, after].some(
    (l) => externalDataBytes(l.model, l.external) + l.fileBytes >= PROTOBUF_LIMIT_BYTES,
  );
  if (tooLarge) {
    return {
      ok: false,
      line: 'not verified: with its external data the model exceeds 2 GiB, which ONNX Runtime reads only next to a saved model; save, then run `model-lens verify ORIGINAL SAVED`',
      markdown: '',
    };
  }
  const selfContained = (l: LoadedModel): Uint8Array =>
    encodeModel(inlineExternalData(l.model, l.external));
  try {
    const r = await verifyModels(selfContained(before), selfContained(after), {
      ...(evaluation
        ? { inputs: evaluation.sets, ...(evaluation.labels ? { labels: evaluation.labels } : {}) }
        : dataFolder !== undefined
          ? { inputsDir: dataFolder }
          : { samples: SAMPLES }),
      inputShapes,
    });
    const source = evaluation
      ? `${r.samples} samples of the data folder's evaluation part (${evaluation.note})`
      : sampleSource(r);
    const hostNote = r.hostKernels?.warning
      ? "; ONNX Runtime's optimised kernels on this machine differ (see the report)"
      : '';
    const lead = verificationLead(r);
    const line = `${lead}${hostNote}`;
    const warning = behaviourWarningText(r, 'editor');
    const markdown = [
      `**${capitalize(lead)}.**`,
      ...(warning ? ['', `**${warning}**`] : []),
      '',
      `Verified in ONNX Runtime on ${source}${r.seconds !== undefined ? ` in ${r.seconds.toFixed(2)} s` : ''}, against the model before the fix.`,
      '',
      '| | |',
      '|---|---|',
      ...verificationRows(r).map(([k, v]) => `| ${k.trim()} | ${v} |`),
      ...(r.hostKernels?.warning ? ['', `**Warning:** ${r.hostKernels.warning}`] : []),
    ].join('\n');
    // NaN: no output was finite, so nothing was shown (the notification becomes a warning).
    return { ok: !Number.isNaN(r.sqnrDb), line, markdown, ...(warning ? { warning } : {}) };
  } catch (e) {
    return { ok: false, line: `not verified: ${(e as Error).message}`, markdown: '' };
  }
}

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
