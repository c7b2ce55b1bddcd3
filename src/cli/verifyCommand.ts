/**
 * `model-lens verify ORIGINAL COMPRESSED`: a thin wrapper over verifyModels. Exit codes: 0 ok,
 * 1 when the SQNR is below `minSqnrDb`; a VerifyError propagates to main(), which prints it as
 * one line and exits 2.
 */
import * as path from 'node:path';
import { verifyModels, type VerifyResult } from '../core/verify';

export interface VerifyCommandArgs {
  original: string;
  compressed: string;
  inputShapes: Map<string, number[]>;
  /** A folder of .npy / .pb inputs, or of sample subfolders (see src/core/verify/inputs.ts). */
  samplesDir?: string;
  json: boolean;
  minSqnrDb?: number;
  /** Random samples when there is no samplesDir (default 8). */
  samples?: number;
  seed?: number;
}

/** JSON has no Infinity or NaN: an exact match (SQNR Infinity) becomes null. */
const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** The `--json` document (product.md "Fixed interfaces"); change it only additively. */
export function verifyJson(r: VerifyResult): unknown {
  return {
    sqnrDb: finite(r.sqnrDb),
    maxAbsError: finite(r.maxAbsError),
    cosine: finite(r.cosine),
    top1Agreement: finite(r.top1Agreement),
    samples: r.samples,
    // Only with labels (labels.json / labels.txt in the samples folder), so the default
    // document stays exactly the five fixed fields.
    ...(r.labelled
      ? {
          labelled: {
            accuracyOriginal: finite(r.labelled.accuracyOriginal),
            accuracyCompressed: finite(r.labelled.accuracyCompressed),
            recall: r.labelled.recall.map(finite),
            confusion: r.labelled.confusion,
            kappa: finite(r.labelled.kappa),
          },
        }
      : {}),
  };
}

function db(v: number): string {
  if (v === Infinity) return '∞ dB (identical outputs)';
  if (v === -Infinity) return '−∞ dB';
  return Number.isNaN(v) ? 'n/a' : `${v.toFixed(1)} dB`;
}

function num(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  return Math.abs(v) >= 0.01 && Math.abs(v) < 1e5 ? v.toFixed(4) : v.toExponential(3);
}

const pct = (v: number): string => (Number.isNaN(v) ? 'n/a' : `${(v * 100).toFixed(1)}%`);

export function formatVerify(r: VerifyResult, args: VerifyCommandArgs): string {
  const source =
    r.inputSource === 'folder' || args.samplesDir
      ? `${r.samples} sample${r.samples === 1 ? '' : 's'} from ${args.samplesDir}`
      : `${r.samples} random sample${r.samples === 1 ? '' : 's'}`;
  const time = r.seconds !== undefined ? ` · ${r.seconds.toFixed(2)} s` : '';
  const rows: [string, string][] = [
    ['SQNR', db(r.sqnrDb)],
    ['max |error|', num(r.maxAbsError)],
    ['cosine', r.cosine === 1 ? '1' : r.cosine.toFixed(6)],
    ['top-1 agreement', pct(r.top1Agreement)],
  ];
  if (r.labelled) {
    const l = r.labelled;
    rows.push(['accuracy', `${pct(l.accuracyOriginal)} → ${pct(l.accuracyCompressed)}`]);
    rows.push(['Cohen kappa', Number.isNaN(l.kappa) ? 'n/a' : l.kappa.toFixed(3)]);
    rows.push(['recall', l.recall.map((v) => (Number.isNaN(v) ? '–' : v.toFixed(2))).join(' ')]);
  }
  if (r.perOutput && r.perOutput.length > 1) {
    for (const o of r.perOutput) rows.push([`  ${o.name}`, db(o.sqnrDb)]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    `${path.basename(args.original)} → ${path.basename(args.compressed)} · ${source}${time}`,
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
  ];
  return lines.join('\n');
}

export async function verifyCommand(args: VerifyCommandArgs): Promise<number> {
  const result = await verifyModels(args.original, args.compressed, {
    inputShapes: args.inputShapes,
    inputsDir: args.samplesDir,
    samples: args.samples,
    seed: args.seed,
  });
  if (args.json) process.stdout.write(`${JSON.stringify(verifyJson(result))}\n`);
  else process.stdout.write(`${formatVerify(result, args)}\n`);
  // NaN SQNR (e.g. NaN in the original's outputs) cannot prove the threshold, so it fails too.
  if (args.minSqnrDb !== undefined && !(result.sqnrDb >= args.minSqnrDb)) {
    process.stderr.write(
      `model-lens: output SQNR ${db(result.sqnrDb)} is below the required ${args.minSqnrDb} dB\n`,
    );
    return 1;
  }
  return 0;
}
