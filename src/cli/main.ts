/**
 * model-lens: the headless analyzer for CI. A thin wrapper over src/core: it parses arguments,
 * calls analyze, and prints a table or JSON. Exit codes: 0 ok, 1 check failed, 2 bad input.
 */
import * as fs from 'node:fs';
import { analyzeLoaded, analyzeLoadedAsync, type AnalysisReport } from '../core/analyze';
import {
  BUILTIN_DEVICES,
  findDevice,
  loadDeviceProfiles,
  type DeviceProfile,
} from '../core/devices';
import { formatBytes, formatPercent, formatSeconds } from '../core/format';
import { loadAnyModel } from '../core/modelFile';
import { layerTable, layerTableCsv } from '../core/text/layerTable';
import { USAGE, UsageError, parseCli, type CliOptions } from './args';
import { formatReport } from './report';
import { renderTable } from './table';
import { toJson } from './json';
import { compressCommand, verifyCommand } from './deferred';
import { textCommand } from './textCommand';
import { lspCommand } from './lspCommand';

declare const MODEL_LENS_VERSION: string | undefined;

async function main(argv: readonly string[]): Promise<number> {
  const options = parseCli(argv);
  switch (options.command) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'version':
      process.stdout.write(
        `${typeof MODEL_LENS_VERSION === 'string' ? MODEL_LENS_VERSION : 'dev'}\n`,
      );
      return 0;
    case 'devices':
      return listDevices(options);
    case 'verify':
      return verifyCommand({
        original: options.file!,
        compressed: options.compared!,
        inputShapes: options.inputShapes,
        samplesDir: options.samplesDir,
        json: options.json,
      });
    case 'compress':
      return compressCommand(options.file!, options.compress!, options.json, {
        profiles: options.compress?.fitDevice !== undefined ? deviceProfiles(options) : undefined,
        errorTargetDb: options.errorTargetDb,
      });
    case 'text':
      return textCommand(options.file!);
    case 'lsp':
      // Serves until the client sends exit (or closes stdin); the server ends the process.
      await lspCommand();
      return 0;
    default:
      return analyzeCommand(options);
  }
}

function deviceProfiles(options: CliOptions): DeviceProfile[] {
  if (!options.devicesFile) return [...BUILTIN_DEVICES];
  let text: string;
  try {
    text = fs.readFileSync(options.devicesFile, 'utf8');
  } catch {
    throw new UsageError(`--devices ${options.devicesFile}: cannot read the file`);
  }
  return loadDeviceProfiles(text, options.devicesFile);
}

/**
 * The device profiles; with a model, also its fit on each one (which devices can run it), from
 * the same analysis `check` runs, the model read once.
 */
function listDevices(options: CliOptions): number {
  const devices = deviceProfiles(options);
  const loaded = options.file ? loadAnyModel(options.file) : undefined;
  const fits = devices.map((device) =>
    loaded
      ? analyzeLoaded(loaded, {
          device,
          inputShapes: options.inputShapes,
          errorTargetDb: options.errorTargetDb,
          // The verdict needs no bit-width hints: skip reading every weight once per device.
          skipBitHints: true,
        }).device
      : undefined,
  );
  if (options.json) {
    const out = devices.map((d, i) => {
      const f = fits[i];
      return f
        ? {
            ...d,
            fit: {
              fits: f.fits,
              weightUse: f.weightUse,
              ramUse: f.ramUse,
              latencySeconds: f.latencySeconds,
              energyJoules: f.energyJoules,
            },
          }
        : d;
    });
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  const rows = devices.map((d, i) => {
    const f = fits[i];
    const fit = f
      ? [
          f.fits ? 'fits' : 'DOES NOT FIT',
          formatPercent(f.weightUse),
          formatPercent(f.ramUse),
          !f.latencyIsLowerBound
            ? formatSeconds(f.latencySeconds)
            : f.latencySeconds > 0
              ? `≥${formatSeconds(f.latencySeconds)}`
              : 'unknown',
        ]
      : [];
    return [
      d.id,
      d.name,
      formatBytes(d.ramBytes),
      formatBytes(d.flashBytes),
      d.supportedWeightBits.join('/'),
      ...fit,
    ];
  });
  const columns = [
    { title: 'id' },
    { title: 'name' },
    { title: 'RAM', align: 'right' as const },
    { title: 'flash', align: 'right' as const },
    { title: 'weight bits' },
    ...(loaded
      ? [
          { title: 'verdict' },
          { title: 'flash use', align: 'right' as const },
          { title: 'RAM use', align: 'right' as const },
          { title: 'latency', align: 'right' as const },
        ]
      : []),
  ];
  process.stdout.write(`${renderTable(columns, rows).join('\n')}\n`);
  return 0;
}

async function analyzeCommand(options: CliOptions): Promise<number> {
  const device = options.device ? findDevice(options.device, deviceProfiles(options)) : undefined;
  const report: AnalysisReport = await analyzeLoadedAsync(loadAnyModel(options.file!), {
    inputShapes: options.inputShapes,
    device,
    errorTargetDb: options.errorTargetDb,
    countBiasFlops: options.biasFlops,
    weightFormats: options.json,
    convention: options.convention,
  });
  const inputErrors = report.diagnostics.filter((d) => d.message.startsWith('--input'));
  if (inputErrors.length > 0) throw new UsageError(inputErrors[0].message);
  if (options.json) process.stdout.write(`${JSON.stringify(toJson(report))}\n`);
  else if (options.csv) process.stdout.write(layerTableCsv(layerTable(report)));
  else process.stdout.write(`${formatReport(report, options.top)}\n`);
  if (options.command === 'check' && report.device && !report.device.fits) return 1;
  return 0;
}

/** One line on stderr, never a stack trace: users read this in CI logs. */
function fail(e: unknown): number {
  const message = e instanceof Error ? e.message : String(e);
  // Our own error classes (ModelLoadError, GraphError, CompressionRefusal …) carry a message for
  // the user; anything else is a bug, said as such.
  const builtin = new Set(['Error', 'TypeError', 'RangeError', 'ReferenceError', 'SyntaxError']);
  const known = e instanceof Error && /(Error|Refusal)$/.test(e.name) && !builtin.has(e.name);
  const line = (known ? message : `internal error: ${message}`).replace(/\s*\n\s*/g, ' ');
  process.stderr.write(`model-lens: ${line}\n`);
  return 2;
}

// `model-lens devices | head` closes the pipe early; that is not an error worth a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.exitCode = fail(e);
  },
);
