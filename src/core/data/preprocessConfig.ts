/**
 * `preprocess.json`: how the images of a data folder become the model's input tensor, in the
 * order torchvision's usual transforms apply it (Resize → CenterCrop → ToTensor → Normalize):
 *
 *   {
 *     "resize": 256,                 // shorter side to 256, keeping the aspect ratio; or [h, w]
 *     "crop": 224,                   // centre crop to 224×224; or [h, w]
 *     "scale": "1/255",              // pixel values times this (a number or "a/b"); default 1/255
 *     "mean": [0.485, 0.456, 0.406], // subtracted after scaling, per channel (or one number)
 *     "std": [0.229, 0.224, 0.225],  // then divided by, per channel (or one number)
 *     "channels": "rgb",             // "rgb", "bgr" or "grey" ("gray")
 *     "layout": "NCHW"               // or "NHWC"
 *   }
 *
 * Every field is optional; what is missing is derived from the model's input (preprocess.ts).
 * This module only reads and checks the file: a mistake is one message naming the file, and the
 * line of the field at fault, since the file is written by hand.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VerifyError } from '../verify/npy';

export type ColorMode = 'rgb' | 'bgr' | 'grey';
export type Layout = 'NCHW' | 'NHWC';
/** Height, width. */
export type Size = readonly [number, number];

export interface PreprocessConfig {
  /** A number: the shorter side becomes this (aspect kept); a pair: exactly this height, width. */
  readonly resize?: number | Size;
  readonly crop?: Size;
  readonly scale?: number;
  readonly mean?: readonly number[];
  readonly std?: readonly number[];
  readonly channels?: ColorMode;
  readonly layout?: Layout;
}

export const PREPROCESS_FILE = 'preprocess.json';

const FIELDS = ['resize', 'crop', 'scale', 'mean', 'std', 'channels', 'layout'] as const;

/** DIR/preprocess.json read and checked, or undefined when the folder has none. */
export function readPreprocessConfig(
  dir: string,
): { config: PreprocessConfig; file: string } | undefined {
  const file = path.join(dir, PREPROCESS_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new VerifyError(`${file}: cannot read (${(e as Error).message})`);
  }
  return { config: parsePreprocessConfig(text, file), file };
}

export function parsePreprocessConfig(text: string, file: string): PreprocessConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new VerifyError(`${file}: not valid JSON, ${jsonErrorWhere(text, e as Error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new VerifyError(`${file}: expected a JSON object such as {"resize": 256, "crop": 224}`);
  }
  const raw = parsed as Record<string, unknown>;
  const fail = (key: string, what: string): never => {
    throw new VerifyError(`${file}${lineOfKey(text, key)}: "${key}" ${what}`);
  };
  for (const key of Object.keys(raw)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      fail(key, `is not a preprocessing field (fields: ${FIELDS.join(', ')})`);
    }
  }
  const config: {
    -readonly [K in keyof PreprocessConfig]: PreprocessConfig[K];
  } = {};
  if (raw.resize !== undefined) {
    config.resize =
      typeof raw.resize === 'number'
        ? positiveInt(raw.resize, () => fail('resize', 'must be a positive integer or [h, w]'))
        : size(raw.resize, () => fail('resize', 'must be a positive integer or [h, w]'));
  }
  if (raw.crop !== undefined) {
    config.crop = size(raw.crop, () => fail('crop', 'must be a positive integer or [h, w]'));
  }
  if (raw.scale !== undefined) {
    config.scale = scale(raw.scale, () => fail('scale', 'must be a positive number or "a/b"'));
  }
  for (const key of ['mean', 'std'] as const) {
    const v = raw[key];
    if (v === undefined) continue;
    const values = typeof v === 'number' ? [v] : v;
    const ok =
      Array.isArray(values) &&
      (values.length === 1 || values.length === 3) &&
      values.every((x) => typeof x === 'number' && Number.isFinite(x)) &&
      (key === 'mean' || values.every((x) => (x as number) > 0));
    if (!ok) {
      fail(
        key,
        `must be a number or 3 numbers, one per channel${key === 'std' ? ', above 0' : ''}`,
      );
    }
    config[key] = values as number[];
  }
  if (raw.channels !== undefined) {
    const c = typeof raw.channels === 'string' ? raw.channels.toLowerCase() : undefined;
    if (c !== 'rgb' && c !== 'bgr' && c !== 'grey' && c !== 'gray') {
      fail('channels', 'must be "rgb", "bgr" or "grey"');
    }
    config.channels = c === 'gray' ? 'grey' : (c as ColorMode);
  }
  if (raw.layout !== undefined) {
    const l = typeof raw.layout === 'string' ? raw.layout.toUpperCase() : undefined;
    if (l !== 'NCHW' && l !== 'NHWC') fail('layout', 'must be "NCHW" or "NHWC"');
    config.layout = l as Layout;
  }
  return config;
}

function positiveInt(v: unknown, bad: () => never): number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : bad();
}

function size(v: unknown, bad: () => never): Size {
  if (typeof v === 'number') return [positiveInt(v, bad), v];
  if (!Array.isArray(v) || v.length !== 2) return bad();
  return [positiveInt(v[0], bad), positiveInt(v[1], bad)];
}

function scale(v: unknown, bad: () => never): number {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? v : bad();
  const m = typeof v === 'string' ? /^\s*([\d.]+)\s*\/\s*([\d.]+)\s*$/.exec(v) : null;
  const value = m ? Number(m[1]) / Number(m[2]) : NaN;
  return Number.isFinite(value) && value > 0 ? value : bad();
}

/**
 * "line 3, column 5 (Unexpected token })" from JSON.parse's error. Node 20 only gives the
 * character position ("… in JSON at position 42"), so line and column are counted here.
 */
function jsonErrorWhere(text: string, e: Error): string {
  const at = /at position (\d+)/.exec(e.message);
  const what = e.message
    .replace(/\s*in JSON at position \d+.*$/, '')
    .replace(/\s*\(line \d+ column \d+\)$/, '');
  if (!at) return `(${what})`;
  const before = text.slice(0, Number(at[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `line ${line}, column ${column} (${what})`;
}

/** ", line N" for the first line that names `"key"`, to point at a field in a hand-written file. */
function lineOfKey(text: string, key: string): string {
  const at = text.indexOf(JSON.stringify(key));
  return at < 0 ? '' : `, line ${text.slice(0, at).split('\n').length}`;
}
