/**
 * How a verification reads, for people: the rows the CLI prints and the editor's notification and
 * report show, so both say the same thing in the same words.
 */
import type { VerifyResult } from './verify';

export function formatDb(v: number): string {
  if (v === Infinity) return '∞ dB (identical outputs)';
  if (v === -Infinity) return '−∞ dB';
  return Number.isNaN(v) ? 'n/a' : `${v.toFixed(1)} dB`;
}

/** An error magnitude: fixed decimals in the usual range, exponent outside it. */
export function formatError(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  return Math.abs(v) >= 0.01 && Math.abs(v) < 1e5 ? v.toFixed(4) : v.toExponential(3);
}

export function formatAgreement(v: number): string {
  return Number.isNaN(v) ? 'n/a' : `${(v * 100).toFixed(1)}%`;
}

/** Label → value rows: SQNR, max error, cosine, top-1, then labelled metrics and per-output SQNR. */
export function verificationRows(r: VerifyResult): [string, string][] {
  const rows: [string, string][] = [
    ['SQNR', formatDb(r.sqnrDb)],
    ['max |error|', formatError(r.maxAbsError)],
    ['cosine', r.cosine === 1 ? '1' : r.cosine.toFixed(6)],
    ['top-1 agreement', formatAgreement(r.top1Agreement)],
  ];
  if (r.labelled) {
    const l = r.labelled;
    rows.push([
      'accuracy',
      `${formatAgreement(l.accuracyOriginal)} → ${formatAgreement(l.accuracyCompressed)}`,
    ]);
    rows.push(['Cohen kappa', Number.isNaN(l.kappa) ? 'n/a' : l.kappa.toFixed(3)]);
    rows.push(['recall', l.recall.map((v) => (Number.isNaN(v) ? '–' : v.toFixed(2))).join(' ')]);
  }
  if (r.perOutput && r.perOutput.length > 1) {
    for (const o of r.perOutput) rows.push([`  ${o.name}`, formatDb(o.sqnrDb)]);
  }
  if (r.hostKernels) rows.push(['ORT optimised kernels', hostKernelFigures(r.hostKernels)]);
  return rows;
}

/**
 * The second figure, on this machine's optimised ONNX Runtime kernels, labelled as such; the
 * rows above it are the model as written, the same on every machine.
 */
function hostKernelFigures(h: NonNullable<VerifyResult['hostKernels']>): string {
  const parts = [formatDb(h.sqnrDb), `top-1 ${formatAgreement(h.top1Agreement)}`];
  if (h.accuracyCompressed !== undefined) {
    parts.push(`accuracy ${formatAgreement(h.accuracyCompressed)}`);
  }
  return `${parts.join(', ')} (this machine${h.warning ? ', differs: see the warning' : ''})`;
}

/** "8 random samples" or "8 samples from DIR". */
export function sampleSource(r: VerifyResult, samplesDir?: string): string {
  const plural = r.samples === 1 ? '' : 's';
  return r.inputSource === 'folder' || samplesDir
    ? `${r.samples} sample${plural} from ${samplesDir ?? 'your folder'}`
    : `${r.samples} random sample${plural}`;
}
