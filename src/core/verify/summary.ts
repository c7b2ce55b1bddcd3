/**
 * How a verification reads, for people: the lead sentence, the rows and the warning the CLI
 * prints and the editor's notification and report show, so all say the same thing in the same
 * words.
 */
import type { LabelledMetrics } from './metrics';
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

/**
 * The one sentence every verification leads with. With labels, the change in top-1 accuracy and
 * whether McNemar's test finds it significant, on how many labelled rows:
 * "top-1 94.4% → 94.2% (−0.2 pt, not significant) on 1,000 labelled samples". Without, the output
 * SQNR and top-1 agreement: "output SQNR 37.4 dB, top-1 agreement 100.0% on 8 random samples".
 */
export function verificationLead(r: VerifyResult, samplesDir?: string): string {
  const l = r.labelled;
  if (!l) {
    return `output SQNR ${formatDb(r.sqnrDb)}, top-1 agreement ${formatAgreement(r.top1Agreement)} on ${sampleSource(r, samplesDir)}`;
  }
  const rows = labelledRows(l);
  const verdict = l.mcnemar ? `, ${l.mcnemar.significant ? 'significant' : 'not significant'}` : '';
  return (
    `top-1 ${formatAgreement(l.accuracyOriginal)} → ${formatAgreement(l.accuracyCompressed)} ` +
    `(${formatPointChange(l.accuracyCompressed - l.accuracyOriginal)}${verdict}) ` +
    `on ${rows.toLocaleString('en-US')} labelled sample${rows === 1 ? '' : 's'}`
  );
}

/** Labelled rows: every one is counted once in the confusion matrix. */
function labelledRows(l: LabelledMetrics): number {
  return l.confusion.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
}

/** A change of accuracy in percentage points, signed: "−0.2 pt", "+1.5 pt", "±0.0 pt". */
export function formatPointChange(change: number): string {
  if (Number.isNaN(change)) return 'n/a';
  const text = Math.abs(change * 100).toFixed(1);
  if (text === '0.0') return '±0.0 pt';
  return `${change < 0 ? '−' : '+'}${text} pt`;
}

/** A p-value as people read it: two significant digits, "< 0.001" below that. */
export function formatPValue(p: number): string {
  if (Number.isNaN(p)) return 'n/a';
  return p < 0.001 ? '< 0.001' : `= ${Number(p.toPrecision(2))}`;
}

/** What to do about a behaviour warning, in each place one is shown. */
const REMEDY = {
  editor: 'Undo (Ctrl+Z) or choose a milder setting.',
  cli: 'Compress again with a milder setting (more bits, per-channel, less pruning).',
} as const;

/**
 * The behaviour warning (verify.ts behaviourWarning) as a full sentence with the way back:
 * "Warning: the compressed model now disagrees with the original on 31.0% of inputs — it no
 * longer behaves like the original. Undo (Ctrl+Z) or choose a milder setting."
 */
export function behaviourWarningText(
  r: Pick<VerifyResult, 'warning'>,
  where: keyof typeof REMEDY,
): string | undefined {
  return r.warning ? `Warning: ${r.warning}. ${REMEDY[where]}` : undefined;
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
    if (l.mcnemar) {
      const m = l.mcnemar;
      rows.push([
        'top-1 change',
        `${formatPointChange(l.accuracyCompressed - l.accuracyOriginal)}, ${m.significant ? 'significant' : 'not significant'} (exact McNemar p ${formatPValue(m.p)}; ${m.b} right only before, ${m.c} right only after)`,
      ]);
    }
    if (l.top5Original !== undefined && l.top5Compressed !== undefined) {
      rows.push([
        'top-5 accuracy',
        `${formatAgreement(l.top5Original)} → ${formatAgreement(l.top5Compressed)}`,
      ]);
    }
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
