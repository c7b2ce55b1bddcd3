/**
 * `model-lens verify ORIGINAL COMPRESSED`: a thin wrapper over verifyModels. It leads with one
 * sentence (the accuracy change with labels, else SQNR and agreement), and a compressed model
 * that no longer behaves like the original gets a warning on stderr. Exit codes: 0 ok, 1 when the
 * SQNR is below `minSqnrDb`; a VerifyError propagates to main(), which prints it as one line and
 * exits 2.
 */
import * as path from 'node:path';
import { isTfliteFile } from '../core/modelFile';
import { loadModelFile, ModelLoadError } from '../core/onnx/load';
import { inputsDirNotes, inputSpecs, verifyModels, type VerifyResult } from '../core/verify';
import { UsageError } from './args';
import {
  behaviourWarningText,
  formatDb,
  sampleSource,
  verificationLead,
  verificationRows,
} from '../core/verify/summary';

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
            ...(r.labelled.top5Original !== undefined && r.labelled.top5Compressed !== undefined
              ? {
                  top5Original: finite(r.labelled.top5Original),
                  top5Compressed: finite(r.labelled.top5Compressed),
                }
              : {}),
            ...(r.labelled.mcnemar ? { mcnemar: { ...r.labelled.mcnemar } } : {}),
          },
          // The sentence the text output leads with; without labels it only restates the
          // fixed fields, so the default document leaves it out.
          lead: verificationLead(r),
        }
      : {}),
    // Only when the compressed model no longer behaves like the original.
    ...(r.warning ? { warning: r.warning } : {}),
    // Only for quantized models: ONNX Runtime's optimised kernels on the machine that verified.
    ...(r.hostKernels
      ? {
          hostKernels: {
            sqnrDb: finite(r.hostKernels.sqnrDb),
            top1Agreement: finite(r.hostKernels.top1Agreement),
            ...(r.hostKernels.accuracyCompressed !== undefined
              ? { accuracyCompressed: finite(r.hostKernels.accuracyCompressed) }
              : {}),
            ...(r.hostKernels.warning ? { warning: r.hostKernels.warning } : {}),
          },
        }
      : {}),
  };
}

export function formatVerify(r: VerifyResult, args: VerifyCommandArgs): string {
  const source = sampleSource(r, args.samplesDir);
  const time = r.seconds !== undefined ? ` · ${r.seconds.toFixed(2)} s` : '';
  const rows = verificationRows(r);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    verificationLead(r, args.samplesDir),
    `${path.basename(args.original)} → ${path.basename(args.compressed)} · ${source}${time}`,
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
  ];
  return lines.join('\n');
}

/**
 * What reading the samples folder assumes (an image folder without a full preprocess.json), on
 * stderr before the run, so that the figures are read knowing it. A model that does not load is
 * left to verifyModels, whose message names its role.
 */
function printFolderNotes(args: VerifyCommandArgs): void {
  let loaded;
  try {
    loaded = loadModelFile(args.original);
  } catch (e) {
    if (e instanceof ModelLoadError) return;
    throw e;
  }
  for (const note of inputsDirNotes(args.samplesDir!, inputSpecs(loaded, args.inputShapes))) {
    process.stderr.write(`model-lens: ${args.samplesDir}: ${note}\n`);
  }
}

export async function verifyCommand(args: VerifyCommandArgs): Promise<number> {
  for (const file of [args.original, args.compressed]) {
    if (isTfliteFile(file)) {
      throw new UsageError(
        `${path.basename(file)} is a TensorFlow Lite model: verification runs ONNX Runtime and is ONNX-only for now`,
      );
    }
  }
  if (args.samplesDir !== undefined) printFolderNotes(args);
  const result = await verifyModels(args.original, args.compressed, {
    inputShapes: args.inputShapes,
    inputsDir: args.samplesDir,
    samples: args.samples,
    seed: args.seed,
  });
  if (args.json) process.stdout.write(`${JSON.stringify(verifyJson(result))}\n`);
  else process.stdout.write(`${formatVerify(result, args)}\n`);
  const warning = behaviourWarningText(result, 'cli');
  if (warning) process.stderr.write(`model-lens: ${lowerFirst(warning)}\n`);
  if (result.hostKernels?.warning) {
    process.stderr.write(`model-lens: warning: ${result.hostKernels.warning}\n`);
  }
  // NaN SQNR (e.g. NaN in the original's outputs) cannot prove the threshold, so it fails too.
  if (args.minSqnrDb !== undefined && !(result.sqnrDb >= args.minSqnrDb)) {
    process.stderr.write(
      `model-lens: output SQNR ${formatDb(result.sqnrDb)} is below the required ${args.minSqnrDb} dB\n`,
    );
    return 1;
  }
  return 0;
}

const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);
