/**
 * The verification a quick fix shows: both model states run in ONNX Runtime on the same seeded
 * random inputs (the verifier's defaults, as `model-lens verify` uses), summarised in one line
 * and reported in full on demand.
 */
import type { LoadedModel } from '../core/onnx/load';
import { encodeModel } from '../core/onnx/encode';
import { verifyModels } from '../core/verify';
import { formatAgreement, formatDb, sampleSource, verificationRows } from '../core/verify/summary';
import type { VerifyFixResult } from '../shared/protocol';

/** As `model-lens verify` by default. */
const SAMPLES = 8;

export async function verifyStates(
  before: LoadedModel,
  after: LoadedModel,
): Promise<VerifyFixResult> {
  // ONNX Runtime reads external data relative to a model file; these states live in memory.
  const external = [before, after].some((l) => l.model.graph.initializers.some((t) => t.external));
  if (external) {
    return {
      ok: false,
      line: 'not verified: the model keeps weights in external data files, which ONNX Runtime reads only next to a saved model; save, then run `model-lens verify ORIGINAL SAVED`',
      markdown: '',
    };
  }
  try {
    const r = await verifyModels(encodeModel(before.model), encodeModel(after.model), {
      samples: SAMPLES,
    });
    const source = sampleSource(r);
    const line = `output SQNR ${formatDb(r.sqnrDb)}, top-1 agreement ${formatAgreement(r.top1Agreement)} on ${source}`;
    const markdown = [
      `Verified in ONNX Runtime on ${source}${r.seconds !== undefined ? ` in ${r.seconds.toFixed(2)} s` : ''}, against the model before the fix.`,
      '',
      '| | |',
      '|---|---|',
      ...verificationRows(r).map(([k, v]) => `| ${k.trim()} | ${v} |`),
    ].join('\n');
    // NaN: no output was finite, so nothing was shown (the notification becomes a warning).
    return { ok: !Number.isNaN(r.sqnrDb), line, markdown };
  } catch (e) {
    return { ok: false, line: `not verified: ${(e as Error).message}`, markdown: '' };
  }
}
