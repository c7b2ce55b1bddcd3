/** Command-line parsing for model-lens, on Node's built-in util.parseArgs. */
import { parseArgs } from 'node:util';

/** A usage mistake: reported as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface CliOptions {
  readonly command: 'analyze' | 'check' | 'devices' | 'help' | 'version';
  readonly file?: string;
  readonly json: boolean;
  readonly device?: string;
  readonly devicesFile?: string;
  readonly inputShapes: Map<string, number[]>;
  readonly errorTargetDb?: number;
  readonly top: number;
  readonly biasFlops: boolean;
}

export const USAGE = `Usage:
  model-lens analyze FILE [--device ID] [--input NAME=1x3x224x224 ...] [--json]
  model-lens check FILE --device ID [--input NAME=DIMS ...] [--json]
  model-lens devices [--devices FILE] [--json]

Options:
  --device ID          check the fit rules and estimate latency/energy on this device
  --devices FILE       JSON file with your own device profiles (added to the built-ins)
  --input NAME=DIMS    fix the dimensions of an input (symbolic dimensions count as 1 otherwise)
  --json               machine-readable output
  --error-target DB    weight SQNR a suggested bit-width must keep (default 30)
  --top N              layers listed in the table (default 10)
  --no-bias-flops      leave bias additions out of FLOPs

Exit codes: 0 ok, 1 the check failed (does not fit), 2 bad input.`;

export function parseCli(argv: readonly string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        device: { type: 'string' },
        devices: { type: 'string' },
        input: { type: 'string', multiple: true, default: [] },
        'error-target': { type: 'string' },
        top: { type: 'string' },
        'no-bias-flops': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
  const { values, positionals } = parsed;
  if (values.help) return base('help', values);
  if (values.version) return base('version', values);
  const [command, file, ...rest] = positionals;
  if (!command) return base('help', values);
  if (command !== 'analyze' && command !== 'check' && command !== 'devices') {
    throw new UsageError(`unknown command '${command}' (expected analyze, check or devices)`);
  }
  if (command !== 'devices' && !file) throw new UsageError(`${command} needs a model file`);
  if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
  if (command === 'check' && !values.device) throw new UsageError('check needs --device ID');
  return { ...base(command, values), file };
}

type Values = {
  json?: boolean;
  device?: string;
  devices?: string;
  input?: string[];
  'error-target'?: string;
  top?: string;
  'no-bias-flops'?: boolean;
};

function base(command: CliOptions['command'], values: Values): CliOptions {
  return {
    command,
    json: values.json ?? false,
    device: values.device,
    devicesFile: values.devices,
    inputShapes: parseInputShapes(values.input ?? []),
    errorTargetDb:
      values['error-target'] === undefined
        ? undefined
        : parseNumber(values['error-target'], '--error-target'),
    top: values.top === undefined ? 10 : Math.max(0, Math.floor(parseNumber(values.top, '--top'))),
    biasFlops: !values['no-bias-flops'],
  };
}

function parseNumber(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n)) throw new UsageError(`${flag} expects a number, got '${text}'`);
  return n;
}

/** NAME=1x3x224x224 (also accepts commas): positive integer dims. */
export function parseInputShapes(specs: readonly string[]): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const spec of specs) {
    const eq = spec.lastIndexOf('=');
    if (eq <= 0)
      throw new UsageError(`--input expects NAME=DIMS such as input=1x3x224x224, got '${spec}'`);
    const name = spec.slice(0, eq);
    const dimsText = spec.slice(eq + 1);
    const dims = dimsText === '' ? [] : dimsText.split(/[x,×]/).map(Number);
    if (dims.some((d) => !Number.isSafeInteger(d) || d <= 0)) {
      throw new UsageError(
        `--input ${name}: dimensions must be positive integers, got '${dimsText}'`,
      );
    }
    shapes.set(name, dims);
  }
  return shapes;
}
